package hybridclients_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
	"github.com/ocs-go/identity/secrets"
)

// CreateRequest.Validate reports the same broken rules as Create, all at once, and
// accepts what Create accepts.
func TestCreateRequestValidateReportsEveryBrokenRule(t *testing.T) {
	ok := hybridclients.CreateRequest{Name: "Billing", RedirectURIs: []string{"https://billing.example.com/cb"}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("a valid request: %v", err)
	}
	bad := hybridclients.CreateRequest{
		ID:                  "not-a-guid",
		Name:                " ",
		RedirectURIs:        []string{"https://a.example.com/cb", "javascript:alert(1)"},
		AccessTokenLifetime: 30 * time.Second,
		Tags:                []string{""},
		LogoURI:             "ftp://logo",
		SecretDescription:   "two\nlines",
		SecretExpiry:        secrets.ExpiresAt(time.Now().Add(-time.Hour)),
	}
	err := bad.Validate()
	if !errors.Is(err, identity.ErrInvalidInput) {
		t.Fatalf("err = %v, want ErrInvalidInput", err)
	}
	var fields []string
	for _, ve := range identity.ValidationErrors(err) {
		fields = append(fields, ve.Field)
	}
	want := []string{"ID", "Name", "RedirectURIs[1]", "AccessTokenLifetime", "Tags[0]", "LogoURI", "SecretDescription", "SecretExpiry"}
	for _, f := range want {
		if !slices.Contains(fields, f) {
			t.Errorf("no broken rule on %s; got %v", f, fields)
		}
	}
}
