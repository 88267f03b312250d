package secrets

import (
	"strconv"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/transport"
)

// Kind is the type of client whose secrets a Client manages. The service has the same
// secrets routes for hybrid clients and for client-credential clients.
type Kind string

const (
	// HybridClients selects /HybridClients/{clientId}/Secrets.
	HybridClients Kind = "HybridClients"
	// ClientCredentialClients selects /ClientCredentialClients/{clientId}/Secrets.
	ClientCredentialClients Kind = "ClientCredentialClients"
)

// MaxPerClient is the service's limit of secrets per client.
const MaxPerClient = 10

// Client calls the secrets routes of one tenant's clients of one Kind. Every operation
// needs the Tenant Administrator role. It is safe for concurrent use.
type Client struct {
	t    *transport.Client
	kind Kind
	now  func() time.Time // the clock of defaults, rotation and grace periods; tests set it
}

// New returns a Client for the secrets of cfg's tenant's clients of the given kind. It
// validates cfg and makes no network call. hybridclients.Client.Secrets returns one that
// shares the hybrid clients' connections.
func New(cfg identity.Config, kind Kind) (*Client, error) {
	if kind != HybridClients && kind != ClientCredentialClients {
		return nil, &identity.ValidationError{Field: "kind", Rule: "must be HybridClients or ClientCredentialClients", Value: string(kind)}
	}
	t, err := transport.New(cfg)
	if err != nil {
		return nil, err
	}
	return &Client{t: t, kind: kind, now: time.Now}, nil
}

// CloseIdleConnections closes idle connections of the Client, as
// http.Client.CloseIdleConnections does.
func (c *Client) CloseIdleConnections() { c.t.CloseIdleConnections() }

// Kind returns the type of client whose secrets c manages.
func (c *Client) Kind() Kind { return c.kind }

// path returns the route segments of a client's secrets, or of one secret when id > 0,
// after checking the ids.
func (c *Client) path(clientID string, id ...int) ([]string, error) {
	if err := transport.CheckPathSegment("clientID", clientID); err != nil {
		return nil, err
	}
	p := []string{string(c.kind), clientID, "Secrets"}
	for _, n := range id {
		if n <= 0 || n > 1<<31-1 {
			return nil, &identity.ValidationError{Field: "secretID", Rule: "must be a positive 32-bit integer", Value: n}
		}
		p = append(p, strconv.Itoa(n))
	}
	return p, nil
}
