package identity_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/hybridclients"
)

// A request breaking several rules is refused before anything is sent, with every broken
// rule joined into one error: errors.As finds only the first, ValidationErrors all.
func ExampleValidationErrors() {
	clients, err := hybridclients.New(identity.Config{
		TenantID:    "6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b",
		Credentials: identity.NewStaticToken(identity.NewSecret("a-token")),
	})
	if err != nil {
		panic(err)
	}
	_, err = clients.Create(context.Background(), hybridclients.CreateRequest{
		Name:                "Billing\n",
		RedirectURIs:        []string{"javascript:alert(1)"},
		AccessTokenLifetime: time.Second,
	})

	var first *identity.ValidationError
	fmt.Println(errors.As(err, &first), first.Field)
	for _, ve := range identity.ValidationErrors(err) {
		fmt.Println(ve.Field)
	}
	// Output:
	// true Name
	// Name
	// RedirectURIs[0]
	// AccessTokenLifetime
}
