package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocs-go/identity/examples/internal/exampleenv"
	"github.com/ocs-go/identity/hybridclients/hybridclientstest"
)

// cancelAtProof cancels a context when the first proof's token request goes out: the
// new secrets are added by then (not stored), and wait for the identity server.
type cancelAtProof struct {
	base   http.RoundTripper
	cancel context.CancelFunc
	once   sync.Once
}

func (c *cancelAtProof) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/connect/token") && r.Body != nil {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if strings.Contains(string(body), "grant_type=authorization_code") {
			c.once.Do(c.cancel)
		}
	}
	return c.base.RoundTrip(r)
}

// runStopped runs the example on an emulator (an hour of propagation), stopping it (as
// Ctrl-C does) once the rotations wait for their proof.
func runStopped(t *testing.T, args ...string) (status int, stdout string, srv *hybridclientstest.Server, err error) {
	t.Helper()
	env := &exampleenv.Env{}
	srv = hybridclientstest.NewServer(t, &hybridclientstest.Options{Now: env.Now, PropagationDelay: time.Hour})
	env.Fake = srv
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	env.Config = srv.Config()
	env.Config.HTTPClient = &http.Client{Transport: &cancelAtProof{base: tr, cancel: cancel}}
	p := exampleenv.New("rotate-policy", "")
	o := addFlags(p)
	if err := p.Flags.Parse(append([]string{"-store", t.TempDir()}, args...)); err != nil {
		t.Fatal(err)
	}
	if err := p.Check(); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	status, err = run(ctx, env, o, &out, &errOut)
	return status, out.String(), srv, err
}

// Stopped while the new secrets wait for their proof, the example still prints what it
// did: each client begun, its new secret deleted again (never stored) and its old ones
// untouched, marked partial; and it fails (exit status 1), as the run did not finish.
func TestAStoppedRunPrintsWhatItDidMarkedPartial(t *testing.T) {
	status, out, srv, err := runStopped(t)
	if status != 0 || !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "the report is partial") {
		t.Fatalf("status %d, error %v; want the partial report's error (exit status 1)", status, err)
	}
	if !regexp.MustCompile(`(?m)\APARTIAL REPORT: the run stopped after 6 clients \(interrupted\)`).MatchString(out) {
		t.Errorf("stdout does not begin with the partial mark:\n%s", out)
	}
	begun := 0
	for _, c := range srv.Clients() {
		ids := srv.SecretIDs(c.ID)
		if !slices.Equal(ids, []int{1}) {
			t.Errorf("client %s holds secrets %v, want the old one alone", c.Name, ids)
		}
		line := regexp.MustCompile(`(?m)^not proven +` + c.ID + ` .*new secret ` + "2" + ` was added, but .*it was deleted again.*old secrets \[1\] are untouched`)
		if line.MatchString(out) {
			begun++
		}
	}
	if begun != 3 || !strings.Contains(out, "6 clients as of ") || !strings.Contains(out, "3 not proven") {
		t.Errorf("%d rotations begun on the service, want 3, each reported:\n%s", begun, out)
	}
}

func TestAStoppedRunMarksItsJSONReportPartial(t *testing.T) {
	_, out, _, err := runStopped(t, "-json")
	var rep struct {
		Partial *struct{ Reason string }
		Clients []struct{ Outcome string }
	}
	if jerr := json.Unmarshal([]byte(out), &rep); jerr != nil || err == nil {
		t.Fatalf("%v, %v:\n%s", jerr, err, out)
	}
	if rep.Partial == nil || rep.Partial.Reason != "interrupted" || len(rep.Clients) != 6 {
		t.Errorf("partial %+v, %d clients; want interrupted, 6:\n%s", rep.Partial, len(rep.Clients), out)
	}
}
