package hybridclientstest

import "time"

// Op names one route of the service, for faults and statistics.
type Op string

// The routes of the service.
const (
	OpDiscovery    Op = "Discovery"
	OpToken        Op = "Token"
	OpAuthorize    Op = "Authorize"  // the sign-in page, /identity/connect/authorize
	OpSignIn       Op = "SignIn"     // the sign-in page's form, /identity/account/login
	OpUserInfo     Op = "UserInfo"   // /identity/connect/userinfo
	OpEndSession   Op = "EndSession" // /identity/connect/endsession
	OpJWKS         Op = "JWKS"       // /identity/.well-known/openid-configuration/jwks
	OpListClients  Op = "ListClients"
	OpCountClients Op = "CountClients"
	OpCreateClient Op = "CreateClient"
	OpGetClient    Op = "GetClient"
	OpClientExists Op = "ClientExists"
	OpUpdateClient Op = "UpdateClient"
	OpDeleteClient Op = "DeleteClient"
	OpListSecrets  Op = "ListSecrets"
	OpCountSecrets Op = "CountSecrets"
	OpAddSecret    Op = "AddSecret"
	OpGetSecret    Op = "GetSecret"
	OpSecretExists Op = "SecretExists"
	OpUpdateSecret Op = "UpdateSecret"
	OpDeleteSecret Op = "DeleteSecret"
)

// Fault makes some requests to the fake misbehave, to test how code copes with a failing
// service. Set one effect (or Delay alone) and, optionally, a schedule.
type Fault struct {
	// Op is the route; empty means every management API route (not discovery, token or
	// the sign-in endpoints).
	Op Op
	// Status answers with this status and an ErrorResponse body, without acting.
	Status int
	// RetryAfter, with Status, sends a Retry-After header (whole seconds).
	RetryAfter time.Duration
	// Delay waits this long (or until the request is cancelled) before anything else.
	Delay time.Duration
	// HTML, with Status, sends an HTML page instead, as a gateway does.
	HTML bool
	// Location, with a 3xx Status, is sent as the Location header: a redirect, for
	// example of the token endpoint to another origin, which a client must not follow.
	Location string
	// Truncate acts (the change is made) but sends only the first half of the JSON body.
	Truncate bool
	// CutAfterCommit acts (the change is made) and then closes the connection without an
	// answer: the caller cannot know the outcome.
	CutAfterCommit bool
	// ResetBeforeAct closes the connection without acting.
	ResetBeforeAct bool

	// Times fires the fault at most this many times (1: once); zero means no limit.
	Times int
	// EveryNth fires only on every Nth matching request.
	EveryNth int
	// Probability, between 0 and 1, fires the fault at random, drawn from a source seeded
	// with Seed so a test is reproducible.
	Probability float64
	Seed        int64
}

// Inject adds a fault; faults are checked in the order added and the first that fires
// applies. Call the returned function to remove it.
func (s *Server) Inject(f Fault) (remove func()) {
	return s.em.Inject(f.toEmulator())
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() { s.em.ClearFaults() }
