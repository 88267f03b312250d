package emulator

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// SeedSecrets gives every hybrid client of the tenant that has no secret from minPer to maxPer
// secrets, without HTTP, drawn from a source seeded with seed (the same seed and clients
// give the same secrets, but for their values). Of every 20 secrets, on average: 1 has
// expired, 2 expire within 30 days, 1 never expires, and 16 expire in one to two years
// (all relative to Options.Now). Values are random and not returned: seeded secrets are
// for listing and auditing, not for signing in.
func (e *Emulator) SeedSecrets(tenantID string, minPer, maxPer int, seed int64) error {
	if minPer < 0 || maxPer < minPer || maxPer > maxSecrets {
		return fmt.Errorf("seeding %d to %d secrets per client: want 0 <= min <= max <= %d", minPer, maxPer, maxSecrets)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.tenants[key(tenantID)]
	if t == nil {
		return fmt.Errorf("unknown tenant %q", tenantID)
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5ec7))
	now := e.now().UTC().Truncate(time.Second)
	day := 24 * time.Hour
	for _, c := range t.order {
		if len(c.secrets) > 0 {
			continue
		}
		for i := range minPer + rng.IntN(maxPer-minPer+1) {
			var exp *time.Time
			switch k := rng.IntN(20); {
			case k == 0:
				exp = timeAt(now.Add(-time.Duration(1+rng.IntN(90)) * day))
			case k <= 2:
				exp = timeAt(now.Add(time.Duration(1+rng.IntN(29)) * day))
			case k == 3:
				// never expires
			default:
				exp = timeAt(now.Add(time.Duration(365+rng.IntN(365)) * day))
			}
			c.addSecret(fmt.Sprintf("seeded secret %d", i+1), exp)
		}
	}
	return nil
}

func timeAt(t time.Time) *time.Time { return &t }
