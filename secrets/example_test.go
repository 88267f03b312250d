package secrets_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/secrets"
)

const (
	tenantID = "11111111-2222-3333-4444-555555555555"
	clientID = "5a3b9c1e-7f00-4d2a-9e61-0c8b2f4a7d10"
)

// ExampleClient_Add adds a secret that expires at a chosen time and stores its value in
// a file the application reads.
func ExampleClient_Add() {
	cfg, stop := fakeService()
	defer stop()
	sc, err := secrets.New(cfg)
	if err != nil {
		log.Fatal(err)
	}

	added, err := sc.Add(context.Background(), clientID, secrets.AddRequest{
		Description: "billing service, production",
		Expiry:      secrets.ExpiresAt(time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)),
	})
	if err != nil {
		log.Fatal(err)
	}
	// Store the value now: the service never shows it again. For example:
	//	err = added.Value.WriteFile("/etc/billing/client-secret")
	fmt.Println("id:", added.ID)
	fmt.Println("description:", added.Description)
	// The expiry is this call's marker: up to an hour earlier than asked (AddRequest.Expiry).
	at := added.Expiry.At()
	asked := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
	fmt.Println("expires in the hour before 2099-01-01:", at.Before(asked) && !at.Before(asked.Add(-time.Hour)))
	fmt.Println("value:", added.Value) // prints [REDACTED]; Reveal returns the value
	fmt.Println("value received:", added.Value.Reveal() != "")
	// Output:
	// id: 1
	// description: billing service, production
	// expires in the hour before 2099-01-01: true
	// value: [REDACTED]
	// value received: true
}

// ExampleClient_Rotate replaces a client's secrets: the new value goes to a vault first;
// Rotate then waits until the identity server accepts the new secret (here at once), and
// only then retires the old secrets: by default they keep working for one more hour
// (DefaultGrace).
func ExampleClient_Rotate() {
	cfg, stop := fakeService(
		secret{ID: 1, Description: "2023 deployment", Expires: false},
		secret{ID: 2, Description: "2024 deployment", Expires: true, Expiration: time.Date(2099, 6, 1, 0, 0, 0, 0, time.UTC)},
	)
	defer stop()
	sc, err := secrets.New(cfg)
	if err != nil {
		log.Fatal(err)
	}

	vault := map[string]identity.Secret{} // stands for a real secret store
	rot, err := sc.Rotate(context.Background(), clientID, secrets.RotateRequest{
		Description: "2025 deployment",
		Expiry:      secrets.ExpiresAt(time.Date(2099, 12, 31, 0, 0, 0, 0, time.UTC)),
		Store: func(ctx context.Context, s secrets.Added) error {
			vault["billing/client-secret"] = s.Value
			return nil
		},
		Retire: secrets.RetireAll(),
	})
	if err != nil {
		log.Fatal(err) // the error says what was done and what was not
	}
	fmt.Println("added:", rot.New.ID, rot.New.Description)
	fmt.Println("accepted by the identity server:", !rot.ProvenAt.IsZero(), "after", rot.Probes, "probe")
	for _, s := range rot.Shortened {
		at := s.Expiry.At()
		fmt.Println("works for one more hour:", s.ID, s.Description, time.Until(at).Round(time.Hour))
	}
	fmt.Println("in the vault:", !vault["billing/client-secret"].IsZero())
	// Output:
	// added: 3 2025 deployment
	// accepted by the identity server: true after 1 probe
	// works for one more hour: 1 2023 deployment 1h0m0s
	// works for one more hour: 2 2024 deployment 1h0m0s
	// in the vault: true
}

// ExampleClient_CheckExpiry warns about secrets that have expired or expire within 30
// days, as a daily cron job would. This client is in the middle of a rotation: its new
// secret works for a year, so the old ones need nothing.
func ExampleClient_CheckExpiry() {
	cfg, stop := fakeService(
		secret{ID: 1, Description: "2029 deployment", Expires: true, Expiration: time.Date(2030, 5, 1, 0, 0, 0, 0, time.UTC)},
		secret{ID: 2, Description: "2030 deployment", Expires: true, Expiration: time.Date(2030, 6, 1, 1, 0, 0, 0, time.UTC)},
		secret{ID: 3, Description: "2031 deployment", Expires: true, Expiration: time.Date(2031, 6, 1, 0, 0, 0, 0, time.UTC)},
		secret{ID: 4, Description: "legacy", Expires: false},
	)
	defer stop()
	// The example's clock reads 2030-06-01; in a real job, leave Clock nil (the system clock).
	cfg.Clock = fixedClock(time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC))
	sc, err := secrets.New(cfg)
	if err != nil {
		log.Fatal(err)
	}

	r, err := sc.CheckExpiry(context.Background(), clientID, 30*24*time.Hour)
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range r.Expired {
		fmt.Printf("secret %d (%s) expired at %s: rotate now\n", s.ID, s.Description, s.Expiry)
	}
	for _, s := range r.ExpiringSoon {
		fmt.Printf("secret %d (%s) expires at %s: rotate it\n", s.ID, s.Description, s.Expiry)
	}
	for _, s := range r.Retiring {
		fmt.Printf("secret %d (%s) expires at %s, replaced by a newer one\n", s.ID, s.Description, s.Expiry)
	}
	for _, s := range r.Retired {
		fmt.Printf("secret %d (%s) has expired, replaced by a newer one\n", s.ID, s.Description)
	}
	for _, s := range r.NeverExpiring {
		fmt.Printf("secret %d (%s) never expires\n", s.ID, s.Description)
	}
	fmt.Println("locked out in 30 days unless rotated:", r.LockoutAhead())
	// Output:
	// secret 2 (2030 deployment) expires at 2030-06-01T01:00:00Z, replaced by a newer one
	// secret 1 (2029 deployment) has expired, replaced by a newer one
	// secret 4 (legacy) never expires
	// locked out in 30 days unless rotated: false
}

// fixedClock is an identity.Clock that always reads the same time.
type fixedClock time.Time

func (c fixedClock) Now() time.Time                         { return time.Time(c) }
func (c fixedClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// secret is a ClientSecret of the examples' stand-in service.

type secret struct {
	ID          int
	Description string
	Expires     bool
	Expiration  time.Time
}

// wire is the secret as the service writes it: Expiration null when it does not expire.
func (s secret) wire() map[string]any {
	m := map[string]any{"Id": s.ID, "Description": s.Description, "Expires": s.Expires, "Expiration": nil}
	if s.Expires {
		m["Expiration"] = s.Expiration
	}
	return m
}

// fakeService serves the secrets routes of one hybrid client from memory on a loopback
// port, with the discovery and the token endpoint a rotation's proof asks, just enough
// for the examples, and returns a Config that reaches it.
func fakeService(seed ...secret) (identity.Config, func()) {
	var mu sync.Mutex
	stored := slices.Clone(seed)
	next := len(seed)
	base := "/api/v1/Tenants/" + tenantID + "/HybridClients/" + clientID + "/Secrets"
	reply := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+base, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		out := []map[string]any{}
		for _, s := range stored {
			out = append(out, s.wire())
		}
		w.Header().Set("Total-Count", strconv.Itoa(len(stored)))
		reply(w, http.StatusOK, out)
	})
	mux.HandleFunc("POST "+base, func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Description string
			Expires     bool
			Expiration  *time.Time
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Expires != (in.Expiration != nil) {
			reply(w, http.StatusBadRequest, map[string]string{"OperationId": "1", "Error": "bad secret"})
			return
		}
		mu.Lock()
		defer mu.Unlock()
		next++
		s := secret{ID: next, Description: in.Description, Expires: in.Expires}
		if in.Expiration != nil {
			s.Expiration = *in.Expiration
		}
		stored = append(stored, s)
		out := s.wire()
		out["Secret"] = "example-value-" + strconv.Itoa(next)
		reply(w, http.StatusCreated, out)
	})
	mux.HandleFunc("GET "+base+"/{id}", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		id, _ := strconv.Atoi(r.PathValue("id"))
		if i := slices.IndexFunc(stored, func(s secret) bool { return s.ID == id }); i >= 0 {
			reply(w, http.StatusOK, stored[i].wire())
			return
		}
		reply(w, http.StatusNotFound, map[string]string{"OperationId": "1", "Error": "no such secret"})
	})
	mux.HandleFunc("PUT "+base+"/{id}", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Expiration *time.Time }
		_ = json.NewDecoder(r.Body).Decode(&in)
		mu.Lock()
		defer mu.Unlock()
		id, _ := strconv.Atoi(r.PathValue("id"))
		i := slices.IndexFunc(stored, func(s secret) bool { return s.ID == id })
		if i < 0 || in.Expiration == nil {
			reply(w, http.StatusNotFound, map[string]string{"OperationId": "1", "Error": "no such secret"})
			return
		}
		stored[i].Expires, stored[i].Expiration = true, *in.Expiration
		reply(w, http.StatusOK, stored[i].wire())
	})
	mux.HandleFunc("DELETE "+base+"/{id}", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		id, _ := strconv.Atoi(r.PathValue("id"))
		stored = slices.DeleteFunc(stored, func(s secret) bool { return s.ID == id })
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /identity/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		base := "http://" + r.Host + "/identity"
		reply(w, http.StatusOK, map[string]string{"issuer": base, "token_endpoint": base + "/connect/token"})
	})
	// The token endpoint authenticates the client first: a stored secret's value gets past
	// it to the grant, whose made-up code is refused (invalid_grant); any other value is
	// invalid_client.
	mux.HandleFunc("POST /identity/connect/token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		mu.Lock()
		defer mu.Unlock()
		known := slices.ContainsFunc(stored, func(s secret) bool {
			return r.PostForm.Get("client_secret") == "example-value-"+strconv.Itoa(s.ID)
		})
		if r.PostForm.Get("client_id") == clientID && known {
			reply(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
			return
		}
		reply(w, http.StatusBadRequest, map[string]string{"error": "invalid_client"})
	})
	srv := httptest.NewServer(mux)
	return identity.Config{
		Resource:    srv.URL, // http is accepted on a loopback host only
		TenantID:    tenantID,
		Credentials: identity.NewStaticToken(identity.NewSecret("example-token")),
	}, srv.Close
}
