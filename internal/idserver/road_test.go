package idserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocs-go/identity"
	"golang.org/x/oauth2"
)

const (
	theSecret   = "the-client-SECRET-9931"
	theCode     = "the-code-4d1e"
	theVerifier = "the-verifier-0123456789-0123456789-0123456789-abc"
	theRefresh  = "the-refresh-token-77ab"
)

// server is a loopback identity server whose discovery document and token answer a test
// sets; it records the forms and headers of token requests.
type server struct {
	*httptest.Server
	doc    func(base string) map[string]string
	token  http.HandlerFunc
	tokens atomic.Int32
	forms  chan url.Values
	authz  chan string
}

func newServer(t *testing.T) *server {
	s := &server{forms: make(chan url.Values, 16), authz: make(chan string, 16)}
	s.doc = func(base string) map[string]string {
		return map[string]string{"issuer": base + "/identity", "token_endpoint": base + "/identity/connect/token"}
	}
	s.token = func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"access_token":"at-1","token_type":"Bearer","expires_in":60,"refresh_token":"rt-2"}`)
	}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/identity/.well-known/openid-configuration":
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(s.doc("http://" + r.Host))
		case "/identity/connect/token":
			s.tokens.Add(1)
			_ = r.ParseForm()
			s.forms <- r.PostForm
			s.authz <- r.Header.Get("Authorization") + r.URL.RawQuery
			s.token(w, r)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) road(t *testing.T) *Road {
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	return New(u, s.Client(), nil, 1<<10)
}

func (s *server) conf() oauth2.Config {
	return oauth2.Config{ClientID: "cid", RedirectURL: "http://127.0.0.1:1/cb",
		Endpoint: oauth2.Endpoint{TokenURL: s.URL + "/identity/connect/token"}}
}

// holdsNothingSecret fails when err shows the secret, the code, the verifier or the refresh
// token.
func holdsNothingSecret(t *testing.T, err error) {
	t.Helper()
	for _, v := range []string{theSecret, theCode, theVerifier, theRefresh} {
		if err != nil && strings.Contains(err.Error(), v) {
			t.Errorf("the error shows %q: %v", v, err)
		}
	}
}

// The three grants, as the road sends them.
func grants(r *Road, s *server) map[string]func() (*oauth2.Token, error) {
	ctx := context.Background()
	return map[string]func() (*oauth2.Token, error){
		"client credentials": func() (*oauth2.Token, error) {
			return r.ClientCredentials(ctx, s.URL+"/identity/connect/token", "cid", identity.NewSecret(theSecret))
		},
		"authorization code": func() (*oauth2.Token, error) {
			return r.Exchange(ctx, s.conf(), identity.NewSecret(theSecret), theCode, theVerifier)
		},
		"refresh": func() (*oauth2.Token, error) {
			return r.Refresh(ctx, s.conf(), identity.NewSecret(theSecret), theRefresh)
		},
	}
}

func TestGrantsSendTheSecretInTheFormOnly(t *testing.T) {
	s := newServer(t)
	r := s.road(t)
	want := map[string]url.Values{
		"client credentials": {"grant_type": {"client_credentials"}, "client_id": {"cid"}, "client_secret": {theSecret}},
		"authorization code": {"grant_type": {"authorization_code"}, "code": {theCode}, "code_verifier": {theVerifier},
			"redirect_uri": {"http://127.0.0.1:1/cb"}, "client_id": {"cid"}, "client_secret": {theSecret}},
		"refresh": {"grant_type": {"refresh_token"}, "refresh_token": {theRefresh}, "client_id": {"cid"}, "client_secret": {theSecret}},
	}
	for name, grant := range grants(r, s) {
		tok, err := grant()
		if err != nil || tok.AccessToken != "at-1" {
			t.Fatalf("%s: %v, %v", name, tok, err)
		}
		if got := <-s.forms; got.Encode() != want[name].Encode() {
			t.Errorf("%s: form\n got %s\nwant %s", name, got.Encode(), want[name].Encode())
		}
		if a := <-s.authz; a != "" {
			t.Errorf("%s: Authorization header or query %q: the secret belongs in the form only", name, a)
		}
	}
	// Whatever the caller's oauth2.Config says.
	conf := s.conf()
	conf.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	if _, err := r.Exchange(context.Background(), conf, identity.NewSecret(theSecret), theCode, theVerifier); err != nil {
		t.Fatal(err)
	}
	<-s.forms
	if a := <-s.authz; a != "" {
		t.Errorf("AuthStyleInHeader in the caller's Config put the secret in %q", a)
	}
}

func TestTokenAnswersBecomeTypedErrors(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the redirect was followed to %s", r.URL)
	}))
	defer other.Close()
	for _, tc := range []struct {
		name   string
		answer http.HandlerFunc
		check  func(error) bool
	}{
		{"307 to another origin", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+"/steal?code="+theCode, http.StatusTemporaryRedirect)
		}, func(err error) bool {
			var ae *identity.AuthError
			return errors.As(err, &ae) && ae.StatusCode == 307 && strings.Contains(err.Error(), other.URL+";") && !strings.Contains(err.Error(), "steal")
		}},
		{"400 invalid_grant", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			_, _ = io.WriteString(w, `{"error":"invalid_grant","error_description":"code used"}`)
		}, func(err error) bool {
			var ae *identity.AuthError
			return errors.As(err, &ae) && ae.Code == "invalid_grant" && ae.Description == "code used" && errors.Is(err, identity.ErrUnauthorized)
		}},
		{"503", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "busy", http.StatusServiceUnavailable) }, func(err error) bool {
			var ie *identity.Error
			return errors.As(err, &ie) && ie.StatusCode == 503 && ie.Path == "/identity/connect/token" && errors.Is(err, identity.ErrServer)
		}},
		{"200 without an access token", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"token_type":"Bearer"}`)
		}, func(err error) bool {
			var re *identity.ResponseError
			return errors.As(err, &re) && re.StatusCode == 200 && errors.Is(err, identity.ErrInvalidResponse)
		}},
		{"201 that is not JSON", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(201)
			_, _ = io.WriteString(w, "<html>"+theSecret+"</html>")
		}, func(err error) bool {
			var re *identity.ResponseError
			return errors.As(err, &re) && re.StatusCode == 201
		}},
		{"connection cut before the answer", func(w http.ResponseWriter, _ *http.Request) {
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				_ = conn.Close()
			}
		}, func(err error) bool {
			var ce *identity.ConnectionError
			return errors.As(err, &ce) && ce.Sent && ce.Method == http.MethodPost && ce.Path == "/identity/connect/token" && errors.Is(err, identity.ErrUnreachable)
		}},
		{"answer cut while read", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", "500")
			_, _ = io.WriteString(w, `{"access_token":"at`)
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				_ = conn.Close()
			}
		}, func(err error) bool {
			var ce *identity.ConnectionError
			return errors.As(err, &ce) && ce.Sent
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t)
			s.token = tc.answer
			for name, grant := range grants(s.road(t), s) {
				before := s.tokens.Load()
				_, err := grant()
				if err == nil || !tc.check(err) {
					t.Errorf("%s: got %v (%T)", name, err, err)
				}
				holdsNothingSecret(t, err)
				if n := s.tokens.Load() - before; n != 1 {
					t.Errorf("%s: %d requests, want 1", name, n)
				}
			}
		})
	}
}

// invalid_client means the client id and secret were refused; the server's answer does
// not say which credentials those were, so the error names the client and what to check
// (never the secret), and a refusal of the grant itself gets no such hint.
func TestInvalidClientSaysWhichCredentialsToCheck(t *testing.T) {
	want := map[string][]string{
		"client credentials": {`client "cid"`, "Config.Credentials", "OCS_CLIENT_ID / OCS_CLIENT_SECRET", "wrong, expired or deleted"},
		"authorization code": {`hybrid client "cid"`, "secret given to SignIn", "wrong, expired or deleted", "up to an hour"},
		"refresh":            {`hybrid client "cid"`, "secret given to SignIn", "wrong, expired or deleted", "up to an hour"},
	}
	for _, code := range []string{"invalid_client", "invalid_grant"} {
		s := newServer(t)
		s.token = func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":"`+code+`"}`)
		}
		for name, grant := range grants(s.road(t), s) {
			_, err := grant()
			var ae *identity.AuthError
			if !errors.As(err, &ae) || ae.Code != code || !errors.Is(err, identity.ErrUnauthorized) {
				t.Fatalf("%s, %s: %v (%T), want an *identity.AuthError %s", code, name, err, err, code)
			}
			holdsNothingSecret(t, err)
			for _, w := range want[name] {
				if has := strings.Contains(err.Error(), w); has != (code == "invalid_client") {
					t.Errorf("%s, %s: %q in the message is %v:\n%v", code, name, w, has, err)
				}
			}
		}
	}
}

func TestClosedPortIsAConnectionErrorNeverSent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + ln.Addr().String()
	_ = ln.Close()
	u, _ := url.Parse(addr)
	r := New(u, nil, nil, 1<<10)
	_, err = r.TokenURL(context.Background())
	var ce *identity.ConnectionError
	if !errors.As(err, &ce) || ce.Sent || ce.Method != http.MethodGet || ce.Path != "/identity/.well-known/openid-configuration" || !strings.Contains(err.Error(), CheckResource) {
		t.Errorf("discovery: %v, want an unsent ConnectionError of GET /identity/.well-known/openid-configuration with the hint", err)
	}
	_, err = r.ClientCredentials(context.Background(), addr+"/identity/connect/token", "cid", identity.NewSecret(theSecret))
	if !errors.As(err, &ce) || ce.Sent || ce.Method != http.MethodPost || strings.Contains(err.Error(), addr+"/") {
		t.Errorf("token: %v, want an unsent ConnectionError naming the path only", err)
	}
}

func TestDiscoveryChecksTheDocument(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(base string, d map[string]string)
		need  []string
		wants string // in the error; "" means success
	}{
		{"fine", nil, []string{FieldToken}, ""},
		{"issuer another origin", func(_ string, d map[string]string) { d["issuer"] = "http://127.0.0.2:1/identity" }, nil, "issuer"},
		{"issuer with another path", func(base string, d map[string]string) { d["issuer"] = base + "/identity/" }, nil, "issuer"},
		{"no issuer, not needed", func(_ string, d map[string]string) { delete(d, "issuer") }, []string{FieldToken}, ""},
		{"no issuer, needed", func(_ string, d map[string]string) { delete(d, "issuer") }, []string{FieldIssuer}, "no issuer"},
		{"keys on another origin", func(_ string, d map[string]string) { d["jwks_uri"] = "http://127.0.0.2:1/jwks" }, nil, "jwks_uri"},
		{"userinfo with user info", func(base string, d map[string]string) {
			d["userinfo_endpoint"] = strings.Replace(base, "http://", "http://u:p@", 1) + "/ui"
		}, nil, "userinfo_endpoint"},
		{"end session with a fragment", func(base string, d map[string]string) { d["end_session_endpoint"] = base + "/es#x" }, nil, "end_session_endpoint"},
		{"too large", func(_ string, d map[string]string) { d["padding"] = strings.Repeat("x", 2<<10) }, nil, "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t)
			orig := s.doc
			s.doc = func(base string) map[string]string {
				d := orig(base)
				if tc.edit != nil {
					tc.edit(base, d)
				}
				return d
			}
			doc, err := s.road(t).Discover(context.Background(), tc.need...)
			if tc.wants == "" {
				if err != nil || doc.Token != s.URL+"/identity/connect/token" {
					t.Fatalf("Discover = %+v, %v", doc, err)
				}
				return
			}
			var re *identity.ResponseError
			if !errors.As(err, &re) || !strings.Contains(err.Error(), tc.wants) {
				t.Fatalf("err = %v, want a ResponseError about %q", err, tc.wants)
			}
		})
	}
}

// A failure of the road before anything is sent is an error, never a panic.
func TestRoadRefusesNilAndBadInput(t *testing.T) {
	var nilRoad *Road
	var nilCtx context.Context
	s := newServer(t)
	r := s.road(t)
	for name, call := range map[string]func() error{
		"nil Road TokenURL": func() error { _, err := nilRoad.TokenURL(context.Background()); return err },
		"nil Road ClientCredentials": func() error {
			_, err := nilRoad.ClientCredentials(context.Background(), s.URL, "cid", identity.NewSecret(theSecret))
			return err
		},
		"nil ctx Discover": func() error { _, err := r.Discover(nilCtx); return err },
		"nil ctx Exchange": func() error {
			_, err := r.Exchange(nilCtx, s.conf(), identity.NewSecret(theSecret), theCode, theVerifier)
			return err
		},
		"relative token URL": func() error {
			conf := s.conf()
			conf.Endpoint.TokenURL = "/identity/connect/token"
			_, err := r.Refresh(context.Background(), conf, identity.NewSecret(theSecret), theRefresh)
			return err
		},
	} {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("%s panicked: %v", name, p)
				}
			}()
			if err := call(); !errors.Is(err, identity.ErrInvalidInput) {
				t.Errorf("%s: %v, want ErrInvalidInput", name, err)
			}
		}()
	}
	if n := s.tokens.Load(); n != 0 {
		t.Errorf("%d token requests sent", n)
	}
}

func TestNeverSent(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, true},
		{&url.Error{Op: "Get", URL: "http://x", Err: &net.OpError{Op: "dial", Err: errors.New("no route")}}, true},
		{&net.DNSError{Err: "no such host", Name: "x"}, true},
		{tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, true},
		{&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, true},
		{x509.HostnameError{Host: "x"}, true},
		{&net.OpError{Op: "read", Err: errors.New("connection reset by peer")}, false},
		{io.ErrUnexpectedEOF, false},
		{context.DeadlineExceeded, false},
	} {
		if got := NeverSent(tc.err); got != tc.want {
			t.Errorf("NeverSent(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	ce := ConnectionError(http.MethodGet, "/p", &url.Error{Op: "Get", URL: "http://x/p?secret=1", Err: &net.OpError{Op: "dial", Err: errors.New("refused")}})
	if ce.Sent || strings.Contains(ce.Error(), "secret=1") || !strings.Contains(ce.Error(), CheckResource) {
		t.Errorf("ConnectionError = %v (Sent %v): want unsent, without the URL's query, with the hint", ce, ce.Sent)
	}
}

func TestBaseTakesTransportAndTimeoutOnly(t *testing.T) {
	rt, timeout := Base(nil)
	if tr, ok := rt.(*http.Transport); !ok || tr.MaxConnsPerHost != 64 || timeout != 0 {
		t.Errorf("Base(nil) = %T %v, want the SDK's pooled transport and no timeout", rt, timeout)
	}
	rt, timeout = Base(&http.Client{Timeout: time.Second, Jar: noJar{}})
	if rt != http.DefaultTransport || timeout != time.Second {
		t.Errorf("Base(client without Transport) = %v %v, want http.DefaultTransport and its timeout", rt, timeout)
	}
	hc := NewClient(rt, timeout)
	if hc.Jar != nil || hc.CheckRedirect == nil || hc.CheckRedirect(nil, nil) != http.ErrUseLastResponse {
		t.Error("NewClient: a cookie jar, or a redirect policy that follows")
	}
}

type noJar struct{}

func (noJar) SetCookies(*url.URL, []*http.Cookie) {}
func (noJar) Cookies(*url.URL) []*http.Cookie     { return nil }
