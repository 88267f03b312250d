package emulator

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// Op names one route of the service; faults and statistics are keyed by it.
type Op string

// The routes of the service.
const (
	OpDiscovery Op = "Discovery" // GET /identity/.well-known/openid-configuration
	OpToken     Op = "Token"     // POST /identity/connect/token

	OpAuthorize  Op = "Authorize"  // GET, POST /identity/connect/authorize (the sign-in page)
	OpSignIn     Op = "SignIn"     // POST /identity/account/login (the sign-in page's form)
	OpUserInfo   Op = "UserInfo"   // GET, POST /identity/connect/userinfo
	OpEndSession Op = "EndSession" // GET, POST /identity/connect/endsession
	OpJWKS       Op = "JWKS"       // GET /identity/.well-known/openid-configuration/jwks

	OpListClients  Op = "ListClients"  // GET  .../HybridClients
	OpCountClients Op = "CountClients" // HEAD .../HybridClients
	OpCreateClient Op = "CreateClient" // POST .../HybridClients
	OpGetClient    Op = "GetClient"    // GET  .../HybridClients/{clientId}
	OpClientExists Op = "ClientExists" // HEAD .../HybridClients/{clientId}
	OpUpdateClient Op = "UpdateClient" // PUT  .../HybridClients/{clientId}
	OpDeleteClient Op = "DeleteClient" // DELETE .../HybridClients/{clientId}

	OpListSecrets  Op = "ListSecrets"  // GET  .../{clientId}/Secrets
	OpCountSecrets Op = "CountSecrets" // HEAD .../{clientId}/Secrets
	OpAddSecret    Op = "AddSecret"    // POST .../{clientId}/Secrets
	OpGetSecret    Op = "GetSecret"    // GET  .../{clientId}/Secrets/{secretId}
	OpSecretExists Op = "SecretExists" // HEAD .../{clientId}/Secrets/{secretId}
	OpUpdateSecret Op = "UpdateSecret" // PUT  .../{clientId}/Secrets/{secretId}
	OpDeleteSecret Op = "DeleteSecret" // DELETE .../{clientId}/Secrets/{secretId}
)

// target is a routed request.
type target struct {
	op        Op
	tenantID  string
	clientID  string
	secretsOf string // "" (client routes), "HybridClients" or "ClientCredentialClients"
	secretID  int32
}

// methods maps the HTTP methods of one route shape to their ops.
type methods map[string]Op

var (
	collectionOps = methods{http.MethodGet: OpListClients, http.MethodHead: OpCountClients, http.MethodPost: OpCreateClient}
	clientOps     = methods{http.MethodGet: OpGetClient, http.MethodHead: OpClientExists, http.MethodPut: OpUpdateClient, http.MethodDelete: OpDeleteClient}
	secretsOps    = methods{http.MethodGet: OpListSecrets, http.MethodHead: OpCountSecrets, http.MethodPost: OpAddSecret}
	secretOps     = methods{http.MethodGet: OpGetSecret, http.MethodHead: OpSecretExists, http.MethodPut: OpUpdateSecret, http.MethodDelete: OpDeleteSecret}
)

// allow lists the methods of a route shape for the Allow header, in a stable order.
func (m methods) allow() string {
	var out []string
	for _, k := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete} {
		if _, ok := m[k]; ok {
			out = append(out, k)
		}
	}
	return strings.Join(out, ", ")
}

// route maps a method and path to a target. It returns status 404 for an unknown route and
// 405 (with the allowed methods) for a known route with the wrong method. Literal segments
// match case-insensitively, as ASP.NET routing does.
func route(method, path string) (tgt target, status int, allow string) {
	segs := strings.Split(strings.TrimSuffix(strings.TrimPrefix(path, "/"), "/"), "/")
	for _, s := range segs {
		if s == "" {
			return target{}, http.StatusNotFound, ""
		}
	}
	is := func(i int, lit string) bool { return strings.EqualFold(segs[i], lit) }
	var ms methods
	switch {
	case len(segs) == 3 && is(0, "identity") && is(1, ".well-known") && is(2, "openid-configuration"):
		ms = methods{http.MethodGet: OpDiscovery}
	case len(segs) == 3 && is(0, "identity") && is(1, "connect") && is(2, "token"):
		ms = methods{http.MethodPost: OpToken}
	case len(segs) == 4 && is(0, "identity") && is(1, ".well-known") && is(2, "openid-configuration") && is(3, "jwks"):
		ms = methods{http.MethodGet: OpJWKS}
	case len(segs) == 3 && is(0, "identity") && is(1, "connect") && is(2, "authorize"):
		ms = methods{http.MethodGet: OpAuthorize, http.MethodPost: OpAuthorize}
	case len(segs) == 3 && is(0, "identity") && is(1, "connect") && is(2, "userinfo"):
		ms = methods{http.MethodGet: OpUserInfo, http.MethodPost: OpUserInfo}
	case len(segs) == 3 && is(0, "identity") && is(1, "connect") && is(2, "endsession"):
		ms = methods{http.MethodGet: OpEndSession, http.MethodPost: OpEndSession}
	case len(segs) == 3 && is(0, "identity") && is(1, "account") && is(2, "login"):
		ms = methods{http.MethodPost: OpSignIn}
	case len(segs) >= 5 && is(0, "api") && is(1, "v1") && is(2, "Tenants"):
		tgt.tenantID = segs[3]
		hybrid := is(4, "HybridClients")
		cc := is(4, "ClientCredentialClients")
		switch {
		case hybrid && len(segs) == 5:
			ms = collectionOps
		case hybrid && len(segs) == 6:
			ms, tgt.clientID = clientOps, segs[5]
		case (hybrid || cc) && len(segs) >= 7 && len(segs) <= 8 && is(6, "Secrets"):
			tgt.clientID, tgt.secretsOf = segs[5], "HybridClients"
			if cc {
				tgt.secretsOf = "ClientCredentialClients"
			}
			ms = secretsOps
			if len(segs) == 8 {
				// secretId is an int32; anything else matches no route, as with a route constraint.
				id, err := strconv.ParseInt(segs[7], 10, 32)
				if err != nil {
					return target{}, http.StatusNotFound, ""
				}
				ms, tgt.secretID = secretOps, int32(id)
			}
		}
	}
	if ms == nil {
		return target{}, http.StatusNotFound, ""
	}
	op, ok := ms[method]
	if !ok {
		return target{}, http.StatusMethodNotAllowed, ms.allow()
	}
	tgt.op = op
	return tgt, 0, ""
}

// reply is a response computed under the lock and written after it is released.
type reply struct {
	status      int
	header      http.Header
	contentType string
	body        []byte
}

// write sends the reply. HEAD gets headers only. With truncate, only the first half of the
// body goes out, with a Content-Length that matches that half, so the response is complete
// on the wire but its JSON is cut.
func (rep reply) write(w http.ResponseWriter, r *http.Request, truncate bool) {
	h := w.Header()
	for k, vs := range rep.header {
		h[k] = vs
	}
	body := rep.body
	if r.Method == http.MethodHead {
		body = nil
	}
	if truncate {
		body = body[:len(body)/2]
	}
	if len(body) > 0 {
		h.Set("Content-Type", rep.contentType)
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.WriteHeader(rep.status)
	_, _ = w.Write(body)
}

// jsonReply encodes v as a JSON body.
func jsonReply(status int, v any) reply {
	b, err := json.Marshal(v)
	if err != nil {
		panic("emulator: encoding a response: " + err.Error()) // only our own wire types get here
	}
	return reply{status: status, header: http.Header{}, contentType: "application/json; charset=utf-8", body: b}
}

// withHeader returns the reply with one more header.
func (rep reply) withHeader(k, v string) reply {
	if rep.header == nil {
		rep.header = http.Header{}
	}
	rep.header.Set(k, v)
	return rep
}

// errReply is the service's ErrorResponse for status, with reason saying what went wrong.
func errReply(status int, reason string) reply {
	resolution := "Correct the request and try again."
	switch status {
	case http.StatusUnauthorized:
		resolution = "Provide a valid, unexpired bearer token."
	case http.StatusForbidden:
		resolution = "Use an identity with the required role in this tenant."
	case http.StatusNotFound:
		resolution = "Check the tenant, client and secret ids."
	case http.StatusConflict:
		resolution = "Choose another id, or use the existing client."
	case http.StatusRequestTimeout, http.StatusTooManyRequests:
		resolution = "Retry the request later."
	}
	if status >= 500 {
		resolution = "Retry the request; contact support if the problem persists."
	}
	rep := jsonReply(status, errorOut{
		OperationID: newGUID(),
		Error:       http.StatusText(status),
		Reason:      reason,
		Resolution:  resolution,
		EventID:     strconv.Itoa(status),
	})
	if status == http.StatusUnauthorized {
		rep = rep.withHeader("WWW-Authenticate", "Bearer")
	}
	return rep
}

// api reports whether op is a management API route (under /api/v1), as opposed to the
// identity server's discovery, token and sign-in endpoints.
func (op Op) api() bool {
	switch op {
	case OpDiscovery, OpToken, OpAuthorize, OpSignIn, OpUserInfo, OpEndSession, OpJWKS:
		return false
	}
	return true
}
