package idserver

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"

	"github.com/ocs-go/identity"
	"golang.org/x/oauth2"
)

// ProbeGrant is the grant a probe asks for: the one the kind of client may use, so that
// the identity server's answer is about the secret, not about a grant the client lacks.
type ProbeGrant uint8

const (
	// ProbeCode is an authorization_code grant with a code that cannot exist: for a hybrid
	// client. No user is signed in and no token can come of it.
	ProbeCode ProbeGrant = iota + 1
	// ProbeClientCredentials is a plain client_credentials grant: for a client-credential
	// client. The token it may bring is dropped at once.
	ProbeClientCredentials
)

// ProbeRedirectURI is the redirect_uri of a code probe: a name under the reserved .invalid
// domain, which no client registers and nothing answers. The identity server looks up the
// code before the redirect URI, so it never counts.
const ProbeRedirectURI = "https://rotation-proof.invalid/"

// Accepts asks the identity server at tokenURL whether it accepts secret for clientID
// now, without signing anyone in. The token endpoint authenticates the client before it
// looks at the grant (IdentityServer's order, API.md): invalid_client means the secret is
// not accepted (wrong, expired, deleted, or not yet propagated), and any error about the
// grant means the client authenticated. So:
//
//   - true, nil: the client authenticated (an error about the grant, or a token, dropped);
//   - false, nil: invalid_client;
//   - false, err: no verdict: no answer, a 5xx, a throttle (429, or 408), a redirect, or
//     an answer that says nothing about the client (invalid_request, an unknown error
//     code). err is typed as every error of the road, and holds nothing of the secret; a
//     429 or 408 is an *identity.Error (ErrRateLimited, ErrTimeout: ask again later), as a
//     5xx is (ErrServer), each with the answer's Retry-After (rules.RetryAfter: at most a
//     day, and a day for one too large to read).
//
// Each probe is a failed token request in the identity server's logs (invalid_grant, for
// a code probe).
func (r *Road) Accepts(ctx context.Context, grant ProbeGrant, tokenURL, clientID string, secret identity.Secret) (bool, error) {
	var err error
	switch grant {
	case ProbeClientCredentials:
		_, err = r.ClientCredentials(ctx, tokenURL, clientID, secret)
	case ProbeCode:
		conf := oauth2.Config{ClientID: clientID, Endpoint: oauth2.Endpoint{TokenURL: tokenURL}, RedirectURL: ProbeRedirectURI}
		_, err = r.Exchange(ctx, conf, secret, "probe-"+rand.Text(), oauth2.GenerateVerifier())
	default:
		return false, &identity.ValidationError{Field: "ProbeGrant", Rule: "must be ProbeCode or ProbeClientCredentials", Value: int(grant)}
	}
	if err == nil {
		return true, nil
	}
	var th *throttled
	if errors.As(err, &th) {
		return false, th.again()
	}
	var ae *identity.AuthError
	if errors.As(err, &ae) && ae.StatusCode >= http.StatusBadRequest && ae.StatusCode < http.StatusInternalServerError {
		switch ae.Code {
		case "invalid_client":
			return false, nil
		case "invalid_grant", "unauthorized_client", "unsupported_grant_type", "invalid_scope":
			// Refusals of the grant itself (RFC 6749, section 5.2), which the server gives
			// only to a client it has authenticated.
			return true, nil
		}
	}
	return false, err
}
