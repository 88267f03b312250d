package idserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/rules"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// Road is the way to the identity server of one Resource. It implements
// identity.TokenEndpoint. It is safe for concurrent use.
type Road struct {
	resource *url.URL
	retrying *http.Client // discovery and client credentials
	once     *http.Client // authorization codes and refresh tokens; handed to go-oidc
	maxDoc   int64
}

// New returns the road to resource's identity server. base is Config.HTTPClient: only
// its Transport and Timeout are used (Base). retry, when not nil, wraps a client into the
// RoundTripper of the requests that may be repeated (discovery, client credentials); the
// transport gives its retry policy. maxDoc bounds the discovery document.
func New(resource *url.URL, base *http.Client, retry func(*http.Client) http.RoundTripper, maxDoc int64) *Road {
	rt, timeout := Base(base)
	r := &Road{resource: resource, once: NewClient(rt, timeout), maxDoc: maxDoc}
	r.retrying = r.once
	if retry != nil {
		// Each attempt has the timeout; the retries as a whole are bounded by the context.
		r.retrying = NewClient(retry(r.once), 0)
	}
	return r
}

// HTTPClient is the client of the requests sent once, for go-oidc's discovery, keys and
// userinfo requests: it refuses redirects like every client of the road.
func (r *Road) HTTPClient() *http.Client { return r.once }

// ready refuses a nil Road and a nil context, instead of a panic.
func (r *Road) ready(ctx context.Context) error {
	if r == nil || r.resource == nil {
		return &identity.ValidationError{Field: "TokenRequest.Endpoint", Rule: "must be the SDK's (the transport fills it in)", Value: nil}
	}
	if ctx == nil {
		return NilContext()
	}
	return nil
}

// NilContext is the error of a call given a nil context, instead of a panic (a new value
// each time: a caller may change what it gets).
func NilContext() error {
	return &identity.ValidationError{Field: "Ctx", Rule: "must not be nil (use context.Background())", Value: nil}
}

// Document is what the SDK reads of the identity server's OpenID discovery document.
type Document struct {
	Issuer        string `json:"issuer"`
	Authorization string `json:"authorization_endpoint"`
	Token         string `json:"token_endpoint"`
	JWKS          string `json:"jwks_uri"`
	UserInfo      string `json:"userinfo_endpoint"`
	EndSession    string `json:"end_session_endpoint"`
}

// Document fields by their names in the document.
const (
	FieldIssuer        = "issuer"
	FieldAuthorization = "authorization_endpoint"
	FieldToken         = "token_endpoint"
	FieldJWKS          = "jwks_uri"
)

func (d *Document) fields() []struct{ name, value string } {
	return []struct{ name, value string }{
		{FieldAuthorization, d.Authorization}, {FieldToken, d.Token}, {FieldJWKS, d.JWKS},
		{"userinfo_endpoint", d.UserInfo}, {"end_session_endpoint", d.EndSession},
	}
}

// Discover reads and checks the resource's discovery document: need names the fields the
// caller requires (Field...). The issuer, when named, must be {resource}/identity (OpenID
// Connect Discovery 1.0, section 4.3), and every endpoint named must be on the resource's
// origin. Retried as the road's retry allows.
func (r *Road) Discover(ctx context.Context, need ...string) (*Document, error) {
	return r.discover(ctx, "", need)
}

// TokenURL returns the token endpoint the discovery document names. It implements
// identity.TokenEndpoint.
func (r *Road) TokenURL(ctx context.Context) (string, error) {
	doc, err := r.discover(ctx, "; set ClientCredentialsOptions.TokenURL to trust it", []string{FieldToken})
	if err != nil {
		return "", rules.Prefixed(endpointPackage, err)
	}
	return doc.Token, nil
}

// endpointPackage names the errors of the identity.TokenEndpoint methods: a custom
// Credentials calls them as methods of package identity.
const endpointPackage = "identity"

// discover is Discover; hint ends the message of an endpoint off the resource's origin.
func (r *Road) discover(ctx context.Context, hint string, need []string) (*Document, error) {
	if err := r.ready(ctx); err != nil {
		return nil, err
	}
	u := r.at("identity/.well-known/openid-configuration")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := r.retrying.Do(req)
	if err != nil {
		return nil, ConnectionError(http.MethodGet, u.Path, err)
	}
	defer drain(resp.Body)
	body, err := io.ReadAll(io.LimitReader(resp.Body, r.maxDoc+1))
	if err != nil {
		return nil, ConnectionError(http.MethodGet, u.Path, err)
	}
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		return nil, redirectRefused("OpenID discovery", u.String(), resp)
	}
	if resp.StatusCode != http.StatusOK {
		e := &identity.Error{StatusCode: resp.StatusCode, Method: http.MethodGet, Path: u.Path, Excerpt: string(body[:min(len(body), 256)])}
		if resp.StatusCode == http.StatusNotFound {
			e.Resolution = "no identity service there: " + CheckResource
		}
		return nil, e
	}
	fail := func(tooLarge bool, format string, args ...any) (*Document, error) {
		return nil, &identity.ResponseError{StatusCode: resp.StatusCode, Method: http.MethodGet, Path: u.Path, TooLarge: tooLarge, Err: fmt.Errorf(format, args...)}
	}
	if int64(len(body)) > r.maxDoc {
		return fail(true, "discovery document larger than %d bytes", r.maxDoc)
	}
	var doc Document
	if err := json.Unmarshal(body, &doc); err != nil {
		return fail(false, "discovery document is not a JSON object")
	}
	if doc.Issuer != "" {
		want := r.at("identity")
		if is, err := url.Parse(doc.Issuer); err != nil || !rules.SameURL(is, want) {
			return fail(false, "issuer %q is not %q (OpenID Connect Discovery 1.0, section 4.3)", doc.Issuer, want)
		}
	}
	have := map[string]bool{FieldIssuer: doc.Issuer != ""}
	for _, f := range doc.fields() {
		if f.value == "" {
			continue
		}
		have[f.name] = true
		p, err := url.Parse(f.value)
		if err != nil || !rules.SameOrigin(p, r.resource) || p.User != nil || p.Fragment != "" {
			return fail(false, "%s %q is not on %s%s", f.name, f.value, rules.Origin(r.resource), hint)
		}
	}
	for _, n := range need {
		if !have[n] {
			return fail(false, "no %s in the discovery document", n)
		}
	}
	return &doc, nil
}

// at returns the URL of p on the resource. The path is rooted: JoinPath keeps a resource's
// empty path relative ("identity/..."), which String mends but an error's Path would show.
func (r *Road) at(p string) *url.URL {
	u := r.resource.JoinPath(p)
	if !strings.HasPrefix(u.Path, "/") {
		u.Path, u.RawPath = "/"+u.Path, ""
	}
	return u
}

// ClientCredentials asks tokenURL for a token with the client-credentials grant, as
// clientID with secret. It implements identity.TokenEndpoint.
func (r *Road) ClientCredentials(ctx context.Context, tokenURL, clientID string, secret identity.Secret) (*oauth2.Token, error) {
	if err := r.ready(ctx); err != nil {
		return nil, rules.Prefixed(endpointPackage, err)
	}
	cc := clientcredentials.Config{ClientID: clientID, ClientSecret: secret.Reveal(), TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInParams}
	tok, err := r.grant(ctx, r.retrying, tokenURL, cc.Token)
	if err != nil {
		return nil, rules.Prefixed(endpointPackage, refusedClient(err, fmt.Sprintf("the client %q was not accepted: check the client id and secret of Config.Credentials (OCS_CLIENT_ID / OCS_CLIENT_SECRET in the examples): wrong, expired or deleted", clientID)))
	}
	return tok, nil
}

// refusedClient adds what to check to an invalid_client refusal, which says the client id
// and secret were not accepted (the identity server authenticates the client before it
// reads the grant): the server's own words rarely say which credentials. Other errors
// are returned as they are.
func refusedClient(err error, check string) error {
	var ae *identity.AuthError
	if errors.As(err, &ae) && ae.Code == "invalid_client" {
		return fmt.Errorf("%w; %s", err, check)
	}
	return err
}

// signInCheck is what to check when a sign-in grant of conf's client meets invalid_client.
func signInCheck(conf oauth2.Config) string {
	return fmt.Sprintf("the hybrid client %q was not accepted with the secret given to SignIn: check that it is a current secret of that client (wrong, expired or deleted), and that the client and secret are more than an hour old (changes take up to an hour to reach sign-in)", conf.ClientID)
}

// Exchange redeems code, with the PKCE verifier, at conf's token endpoint, authenticating
// as conf's client with secret. Sent once: a code is good for one try.
func (r *Road) Exchange(ctx context.Context, conf oauth2.Config, secret identity.Secret, code, verifier string) (*oauth2.Token, error) {
	if err := r.ready(ctx); err != nil {
		return nil, err
	}
	conf = withSecret(conf, secret)
	tok, err := r.grant(ctx, r.once, conf.Endpoint.TokenURL, func(ctx context.Context) (*oauth2.Token, error) {
		return conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	})
	if err != nil {
		return nil, refusedClient(err, signInCheck(conf))
	}
	return tok, nil
}

// Refresh trades refreshToken for a new token at conf's token endpoint; the answer keeps
// refreshToken when the server sends no new one. Sent once: the identity server may
// accept a refresh token only once, and a retry after a lost answer would be refused.
func (r *Road) Refresh(ctx context.Context, conf oauth2.Config, secret identity.Secret, refreshToken string) (*oauth2.Token, error) {
	if err := r.ready(ctx); err != nil {
		return nil, err
	}
	conf = withSecret(conf, secret)
	tok, err := r.grant(ctx, r.once, conf.Endpoint.TokenURL, func(ctx context.Context) (*oauth2.Token, error) {
		return conf.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
	})
	if err != nil {
		return nil, refusedClient(err, signInCheck(conf))
	}
	return tok, nil
}

// withSecret returns conf holding the secret, in the form body whatever conf said: the
// service takes it there, and auto-detection would first try Basic and double every
// failed request.
func withSecret(conf oauth2.Config, secret identity.Secret) oauth2.Config {
	conf.ClientSecret = secret.Reveal()
	conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	return conf
}

// grant runs one token request of x/oauth2 through hc and maps its failure.
func (r *Road) grant(ctx context.Context, hc *http.Client, tokenURL string, do func(context.Context) (*oauth2.Token, error)) (*oauth2.Token, error) {
	u, err := url.Parse(tokenURL)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return nil, &identity.ValidationError{Field: "TokenURL", Rule: "must be an absolute URL", Value: tokenURL}
	}
	seen := &statusOf{rt: hc.Transport}
	tok, err := do(context.WithValue(ctx, oauth2.HTTPClient, NewClient(seen, hc.Timeout)))
	if err != nil {
		err = tokenError(u, int(seen.status.Load()), err)
		at, _ := seen.retryAfter.Load().(string)
		wait, _ := rules.RetryAfter(at, time.Now())
		var ae *identity.AuthError
		var oe *identity.Error
		switch {
		case errors.As(err, &ae) && (ae.StatusCode == http.StatusTooManyRequests || ae.StatusCode == http.StatusRequestTimeout):
			err = &throttled{AuthError: ae, path: u.Path, retryAfter: wait}
		case errors.As(err, &oe) && oe.StatusCode >= http.StatusInternalServerError:
			oe.RetryAfter = wait // a 503's "come back later" counts for a proof's next ask
		}
		return nil, err
	}
	return tok, nil
}

// throttled is a 429 or 408 of the token endpoint: to every caller of a grant the
// *identity.AuthError it wraps (the same text, errors.Is and errors.As); to a probe
// (Accepts) a request to make again later, after RetryAfter when the answer gave one.
type throttled struct {
	*identity.AuthError
	path       string        // the token endpoint's path
	retryAfter time.Duration // the answer's Retry-After; zero when absent
}

func (e *throttled) Unwrap() error { return e.AuthError }

// again is the throttle as an *identity.Error, which matches ErrRateLimited (429) or
// ErrTimeout (408): no verdict, ask again.
func (e *throttled) again() error {
	return &identity.Error{StatusCode: e.StatusCode, Method: http.MethodPost, Path: e.path, Code: e.Code, Reason: e.Description, RetryAfter: e.retryAfter}
}

// statusOf records the status and Retry-After of the last answer that came through rt:
// x/oauth2 keeps them only for the answers it reads as refusals.
type statusOf struct {
	rt         http.RoundTripper
	status     atomic.Int32
	retryAfter atomic.Value // string
}

func (s *statusOf) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := s.rt.RoundTrip(req)
	if resp != nil {
		s.status.Store(int32(resp.StatusCode))
		s.retryAfter.Store(resp.Header.Get("Retry-After"))
	}
	return resp, err
}

// tokenError maps the failure of a token request to tokenURL; status is that of its
// answer, 0 when there was none. No error holds the request's form.
func tokenError(tokenURL *url.URL, status int, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		switch st := re.Response.StatusCode; {
		case st >= 300 && st <= 399:
			return redirectRefused("the token endpoint", tokenURL.Redacted(), re.Response)
		case st >= 400 && st <= 499:
			return &identity.AuthError{StatusCode: st, Code: re.ErrorCode, Description: re.ErrorDescription}
		default:
			// An outage of the token endpoint is not a verdict on the credentials.
			return &identity.Error{StatusCode: st, Method: http.MethodPost, Path: tokenURL.Path, Code: re.ErrorCode, Reason: re.ErrorDescription}
		}
	}
	var ue *url.Error
	if errors.As(err, &ue) || status == 0 || strings.HasPrefix(err.Error(), "oauth2: cannot fetch token") {
		// No answer, or it broke off while being read.
		return ConnectionError(http.MethodPost, tokenURL.Path, err)
	}
	// A success answer without a usable token. x/oauth2's message may quote the body.
	return &identity.ResponseError{StatusCode: status, Method: http.MethodPost, Path: tokenURL.Path,
		Err: errors.New("the answer holds no access token (or is neither JSON nor a form)")}
}

// redirectRefused is the error of a 3xx answer: it names where the redirect pointed by
// origin only.
func redirectRefused(what, at string, resp *http.Response) error {
	to := "an unnamed location"
	if loc, err := resp.Location(); err == nil {
		to = rules.Origin(loc)
	}
	return &identity.AuthError{StatusCode: resp.StatusCode, Description: fmt.Sprintf(
		"%s at %s answered %d %s to %s; requests to the identity server never follow redirects (the client secret, codes and tokens would go along): %s",
		what, at, resp.StatusCode, http.StatusText(resp.StatusCode), to, CheckResource)}
}

// drain reads what is left of a body, bounded, and closes it.
func drain(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, 64<<10))
	_ = body.Close()
}
