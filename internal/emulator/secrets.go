package emulator

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// maxSecrets is the documented limit of secrets per client.
const maxSecrets = 10

// secret is a stored client secret. Its value is never kept: only a salted SHA-256 hash,
// so the emulator, like the service, cannot give a lost value back.
type secret struct {
	id          int32
	description string
	expiration  *time.Time // nil: never expires
	salt        [16]byte
	hash        [sha256.Size]byte
}

func hashSecret(salt [16]byte, value string) [sha256.Size]byte {
	h := sha256.New()
	h.Write(salt[:])
	h.Write([]byte(value))
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}

// addSecret creates a secret with a fresh random value and returns that value, the only
// time it exists in clear.
func (c *client) addSecret(description string, expiration *time.Time) string {
	c.nextID++
	value := randomString(32)
	s := &secret{id: c.nextID, description: description, expiration: expiration}
	_, _ = rand.Read(s.salt[:]) // crypto/rand.Read never fails on supported platforms
	s.hash = hashSecret(s.salt, value)
	c.secrets = append(c.secrets, s)
	return value
}

func (s *secret) expired(now time.Time) bool {
	return s.expiration != nil && !now.Before(*s.expiration)
}

// authenticates reports whether value matches an unexpired secret of the client.
func (c *client) authenticates(value string, now time.Time) bool {
	return authenticates(c.secrets, value, now)
}

// authenticates reports whether value matches one of the unexpired secrets.
func authenticates(secrets []*secret, value string, now time.Time) bool {
	if value == "" {
		return false
	}
	ok := false
	for _, s := range secrets {
		h := hashSecret(s.salt, value)
		if subtle.ConstantTimeCompare(h[:], s.hash[:]) == 1 && !s.expired(now) {
			ok = true
		}
	}
	return ok
}

func (s *secret) out() secretOut {
	return secretOut{ID: s.id, Description: s.description, Expires: s.expiration != nil, Expiration: timePtr(s.expiration)}
}

func (c *client) findSecret(id int32) (int, *secret) {
	for i, s := range c.secrets {
		if s.id == id {
			return i, s
		}
	}
	return -1, nil
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// expiryOnAdd applies the ClientSecretCreateOrUpdate rules of API.md to a new secret.
func expiryOnAdd(in secretIn) (*time.Time, string) {
	expires := in.Expires == nil || *in.Expires
	switch {
	case expires && in.Expiration != nil:
		return utc(in.Expiration), ""
	case expires:
		return nil, "Expiration is required when Expires is true or null."
	case in.Expiration != nil:
		return nil, "Expiration must be null when Expires is false."
	}
	return nil, ""
}

// expiryOnUpdate applies the same rules to an update, where a null property means
// "unchanged". Expires false explicitly makes the secret never expire (otherwise an
// expiring secret could never be made permanent); Expires true with Expiration null keeps
// the current expiration, which must then exist.
func expiryOnUpdate(cur *time.Time, in secretIn) (*time.Time, string) {
	switch {
	case in.Expires != nil && !*in.Expires:
		if in.Expiration != nil {
			return nil, "Expiration must be null when Expires is false."
		}
		return nil, ""
	case in.Expiration != nil:
		return utc(in.Expiration), ""
	case in.Expires != nil && cur == nil:
		return nil, "Expiration is required when Expires is true and the secret does not expire."
	}
	return cur, ""
}

// handleSecrets serves the Secrets routes of a hybrid or client-credential client.
func (e *Emulator) handleSecrets(t *tenant, tgt target, r *http.Request, body []byte) reply {
	c := t.clients[key(tgt.clientID)]
	if tgt.secretsOf == "ClientCredentialClients" {
		c = t.cc[key(tgt.clientID)]
	}
	if c == nil {
		return errReply(http.StatusNotFound, "The client does not exist.")
	}
	switch tgt.op {
	case OpListSecrets:
		skip, count, rep, ok := pageParams(r.URL.Query())
		if !ok {
			return rep
		}
		page := window(c.secrets, skip, count)
		out := make([]secretOut, 0, len(page))
		for _, s := range page {
			out = append(out, s.out())
		}
		return jsonReply(http.StatusOK, out).withHeader("Total-Count", strconv.Itoa(len(c.secrets)))
	case OpCountSecrets:
		return reply{status: http.StatusOK}.withHeader("Total-Count", strconv.Itoa(len(c.secrets)))
	case OpAddSecret:
		return e.addSecretRoute(t, c, r, body)
	}

	i, s := c.findSecret(tgt.secretID)
	if s == nil {
		return errReply(http.StatusNotFound, "The secret does not exist.")
	}
	switch tgt.op {
	case OpGetSecret:
		return jsonReply(http.StatusOK, s.out())
	case OpSecretExists:
		return reply{status: http.StatusOK}
	case OpDeleteSecret:
		c.secrets = slices.Delete(c.secrets, i, i+1)
		e.changedLocked(t, c)
		return reply{status: http.StatusNoContent}
	}
	// OpUpdateSecret
	in, rep, ok := decodeSecret(r, body)
	if !ok {
		return rep
	}
	exp, problem := expiryOnUpdate(s.expiration, in)
	if problem != "" {
		return errReply(http.StatusBadRequest, problem)
	}
	if in.Description != nil {
		s.description = *in.Description
	}
	s.expiration = exp
	e.changedLocked(t, c)
	return jsonReply(http.StatusOK, s.out())
}

func decodeSecret(r *http.Request, body []byte) (secretIn, reply, bool) {
	var in secretIn
	if rep, ok := requireJSON(r); !ok {
		return in, rep, false
	}
	if err := decodeExact(body, &in); err != nil {
		return in, errReply(http.StatusBadRequest, "The request body is not a valid ClientSecretCreateOrUpdate: "+err.Error()), false
	}
	return in, reply{}, true
}

func (e *Emulator) addSecretRoute(t *tenant, c *client, r *http.Request, body []byte) reply {
	in, rep, ok := decodeSecret(r, body)
	if !ok {
		return rep
	}
	exp, problem := expiryOnAdd(in)
	if problem != "" {
		return errReply(http.StatusBadRequest, problem)
	}
	if len(c.secrets) >= maxSecrets {
		return errReply(http.StatusBadRequest, "The client already has the maximum of 10 secrets.")
	}
	desc := ""
	if in.Description != nil {
		desc = *in.Description
	}
	value := c.addSecret(desc, exp)
	s := c.secrets[len(c.secrets)-1]
	e.changedLocked(t, c)
	return jsonReply(http.StatusCreated, secretCreatedOut{secretOut: s.out(), Secret: value})
}
