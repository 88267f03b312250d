package perf

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/google/uuid"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
)

// Bodies are answers of the emulator, captured once and replayed byte for byte by the
// fixed server, so the benchmarks decode exactly what the emulator sends.
type Bodies struct {
	Client  []byte // GET one hybrid client: 200
	Page    []byte // GET a page of 100: 200, with Total-Count
	Total   int    // Total-Count of the page
	Created []byte // POST a hybrid client: 201
}

// PageSize is the size of the page the List benchmarks fetch (the default page size).
const PageSize = 100

// CaptureBodies starts an emulator, seeds PageSize clients, creates one more and keeps
// the raw answers.
func CaptureBodies() (Bodies, error) {
	srv, err := hybridclientstest.Start(nil)
	if err != nil {
		return Bodies{}, err
	}
	defer srv.Close()
	if err := srv.SeedClients(PageSize); err != nil {
		return Bodies{}, err
	}
	tok := srv.IssueToken(hybridclientstest.RoleAdmin).Reveal()
	base := srv.URL + "/api/v1/Tenants/" + srv.TenantID + "/HybridClients"
	hc := &http.Client{}
	defer hc.CloseIdleConnections()
	raw := func(method, url string, body []byte, want int) ([]byte, http.Header, error) {
		req, err := http.NewRequestWithContext(context.Background(), method, url, bytes.NewReader(body))
		if err != nil {
			return nil, nil, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != want {
			err = fmt.Errorf("capture: %s %s: %s: %s", method, url, resp.Status, data)
		}
		return data, resp.Header, err
	}
	var b Bodies
	var h http.Header
	if b.Page, h, err = raw(http.MethodGet, base+"?count="+strconv.Itoa(PageSize), nil, http.StatusOK); err != nil {
		return b, err
	}
	b.Total, _ = strconv.Atoi(h.Get("Total-Count"))
	var page []struct{ Id string }
	if err := json.Unmarshal(b.Page, &page); err != nil || len(page) != PageSize {
		return b, fmt.Errorf("capture: page of %d: %v", len(page), err)
	}
	if b.Client, _, err = raw(http.MethodGet, base+"/"+page[0].Id, nil, http.StatusOK); err != nil {
		return b, err
	}
	create, _ := json.Marshal(map[string]any{
		"Id": uuid.NewString(), "Name": "perf", "Enabled": true, "AccessTokenLifetime": 3600,
		"RedirectUris": []string{"https://localhost/callback"}, "AllowOfflineAccess": false,
		"AllowAccessTokensViaBrowser": false, "SecretExpirationDate": nil,
	})
	b.Created, _, err = raw(http.MethodPost, base, create, http.StatusCreated)
	return b, err
}

// Fixed is a loopback server answering the hybrid-client routes with canned bodies and no
// state, so that server work is small and the same for every request: a benchmark against
// it measures the client. It checks the bearer token and reads every request body.
type Fixed struct {
	URL      string
	TenantID string
	Token    string
	// ClientID is the id of the canned client (any id is answered with it).
	ClientID string

	srv   *httptest.Server
	conns atomic.Int64
}

// StartFixed starts a Fixed server replaying b. Close it when done.
func StartFixed(b Bodies) (*Fixed, error) {
	var one struct{ Id string }
	if err := json.Unmarshal(b.Client, &one); err != nil {
		return nil, err
	}
	f := &Fixed{TenantID: uuid.NewString(), Token: "perf-" + uuid.NewString(), ClientID: one.Id}
	prefix := "/api/v1/Tenants/" + f.TenantID + "/HybridClients"
	auth := "Bearer " + f.Token
	total := strconv.Itoa(b.Total)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.Header.Get("Authorization") != auth {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		hdr := w.Header()
		hdr["Content-Type"] = []string{"application/json; charset=utf-8"}
		switch {
		case r.URL.Path == prefix && r.Method == http.MethodGet:
			hdr["Total-Count"] = []string{total}
			_, _ = w.Write(b.Page)
		case r.URL.Path == prefix && r.Method == http.MethodPost:
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write(b.Created)
		case strings.HasPrefix(r.URL.Path, prefix+"/") && r.Method == http.MethodGet:
			_, _ = w.Write(b.Client)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	})
	f.srv = &httptest.Server{Listener: l, Config: &http.Server{Handler: h}}
	f.srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			f.conns.Add(1)
		}
	}
	f.srv.Start()
	f.URL = f.srv.URL
	return f, nil
}

// Connections returns the number of TCP connections the server accepted.
func (f *Fixed) Connections() int { return int(f.conns.Load()) }

// Close stops the server.
func (f *Fixed) Close() { f.srv.Close() }
