package hybridclients

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/rules"
	"github.com/ocs-go/identity/internal/transport"
	"github.com/ocs-go/identity/internal/validate"
)

// UpdateRequest changes some properties of a hybrid client. Only what is set is sent, and
// the service leaves everything else as it is: nil pointers and nil slices are "not set".
// A non-nil empty slice clears Tags or PostLogoutRedirectURIs; RedirectURIs cannot be
// emptied. Use identity.Ptr for the pointer fields:
//
//	hybridclients.UpdateRequest{Name: identity.Ptr("Billing"), Enabled: identity.Ptr(false)}
//
// Each field set follows the rules of the CreateRequest field of the same name (redirect
// URIs: https, loopback or development http, or a native app's private-use scheme; text:
// no control characters). Changes can take up to an hour to reach sign-in.
type UpdateRequest struct {
	Name                        *string
	Enabled                     *bool
	AllowRefreshTokens          *bool
	AccessTokenLifetime         *time.Duration
	Tags                        []string
	RedirectURIs                []string
	PostLogoutRedirectURIs      []string
	ClientURI                   *string
	LogoURI                     *string
	AllowAccessTokensViaBrowser *bool
}

func (r UpdateRequest) validate() (*wireClient, error) {
	var v validate.Errors
	w := &wireClient{
		Name:                        r.Name,
		Enabled:                     r.Enabled,
		AllowOfflineAccess:          r.AllowRefreshTokens,
		Tags:                        r.Tags,
		RedirectURIs:                r.RedirectURIs,
		PostLogoutRedirectURIs:      r.PostLogoutRedirectURIs,
		ClientURI:                   r.ClientURI,
		LogoURI:                     r.LogoURI,
		AllowAccessTokensViaBrowser: r.AllowAccessTokensViaBrowser,
	}
	if r.Name != nil {
		v.Name("Name", *r.Name)
	}
	if r.AccessTokenLifetime != nil {
		v.Lifetime("AccessTokenLifetime", *r.AccessTokenLifetime, MinAccessTokenLifetime, MaxAccessTokenLifetime)
		w.AccessTokenLifetime = identity.Ptr(int32(*r.AccessTokenLifetime / time.Second))
	}
	if r.Tags != nil {
		v.Tags("Tags", r.Tags)
	}
	if r.RedirectURIs != nil {
		v.Redirects("RedirectURIs", r.RedirectURIs, 1, MaxRedirectURIs)
	}
	if r.PostLogoutRedirectURIs != nil {
		v.Redirects("PostLogoutRedirectURIs", r.PostLogoutRedirectURIs, 0, MaxPostLogoutRedirectURIs)
	}
	if r.ClientURI != nil && *r.ClientURI != "" {
		v.WebURI("ClientURI", *r.ClientURI)
	}
	if r.LogoURI != nil && *r.LogoURI != "" {
		v.WebURI("LogoURI", *r.LogoURI)
	}
	// Judged on what would be sent, so no field can be forgotten here.
	if b, _ := json.Marshal(w); string(b) == "{}" {
		v.Add("UpdateRequest", "must set at least one property", nil)
	}
	return w, errors.Join(v...)
}

// Update changes the properties set in req of the hybrid client id and returns the client
// as it is afterwards. A missing client is an error matching identity.ErrNotFound.
func (c *Client) Update(ctx context.Context, id string, req UpdateRequest) (*HybridClient, error) {
	ctx, op := c.tel().Start(ctx, "hybridclients.Update", id)
	v, err := c.update(ctx, id, req)
	err = rules.Prefixed(pkgName, err)
	op.End(err)
	return v, err
}

func (c *Client) update(ctx context.Context, id string, req UpdateRequest) (*HybridClient, error) {
	// Every broken rule at once: the client, the id and the request.
	body, err := req.validate()
	if err := errors.Join(c.ready(), validate.GUID("ID", id), err); err != nil {
		return nil, err
	}
	var w wireClient
	if _, err := c.t.Do(ctx, transport.Request{Method: http.MethodPut, Path: []string{collection, id}, Body: body}, &w); err != nil {
		return nil, err
	}
	hc := w.toClient()
	return &hc, nil
}
