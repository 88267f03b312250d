package hybridclientstest

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/ocs-go/identity/internal/idserver"
)

// The fake tenant's first user, who can always sign in.
const (
	DefaultUserName  = "Ada Lovelace"
	DefaultUserEmail = "ada@example.com"
)

// User is a person who can sign in to the fake tenant on its sign-in page.
type User struct {
	// Subject is the user's stable id, the ID token's sub claim. Leave it empty on AddUser
	// to get a new GUID.
	Subject string
	// Name is the display name: the name claim, and what the sign-in page lists. Required.
	Name string
	// Email is the email claim; optional.
	Email string
	// Claims are more claims for the ID token and userinfo, each a JSON value. They may not
	// replace a claim the fake sets itself (sub, iss, aud, exp, iat, nonce, name, email, ...).
	Claims map[string]any
	// Role is what the user's access token (granted the ocsapi scope) may do with the
	// management API; zero means RoleNone (every API call is 403).
	Role Role
}

// AddUser adds a user to the fake tenant and returns it with its Subject. It refuses an
// empty Name, a Subject in use and a claim the fake sets itself.
func (s *Server) AddUser(u User) (User, error) {
	got, err := s.em.AddUser(s.TenantID, u.toEmulator())
	if err != nil {
		return User{}, fmt.Errorf("hybridclientstest: AddUser: %w", err)
	}
	return userFrom(got), nil
}

// Users returns the users who can sign in, in the order added: the default user (Name
// DefaultUserName) first.
func (s *Server) Users() []User {
	in := s.em.Users(s.TenantID)
	out := make([]User, len(in))
	for i, u := range in {
		out[i] = userFrom(u)
	}
	return out
}

// Issuer is the fake's OpenID issuer, URL + "/identity": what go-oidc's NewProvider takes
// and what the ID tokens' iss claim holds.
func (s *Server) Issuer() string { return s.URL + "/identity" }

// SignInError is the fake's answer when it shows its error page instead of sending the
// browser back to the application (a client or redirect URI it cannot trust).
type SignInError struct {
	Status      int    // the page's HTTP status (400)
	Code        string // the OAuth error code, as the page's #error-code shows it
	Description string // the page's #error-description
}

// Error names the page's error code and description.
func (e *SignInError) Error() string {
	return fmt.Sprintf("hybridclientstest: the sign-in page shows error %s: %s", e.Code, e.Description)
}

var (
	requestField = regexp.MustCompile(`name="request" value="([^"]*)"`)
	errorCode    = regexp.MustCompile(`id="error-code">([^<]*)<`)
	errorDesc    = regexp.MustCompile(`id="error-description">([^<]*)<`)
	signInError  = regexp.MustCompile(`id="signin-error"[^>]*>([^<]*)<`)
)

// SignIn does over HTTP what a person does in a browser: it opens authURL (an
// authorization URL of this fake, as an application builds it), picks the user on the
// sign-in page and submits it. user is a Subject, Name or Email of one of Users; empty
// means the default user. It returns the URL the browser is then sent to, without
// opening it: the application's redirect URI with code and state (or error) in its query
// or fragment, whether an https, a loopback http or a native app's private-use URI
// (com.example.app:/oauth2redirect?code=...&state=...). When the fake shows its error
// page instead, the error is a *SignInError. It does not work with
// response_mode=form_post, which needs a browser. [Server.CancelSignIn] presses Cancel
// instead.
func (s *Server) SignIn(ctx context.Context, authURL, user string) (*url.URL, error) {
	if user == "" {
		user = DefaultUserEmail
	}
	return s.signInPage(ctx, "SignIn", authURL, url.Values{"action": {"signin"}, "username": {user}})
}

// CancelSignIn does what a person does who opens authURL and presses Cancel on the
// sign-in page instead of signing in. It returns the URL the browser is then sent to,
// without opening it: the application's redirect URI with error=access_denied and the
// request's state, which the application's callback must handle. Otherwise it is
// [Server.SignIn].
func (s *Server) CancelSignIn(ctx context.Context, authURL string) (*url.URL, error) {
	return s.signInPage(ctx, "CancelSignIn", authURL, url.Values{"action": {"cancel"}})
}

// signInPage opens authURL, submits the sign-in page with form (its action and user) and
// returns where the browser is sent. op names the caller in errors.
func (s *Server) signInPage(ctx context.Context, op, authURL string, form url.Values) (*url.URL, error) {
	switch {
	case s == nil || s.em == nil:
		return nil, fmt.Errorf("hybridclientstest: %s: the Server must be made with Start or NewServer", op)
	case ctx == nil:
		return nil, fmt.Errorf("hybridclientstest: %s: the context must not be nil (use context.Background())", op)
	case !strings.HasPrefix(authURL, s.URL+"/"):
		return nil, fmt.Errorf("hybridclientstest: %s: the authorization URL is not on this fake (%s)", op, s.URL)
	}
	hc := idserver.NewClient(http.DefaultTransport, 0) // the redirects are the answers it returns
	status, loc, body, err := s.visit(ctx, hc, op, http.MethodGet, authURL, nil)
	if err != nil {
		return nil, err
	}
	if loc != nil {
		return loc, nil // an error sent back to the application, e.g. invalid_scope
	}
	if status != http.StatusOK {
		return nil, pageError(op, status, body)
	}
	m := requestField.FindStringSubmatch(body)
	if m == nil {
		return nil, fmt.Errorf("hybridclientstest: %s: the answer is not the sign-in page", op)
	}
	form.Set("request", html.UnescapeString(m[1]))
	status, loc, body, err = s.visit(ctx, hc, op, http.MethodPost, s.URL+"/identity/account/login", form)
	if err != nil {
		return nil, err
	}
	if loc != nil {
		return loc, nil
	}
	if m := signInError.FindStringSubmatch(body); m != nil {
		return nil, fmt.Errorf("hybridclientstest: %s: %s", op, html.UnescapeString(m[1]))
	}
	return nil, pageError(op, status, body)
}

// visit sends one request and returns the status, the redirect's Location (if any) and the body.
func (s *Server) visit(ctx context.Context, hc *http.Client, op, method, u string, form url.Values) (int, *url.URL, string, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return 0, nil, "", fmt.Errorf("hybridclientstest: %s: %w", op, err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := hc.Do(req)
	if err != nil {
		return 0, nil, "", fmt.Errorf("hybridclientstest: %s: %w", op, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return 0, nil, "", fmt.Errorf("hybridclientstest: %s: reading the page: %w", op, err)
	}
	if res.StatusCode == http.StatusFound {
		loc, err := res.Location()
		if err != nil {
			return 0, nil, "", fmt.Errorf("hybridclientstest: %s: a redirect without a valid Location: %w", op, err)
		}
		return res.StatusCode, loc, string(raw), nil
	}
	return res.StatusCode, nil, string(raw), nil
}

func pageError(op string, status int, body string) error {
	e := &SignInError{Status: status}
	if m := errorCode.FindStringSubmatch(body); m != nil {
		e.Code = html.UnescapeString(m[1])
	}
	if m := errorDesc.FindStringSubmatch(body); m != nil {
		e.Description = html.UnescapeString(m[1])
	}
	if e.Code == "" {
		return fmt.Errorf("hybridclientstest: %s: unexpected answer, status %d", op, status)
	}
	return e
}
