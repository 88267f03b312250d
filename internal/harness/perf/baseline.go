package perf

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/ocs-go/identity/hybridclients"
)

// Baseline is what a user would write by hand instead of the SDK: a plain net/http client
// with its own pooled transport, a bearer header, and encoding/json decoding the service's
// JSON into a struct of the same shape as the SDK's, then into the same
// hybridclients.HybridClient values the SDK returns. It does no validation, no retries,
// no error typing and no size limit: it is the floor the SDK is measured against.
type Baseline struct {
	hc     *http.Client
	tenant string // {resource}/api/v1/Tenants/{tenant}
	auth   string // "Bearer ..."
}

// NewBaseline returns a Baseline for the tenant at resource, with its own pooled transport
// keeping up to 100 idle connections per host (the SDK keeps 64 and opens at most 64), so
// the baseline is never the side that waits for a connection.
func NewBaseline(resource, tenantID, token string) *Baseline {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 100
	return &Baseline{
		hc:     &http.Client{Transport: t},
		tenant: resource + "/api/v1/Tenants/" + tenantID,
		auth:   "Bearer " + token,
	}
}

// Close closes the baseline's idle connections.
func (b *Baseline) Close() { b.hc.CloseIdleConnections() }

// baseClient has the wire shape of a hybrid client (every property nullable).
type baseClient struct {
	ID                          *string  `json:"Id,omitempty"`
	Name                        *string  `json:"Name,omitempty"`
	Enabled                     *bool    `json:"Enabled,omitempty"`
	AccessTokenLifetime         *int32   `json:"AccessTokenLifetime,omitempty"`
	Tags                        []string `json:"Tags,omitzero"`
	RedirectURIs                []string `json:"RedirectUris,omitzero"`
	PostLogoutRedirectURIs      []string `json:"PostLogoutRedirectUris,omitzero"`
	ClientURI                   *string  `json:"ClientUri,omitempty"`
	LogoURI                     *string  `json:"LogoUri,omitempty"`
	AllowOfflineAccess          *bool    `json:"AllowOfflineAccess,omitempty"`
	AllowAccessTokensViaBrowser *bool    `json:"AllowAccessTokensViaBrowser,omitempty"`
}

func val[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

func (w *baseClient) client() hybridclients.HybridClient {
	return hybridclients.HybridClient{
		ID: val(w.ID), Name: val(w.Name), Enabled: val(w.Enabled),
		AccessTokenLifetime:    time.Duration(val(w.AccessTokenLifetime)) * time.Second,
		Tags:                   w.Tags,
		RedirectURIs:           w.RedirectURIs,
		PostLogoutRedirectURIs: w.PostLogoutRedirectURIs,
		ClientURI:              val(w.ClientURI), LogoURI: val(w.LogoURI),
		AllowRefreshTokens:          val(w.AllowOfflineAccess),
		AllowAccessTokensViaBrowser: val(w.AllowAccessTokensViaBrowser),
	}
}

// do sends one request and decodes a 2xx JSON answer into out.
func (b *Baseline) do(ctx context.Context, method, url string, body []byte, want int, out any) (http.Header, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", b.auth)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() {
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}()
	if resp.StatusCode != want {
		return nil, fmt.Errorf("baseline: %s %s: %s", method, url, resp.Status)
	}
	return resp.Header, json.NewDecoder(resp.Body).Decode(out)
}

// Get returns one hybrid client.
func (b *Baseline) Get(ctx context.Context, id string) (*hybridclients.HybridClient, error) {
	var w baseClient
	if _, err := b.do(ctx, http.MethodGet, b.tenant+"/HybridClients/"+id, nil, http.StatusOK, &w); err != nil {
		return nil, err
	}
	hc := w.client()
	return &hc, nil
}

// List returns one page of hybrid clients and the Total-Count.
func (b *Baseline) List(ctx context.Context, skip, count int) (*hybridclients.Page, error) {
	var ws []baseClient
	h, err := b.do(ctx, http.MethodGet, b.tenant+"/HybridClients?count="+strconv.Itoa(count)+"&skip="+strconv.Itoa(skip), nil, http.StatusOK, &ws)
	if err != nil {
		return nil, err
	}
	p := &hybridclients.Page{Clients: make([]hybridclients.HybridClient, len(ws))}
	for i := range ws {
		p.Clients[i] = ws[i].client()
	}
	p.Total, _ = strconv.Atoi(h.Get("Total-Count"))
	return p, nil
}

// baseCreate is the body of a create: the client plus its first secret's settings.
type baseCreate struct {
	baseClient
	SecretDescription    string     `json:"SecretDescription,omitempty"`
	SecretExpirationDate *time.Time `json:"SecretExpirationDate"`
}

// BaseCreated is the answer to a create, as the baseline keeps it.
type BaseCreated struct {
	Secret         string     `json:"Secret"`
	ID             int32      `json:"Id"`
	Description    string     `json:"Description"`
	ExpirationDate *time.Time `json:"ExpirationDate"`
	Client         hybridclients.HybridClient
}

// Create creates a hybrid client with the same body the SDK sends for req (an id made on
// the client, enabled, a one-hour token lifetime, a secret expiring in a year).
func (b *Baseline) Create(ctx context.Context, req hybridclients.CreateRequest) (*BaseCreated, error) {
	id := uuid.NewString()
	enabled, off, browser, life := true, req.AllowRefreshTokens, req.AllowAccessTokensViaBrowser, int32(3600)
	exp := time.Now().AddDate(1, 0, 0)
	body, err := json.Marshal(baseCreate{
		baseClient: baseClient{ID: &id, Name: &req.Name, Enabled: &enabled, AccessTokenLifetime: &life,
			Tags: req.Tags, RedirectURIs: req.RedirectURIs, PostLogoutRedirectURIs: req.PostLogoutRedirectURIs,
			AllowOfflineAccess: &off, AllowAccessTokensViaBrowser: &browser},
		SecretDescription:    req.SecretDescription,
		SecretExpirationDate: &exp,
	})
	if err != nil {
		return nil, err
	}
	var w struct {
		BaseCreated
		Client baseClient `json:"Client"`
	}
	if _, err := b.do(ctx, http.MethodPost, b.tenant+"/HybridClients", body, http.StatusCreated, &w); err != nil {
		return nil, err
	}
	out := w.BaseCreated
	out.Client = w.Client.client()
	return &out, nil
}
