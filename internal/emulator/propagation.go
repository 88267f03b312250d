package emulator

import (
	"slices"
	"time"
)

// clientView is what the sign-in plane knows of a hybrid client: a copy, merged from the
// client's recent states when there is a propagation delay (signinClient).
type clientView struct {
	id, tenant       string // tenant: the tenant's id as created
	name             string
	enabled          bool
	lifetime         int32
	redirect, logout []string
	offline, browser bool
	secrets          []*secret // copies, never shared with the live client
}

// version is one state of a client as the management plane left it at a moment; view nil
// means deleted.
type version struct {
	at   time.Time
	view *clientView
}

func (c *client) view(tenantID string) *clientView {
	v := &clientView{
		id: c.id, tenant: tenantID, name: c.name, enabled: c.enabled, lifetime: c.lifetime,
		redirect: slices.Clone(c.redirect), logout: slices.Clone(c.logout),
		offline: c.offline, browser: c.browser,
	}
	for _, s := range c.secrets {
		cp := *s
		v.secrets = append(v.secrets, &cp)
	}
	return v
}

func (v *clientView) authenticates(value string, now time.Time) bool {
	return authenticates(v.secrets, value, now)
}

// recordLocked notes a change of client c of tenant t (c nil: clientID was deleted) for
// the sign-in plane and the token endpoint; e.mu is held. Without a propagation delay sign-in reads the live
// clients and nothing is kept.
func (e *Emulator) recordLocked(t *tenant, clientID string, c *client) {
	d := e.opts.PropagationDelay
	if d <= 0 {
		return
	}
	now := e.now()
	var v *clientView
	if c != nil {
		v = c.view(t.id)
	}
	h := append(e.history[key(clientID)], version{at: now, view: v})
	// Keep the newest version sign-in can already see and everything after it.
	cut := 0
	for i, ver := range h {
		if !ver.at.After(now.Add(-d)) {
			cut = i
		}
	}
	e.history[key(clientID)] = slices.Clip(h[cut:])
}

// signinClient returns the hybrid client as the sign-in plane sees it now, or nil when
// sign-in does not know it; e.mu is held.
//
// While a change propagates, the service's sign-in may answer from the old state or the
// new one. The emulator answers as the least favourable of all the states the client had
// during the last PropagationDelay: a client created or a secret, redirect URI or
// permission added less than the delay ago is not known yet, while one deleted, removed,
// disabled or shortened applies at once (see mergeView). Without a delay that is simply
// the live client.
//
// Client ids are GUIDs, so sign-in, which has no tenant in its requests, finds a client by
// id alone.
func (e *Emulator) signinClient(clientID string) *clientView {
	if clientID == "" {
		return nil
	}
	return e.propagated(clientID, func() *clientView {
		for _, t := range e.tenants {
			if c := t.clients[key(clientID)]; c != nil {
				return c.view(t.id)
			}
		}
		return nil
	})
}

// identityView returns client-credential client c as the token endpoint sees it now: its
// secret changes reach the token endpoint after PropagationDelay too (API.md: "secret
// changes can take up to one hour to reach sign-in"). e.mu is held.
func (e *Emulator) identityView(c *client) *clientView {
	return e.propagated(c.id, func() *clientView { return c.view(c.tenantID) })
}

// propagated returns the state of client clientID that sign-in sees now: live (its
// current state, or nil) without a delay, else merged from the history; e.mu is held.
func (e *Emulator) propagated(clientID string, live func() *clientView) *clientView {
	d := e.opts.PropagationDelay
	if d <= 0 {
		return live()
	}
	h := e.history[key(clientID)]
	seen := e.now().Add(-d)
	first := -1 // the state every part of sign-in had reached by now-d
	for i, ver := range h {
		if !ver.at.After(seen) {
			first = i
		}
	}
	if first < 0 {
		return nil // created less than the delay ago
	}
	var out *clientView
	for _, ver := range h[first:] {
		if ver.view == nil {
			return nil // deleted
		}
		out = mergeView(out, ver.view)
	}
	return out
}

// mergeView returns what both states allow: enabled, offline access and tokens via the
// browser only if both allow them, the URIs and secrets both have (a secret expiring at
// the earlier of its two expirations), the shorter token lifetime; name and tenant are the
// later state's.
func mergeView(a, b *clientView) *clientView {
	if a == nil {
		return b
	}
	out := &clientView{
		id: b.id, tenant: b.tenant, name: b.name,
		enabled: a.enabled && b.enabled, lifetime: min(a.lifetime, b.lifetime),
		offline: a.offline && b.offline, browser: a.browser && b.browser,
	}
	for _, u := range a.redirect {
		if slices.Contains(b.redirect, u) {
			out.redirect = append(out.redirect, u)
		}
	}
	for _, u := range a.logout {
		if slices.Contains(b.logout, u) {
			out.logout = append(out.logout, u)
		}
	}
	for _, s := range a.secrets {
		for _, t := range b.secrets {
			if s.id != t.id {
				continue
			}
			cp := *s
			if cp.expiration == nil || t.expiration != nil && t.expiration.Before(*cp.expiration) {
				cp.expiration = t.expiration
			}
			out.secrets = append(out.secrets, &cp)
		}
	}
	return out
}

// changedLocked records the new state of client c (hybrid, or client-credential: its
// secrets reach the token endpoint late too) after a change.
func (e *Emulator) changedLocked(t *tenant, c *client) {
	e.recordLocked(t, c.id, c)
}

// knownSinceLocked records client c as sign-in has known it since the beginning of time:
// an identity added by AddIdentity (outside the API, for the tests' own sign-in) works at
// once, while its later secret changes propagate. e.mu is held.
func (e *Emulator) knownSinceLocked(c *client) {
	if e.opts.PropagationDelay > 0 {
		e.history[key(c.id)] = []version{{view: c.view(c.tenantID)}}
	}
}
