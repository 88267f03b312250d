package desired

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ocs-go/identity"
)

const (
	idA = "3f2c4e1a-1111-4222-8333-444455556666"
	idB = "3f2c4e1a-1111-4222-8333-444455556667"
	idC = "3f2c4e1a-1111-4222-8333-444455556668"
)

// problemsOf returns the problems of a *FileError as "line:path: rule" strings, and fails
// the test when err is not one.
func problemsOf(t *testing.T, err error) []Problem {
	t.Helper()
	var fe *FileError
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v, want a *FileError", err)
	}
	if !errors.Is(err, identity.ErrInvalidInput) {
		t.Errorf("a *FileError does not match ErrInvalidInput")
	}
	return fe.Problems
}

// wantProblem checks that problems hold one at path and line whose rule contains word.
func wantProblem(t *testing.T, problems []Problem, path string, line int, word string) {
	t.Helper()
	for _, p := range problems {
		if p.Path == path {
			if p.Line != line || !strings.Contains(p.Rule, word) {
				t.Errorf("%s: line %d, rule %q; want line %d and a rule saying %q", path, p.Line, p.Rule, line, word)
			}
			return
		}
	}
	t.Errorf("no problem at %s (want line %d, %q); got %v", path, line, word, problems)
}

func TestParseReportsEveryBrokenRuleWithItsPathAndLine(t *testing.T) {
	file := `version: 1
clients:
  - id: ` + idA + `
    name: Billing
    redirectURIs:
      - https://billing.example.com/cb
      - javascript:alert(1)
    accessTokenLifetime: 2h
    secrets:
      lifetime: 10d
      retire: sometimes
      grace: soon
  - id: not-a-guid
    name: "   "
    enabled: yes
    tags: billing
  - name: Reports
    redirectURIs: []
removed: [` + idB + `, nope]
`
	_, err := Parse([]byte(file), YAML)
	problems := problemsOf(t, err)
	wantProblem(t, problems, "clients[0].redirectURIs[1]", 7, "runs or shows")
	wantProblem(t, problems, "clients[0].accessTokenLifetime", 8, "from 1m0s to 1h0m0s")
	wantProblem(t, problems, "clients[0].secrets.lifetime", 10, "longer than RenewBefore")
	wantProblem(t, problems, "clients[0].secrets.retire", 11, `"all" or "expired"`)
	wantProblem(t, problems, "clients[0].secrets.grace", 12, "duration")
	wantProblem(t, problems, "clients[1].id", 13, "GUID")
	wantProblem(t, problems, "clients[1].name", 14, "blank")
	wantProblem(t, problems, "clients[1].enabled", 15, "true or false")
	wantProblem(t, problems, "clients[1].tags", 16, "list")
	wantProblem(t, problems, "clients[1].redirectURIs", 13, "1 to 10 URIs")
	// A key left out is placed at the start of the client that lacks it.
	wantProblem(t, problems, "clients[2].id", 17, "must be set")
	wantProblem(t, problems, "clients[2].redirectURIs", 18, "1 to 10 URIs")
	wantProblem(t, problems, "removed[1]", 19, "GUID")
	if len(problems) != 13 {
		t.Errorf("%d problems, want 13:\n%v", len(problems), err)
	}
	for i := 1; i < len(problems); i++ {
		if problems[i].Line < problems[i-1].Line {
			t.Errorf("problems out of file order: line %d after %d", problems[i].Line, problems[i-1].Line)
		}
	}
	// Every problem is also an *identity.ValidationError naming its path.
	if got := len(identity.ValidationErrors(err)); got != len(problems) {
		t.Errorf("ValidationErrors lists %d, want %d", got, len(problems))
	}
	if !strings.Contains(err.Error(), "desired state:7:9: clients[0].redirectURIs[1]: ") {
		t.Errorf("the message does not start a problem with its place: %v", err)
	}
}

func TestParseJSONReportsLinesFromOffsets(t *testing.T) {
	file := "{\n  \"version\": 1,\n  \"clients\": [\n    {\"id\": \"" + idA + "\",\n     \"name\": \"Billing\",\n" +
		"     \"redirectURIs\": [\"https://billing.example.com/cb\", \"ftp://x\"],\n     \"enabled\": \"yes\",\n     \"logoURI\": \"not a url\"}\n  ]\n}\n"
	_, err := Parse([]byte(file), JSON)
	problems := problemsOf(t, err)
	wantProblem(t, problems, "clients[0].redirectURIs[1]", 6, "another protocol")
	wantProblem(t, problems, "clients[0].enabled", 7, "true or false")
	wantProblem(t, problems, "clients[0].logoURI", 8, "http or https")
	for _, p := range problems {
		if p.Path == "clients[0].enabled" && p.Column != 17 {
			t.Errorf("enabled at column %d, want 17", p.Column)
		}
	}

	for _, tc := range []struct {
		name, file string
		line       int
	}{
		{"syntax", "{\n  \"version\": 1,\n  \"clients\": [\n    {\"id\": 3,}\n  ]\n}", 4},
		{"cut short", "{\n  \"version\": 1,\n  \"clients\": [", 3},
		{"trailing", "{\"version\": 1, \"clients\": []}\n{}", 2},
	} {
		_, err := Parse([]byte(tc.file), JSON)
		ps := problemsOf(t, err)
		if len(ps) != 1 || ps[0].Line != tc.line {
			t.Errorf("%s: %v, want one problem on line %d", tc.name, err, tc.line)
		}
	}
}

func TestParseRefusesUnknownKeysWithoutShowingTheirValues(t *testing.T) {
	file := `version: 1
clients:
  - id: ` + idA + `
    name: Billing
    redirectUris: [https://billing.example.com/cb]
    secret: hunter2-do-not-show
`
	_, err := Parse([]byte(file), YAML)
	problems := problemsOf(t, err)
	wantProblem(t, problems, "clients[0].redirectUris", 5, `did you mean "redirectURIs"?`)
	wantProblem(t, problems, "clients[0].secret", 6, "not a known key")
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("the error shows the value of an unknown key: %v", err)
	}
	// The required key is reported missing too, at the client that lacks it.
	wantProblem(t, problems, "clients[0].redirectURIs", 3, "1 to 10 URIs")
}

// A value pasted where a mapping or a list belongs (a secret's value under "secrets:", the
// key taken for the secret's place) is never shown: the error says a single value was
// given, and its length.
func TestParseNeverShowsAValueWhereAMappingOrListBelongs(t *testing.T) {
	const value = "Xq9vK2mP7sT4wZ1cR8bN3hJ6fD0aL5eY"
	for _, tc := range []struct {
		name   string
		format Format
		doc    string
		path   string
		line   int
		rule   string
	}{
		{"yaml mapping", YAML, "version: 1\nclients:\n  - id: " + idA + "\n    name: Billing\n    redirectURIs: [https://b.example.com/cb]\n    secrets: " + value + "\n",
			"clients[0].secrets", 6, "must be a mapping of keys to values, not a single value of 32 characters (not shown)"},
		{"json mapping", JSON, `{"version":1,"clients":[{"id":"` + idA + `","name":"Billing","redirectURIs":["https://b.example.com/cb"],"secrets":"` + value + `"}]}`,
			"clients[0].secrets", 1, "must be a mapping of keys to values, not a single value of 32 characters (not shown)"},
		{"yaml list", YAML, "version: 1\nclients:\n  - id: " + idA + "\n    name: Billing\n    redirectURIs: " + value + "\n",
			"clients[0].redirectURIs", 5, "must be a list, not a single value of 32 characters (not shown)"},
		{"json list", JSON, `{"version":1,"clients":[{"id":"` + idA + `","name":"Billing","redirectURIs":["https://b.example.com/cb"],"tags":"` + value + `"}]}`,
			"clients[0].tags", 1, "must be a list, not a single value of 32 characters (not shown)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc), tc.format)
			problems := problemsOf(t, err)
			wantProblem(t, problems, tc.path, tc.line, tc.rule)
			if strings.Contains(err.Error(), value) || strings.Contains(fmt.Sprintf("%+v", problems), value) {
				t.Error("the error shows the value given where a mapping or list belongs") // not printed here either
			}
		})
	}
}

func TestParseNamesBothPlacesOfARepeatedID(t *testing.T) {
	file := `version: 1
clients:
  - id: ` + idA + `
    name: A
    redirectURIs: [https://a.example.com/cb]
  - id: ` + strings.ToUpper(idA) + `
    name: B
    redirectURIs: [https://b.example.com/cb]
removed:
  - ` + idA + `
`
	_, err := Parse([]byte(file), YAML)
	problems := problemsOf(t, err)
	wantProblem(t, problems, "clients[1].id", 6, "clients[0].id (line 3)")
	wantProblem(t, problems, "removed[0]", 10, "clients[0].id (line 3)")
}

func TestParseRefusesARepeatedKey(t *testing.T) {
	file := "{\"version\": 1, \"clients\": [{\"id\": \"" + idA + "\", \"name\": \"A\",\n \"name\": \"B\", \"redirectURIs\": [\"https://a/\"]}]}"
	_, err := Parse([]byte(file), JSON)
	wantProblem(t, problemsOf(t, err), "clients[0].name", 2, "must not repeat the key \"name\" of line 1")
}

func TestParseRefusesWhatIsNotOneDesiredState(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		format     Format
		word       string
	}{
		{"empty", "", YAML, "is empty"},
		{"empty JSON", "  \n", JSON, "is empty"},
		{"comment only", "# nothing\n", YAML, "is empty"},
		{"no version", "clients: []\n", YAML, "version: 1"},
		{"wrong version", "version: 2\nclients: []\n", YAML, "must be 1"},
		{"two documents", "version: 1\nclients: []\n---\nversion: 1\n", YAML, "one YAML document"},
		{"a list", "- a\n", YAML, "mapping"},
		{"bad YAML", "version: 1\nclients: [\n", YAML, "valid YAML"},
		{"not UTF-8", "version: 1\nclients: []\nremoved: [\"\xff\"]\n", YAML, "UTF-8"},
		{"no format", "version: 1", "toml", `"yaml" or "json"`},
	} {
		_, err := Parse([]byte(tc.file), tc.format)
		var fe *FileError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.word) {
			t.Errorf("%s: err = %v, want a *FileError saying %q", tc.name, err, tc.word)
		}
	}
}

// An alias bomb (a billion laughs) is refused, not expanded into memory.
func TestParseRefusesAYAMLAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 10; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	start := time.Now()
	_, err := Parse([]byte(b.String()), YAML)
	if !strings.Contains(fmt.Sprint(err), "values") {
		t.Fatalf("err = %v, want a refusal of the size", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestParseReadsDurationsInDaysAndGoForm(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"30d": 30 * day, "1d12h": 36 * time.Hour, "720h": 720 * time.Hour, "90m": 90 * time.Minute,
		"1h30m": 90 * time.Minute, "0d": 0, "45s": 45 * time.Second,
	} {
		got, err := parseDuration(in)
		if err != nil || got != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
		if back, _ := parseDuration(formatDuration(want)); back != want {
			t.Errorf("formatDuration(%v) = %q reads back as %v", want, formatDuration(want), back)
		}
	}
	for _, in := range []string{"", "d", "30", "1.5d", "-1d", "1d-2h", "30 days", "1w", "9999999999d"} {
		if _, err := parseDuration(in); err == nil {
			t.Errorf("parseDuration(%q) accepted", in)
		}
	}
	for d, want := range map[time.Duration]string{time.Hour: "1h", 30 * time.Minute: "30m", 90 * time.Minute: "1h30m", 365 * day: "365d", 90 * time.Second: "1m30s"} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

// randomState makes a valid State with every setting used somewhere.
func randomState(rng *rand.Rand, n int) State {
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	var s State
	for i := range n {
		c := Client{
			ID:                          fmt.Sprintf("%08x-0000-4000-8000-%012x", rng.Uint32(), i),
			Name:                        pick("Billing", "Reports: web app", "ünïcode ✓", "name with 'quotes' and \"double\"", "yes", "123", "null", "- dash"),
			AllowRefreshTokens:          rng.IntN(2) == 0,
			AllowAccessTokensViaBrowser: rng.IntN(2) == 0,
			RedirectURIs:                []string{"https://app.example.com/cb"},
		}
		if rng.IntN(2) == 0 {
			c.Enabled = ptr(rng.IntN(2) == 0)
		}
		if rng.IntN(2) == 0 {
			c.AccessTokenLifetime = time.Duration(60+rng.IntN(3541)) * time.Second
		}
		for j := range rng.IntN(3) {
			c.RedirectURIs = append(c.RedirectURIs, fmt.Sprintf("%s/%d", pick("com.example.app:/cb", "http://127.0.0.1:8400/cb", "https://x.example.com/a"), j))
		}
		for j := range rng.IntN(3) {
			c.PostLogoutRedirectURIs = append(c.PostLogoutRedirectURIs, fmt.Sprintf("https://out.example.com/%d", j))
		}
		if rng.IntN(2) == 0 {
			c.ClientURI = "https://app.example.com"
			c.LogoURI = "https://app.example.com/logo.png"
		}
		switch rng.IntN(3) {
		case 0:
			c.Tags = []string{}
		case 1:
			c.Tags = []string{pick("billing", "team a"), "prod"}
		}
		if rng.IntN(2) == 0 {
			c.Secrets = &SecretPolicy{Lifetime: time.Duration(31+rng.IntN(400)) * day, RenewBefore: time.Duration(rng.IntN(30)) * day,
				Grace: time.Duration(rng.IntN(48)) * time.Hour, Retire: pick("", "all", "expired"), Description: pick("", "web app"),
				MaxAge: time.Duration(rng.IntN(3)) * 100 * day, ProofTimeout: time.Duration(rng.IntN(3)) * 30 * time.Minute}
		}
		s.Clients = append(s.Clients, c)
	}
	if rng.IntN(2) == 0 {
		s.Removed = []string{fmt.Sprintf("%08x-0000-4000-9000-000000000000", rng.Uint32())}
	}
	return s
}

// normal fills in what Marshal writes out explicitly, so that states compare as the
// same clients.
func normal(s State) State {
	out := State{Removed: s.Removed}
	for _, c := range s.Clients {
		if c.Enabled == nil {
			c.Enabled = ptr(true)
		}
		if c.AccessTokenLifetime == 0 {
			c.AccessTokenLifetime = time.Hour
		}
		out.Clients = append(out.Clients, c)
	}
	return out
}

func TestMarshalThenParseGivesTheSameClients(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for round := range 50 {
		s := randomState(rng, 1+rng.IntN(5))
		if err := s.Validate(); err != nil {
			t.Fatalf("round %d: the generated state is invalid: %v", round, err)
		}
		for _, f := range []Format{YAML, JSON} {
			data, err := Marshal(s, f)
			if err != nil {
				t.Fatal(err)
			}
			back, err := Parse(data, f)
			if err != nil {
				t.Fatalf("round %d, %s: %v\n%s", round, f, err, data)
			}
			if diff := cmp.Diff(normal(s), normal(*back)); diff != "" {
				t.Fatalf("round %d, %s: (-wrote +read)\n%s\n%s", round, f, diff, data)
			}
		}
	}
}

// Every field of Client and SecretPolicy has a key in the file, so that a broken rule
// found by State.Validate can be placed, and Marshal and Parse carry every setting.
func TestEveryClientFieldHasAFileKey(t *testing.T) {
	for _, typ := range []reflect.Type{reflect.TypeFor[Client](), reflect.TypeFor[SecretPolicy]()} {
		for i := range typ.NumField() {
			name := typ.Field(i).Name
			if _, ok := goKeys[name]; !ok {
				t.Errorf("%s.%s has no key in the file", typ.Name(), name)
			}
		}
	}
	if got := filePath("Clients[3].Secrets.RenewBefore"); got != "clients[3].secrets.renewBefore" {
		t.Errorf("filePath = %q", got)
	}
}

func FuzzParse(f *testing.F) {
	good, _ := Marshal(randomState(rand.New(rand.NewPCG(1, 2)), 3), YAML)
	goodJSON, _ := Marshal(randomState(rand.New(rand.NewPCG(1, 2)), 3), JSON)
	for _, seed := range [][]byte{good, goodJSON, []byte("version: 1\nclients: [{id: x}]\n"), []byte("{\"version\":1,\"clients\":[{}]}"), []byte("a: &a [*a]\n")} {
		f.Add(seed, true)
		f.Add(seed, false)
	}
	f.Fuzz(func(t *testing.T, data []byte, yaml bool) {
		format := JSON
		if yaml {
			format = YAML
		}
		s, err := Parse(data, format)
		if err == nil {
			if verr := s.Validate(); verr != nil {
				t.Fatalf("Parse accepted a state that Validate refuses: %v", verr)
			}
			return
		}
		var fe *FileError
		if !errors.As(err, &fe) || len(fe.Problems) == 0 {
			t.Fatalf("err = %v, want a *FileError with problems", err)
		}
	})
}
