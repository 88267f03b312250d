package hybridclientstest

import (
	"time"

	"github.com/ocs-go/identity/internal/emulator"
)

// This package keeps its own copy of the emulator's Options, Fault, Role, Op, Stats, User
// and client record, and maps them here, one function per type. A type alias would show
// users `type Fault = emulator.Fault` with no fields and no docs (the emulator is
// internal), and the emulator cannot import this package (this package imports it, and
// the emulator imports no SDK package by design). The copies are this package's public,
// documented API, in the SDK's names (AllowRefreshTokens, AccessTokenLifetime as a
// Duration); mirror_test.go fails when a field is added on either side and not mapped.

func (o *Options) toEmulator() emulator.Options {
	if o == nil {
		return emulator.Options{}
	}
	now := o.Now
	if o.Clock != nil {
		now = o.Clock.Now
	}
	return emulator.Options{
		MaxClients: o.MaxClients, TokenLifetime: o.TokenLifetime, Now: now,
		PropagationDelay: o.PropagationDelay, WithholdRefreshTokens: o.WithholdRefreshTokens,
		Latency: o.Latency, LatencyJitter: o.LatencyJitter,
		RateLimit: o.RateLimit, RateBurst: o.RateBurst, Seed: o.Seed,
	}
}

func (f Fault) toEmulator() emulator.Fault {
	return emulator.Fault{
		Op: emulator.Op(f.Op), Status: f.Status, RetryAfter: f.RetryAfter, Delay: f.Delay, HTML: f.HTML, Location: f.Location,
		Truncate: f.Truncate, CutAfterCommit: f.CutAfterCommit, ResetBeforeAct: f.ResetBeforeAct,
		Times: f.Times, EveryNth: f.EveryNth, Probability: f.Probability, Seed: f.Seed,
	}
}

func (u User) toEmulator() emulator.User {
	return emulator.User{Subject: u.Subject, Name: u.Name, Email: u.Email, Claims: u.Claims, Role: emulator.Role(u.Role)}
}

func userFrom(u emulator.User) User {
	return User{Subject: u.Subject, Name: u.Name, Email: u.Email, Claims: u.Claims, Role: Role(u.Role)}
}

func recordFrom(c emulator.ClientInfo) ClientRecord {
	return ClientRecord{
		ID: c.ID, Name: c.Name, Enabled: c.Enabled, Tags: c.Tags, SecretIDs: c.SecretIDs,
		AllowRefreshTokens:     c.AllowOfflineAccess,
		AccessTokenLifetime:    time.Duration(c.AccessTokenLifetime) * time.Second,
		RedirectURIs:           c.RedirectURIs,
		PostLogoutRedirectURIs: c.PostLogoutRedirectURIs,
	}
}

// statsFrom adds connections, which the Server counts itself (the emulator is a handler
// and sees no connections).
func statsFrom(st emulator.Stats, connections int) Stats {
	out := Stats{TokenRequests: st.TokenRequests, Requests: make(map[Op]int, len(st.Requests)),
		Connections: connections, Throttled: st.Throttled}
	for op, n := range st.Requests {
		out.Requests[Op(op)] = n
	}
	return out
}
