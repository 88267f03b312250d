package emulator

import (
	"fmt"
	"maps"
	"strings"
)

// User is a person who can sign in to a tenant through the sign-in page.
type User struct {
	// Subject is the user's stable id, the ID token's sub; empty on AddUser means a new GUID.
	Subject string
	// Name is the display name (the name claim); required.
	Name string
	// Email is the email claim; optional.
	Email string
	// Claims are more claims for the ID token and userinfo (a JSON value each). They may
	// not replace a registered claim (sub, iss, aud, exp, iat, nonce, name, email, ...).
	Claims map[string]any
	// Role is what the user's access token may do with the management API; zero is RoleNone.
	Role Role
}

// The user every tenant starts with; its Subject is a new GUID per tenant.
const (
	DefaultUserName  = "Ada Lovelace"
	DefaultUserEmail = "ada@example.com"
)

// reservedClaim reports whether the emulator sets the claim itself, so that a user's
// Claims may not hold it.
func reservedClaim(name string) bool {
	switch name {
	case "iss", "sub", "aud", "exp", "iat", "nbf", "jti", "nonce", "auth_time", "azp", "at_hash",
		"c_hash", "acr", "amr", "sid", "idp", "name", "email", "scope", "client_id":
		return true
	}
	return false
}

func (u User) clone() User {
	u.Claims = maps.Clone(u.Claims)
	return u
}

// AddUser adds a user to the tenant (creating the tenant if needed) and returns it with
// its Subject filled in. It refuses an empty name, a subject already in use in the tenant
// and a claim the emulator sets itself.
func (e *Emulator) AddUser(tenantID string, u User) (User, error) {
	if strings.TrimSpace(u.Name) == "" {
		return User{}, fmt.Errorf("the user has no Name, which is required")
	}
	for k := range u.Claims {
		if reservedClaim(k) {
			return User{}, fmt.Errorf("claim %q is set by the fake itself and may not be given", k)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.tenantLocked(tenantID)
	if u.Subject == "" {
		u.Subject = newGUID()
	}
	if t.user(u.Subject) != nil {
		return User{}, fmt.Errorf("subject %q already exists in the tenant", u.Subject)
	}
	if u.Role == 0 {
		u.Role = RoleNone
	}
	u = u.clone()
	t.users = append(t.users, &u)
	return u.clone(), nil
}

// Users returns the tenant's users in the order added (the default user first); nil if the
// tenant is unknown.
func (e *Emulator) Users(tenantID string) []User {
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.tenants[key(tenantID)]
	if t == nil {
		return nil
	}
	out := make([]User, 0, len(t.users))
	for _, u := range t.users {
		out = append(out, u.clone())
	}
	return out
}

// user finds a user by subject.
func (t *tenant) user(subject string) *User {
	for _, u := range t.users {
		if u.Subject == subject {
			return u
		}
	}
	return nil
}

// findUser finds a user by what a person types: subject, name or email, case-insensitively.
func (t *tenant) findUser(typed string) *User {
	typed = strings.TrimSpace(typed)
	for _, u := range t.users {
		if u.Subject == typed || strings.EqualFold(u.Name, typed) || (u.Email != "" && strings.EqualFold(u.Email, typed)) {
			return u
		}
	}
	return nil
}
