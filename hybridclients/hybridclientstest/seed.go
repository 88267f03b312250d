package hybridclientstest

import "fmt"

// SeedSecrets gives every hybrid client without a secret (SeedClients makes them so) from
// minPer to maxPer secrets, without HTTP, drawn at random from seed: of every 20, on
// average, 1 has expired, 2 expire within 30 days, 1 never expires and 16 expire in one
// to two years, by the fake's clock. Their values are not kept anywhere: they are for
// listing and auditing.
func (s *Server) SeedSecrets(minPer, maxPer int, seed int64) error {
	if err := s.em.SeedSecrets(s.TenantID, minPer, maxPer, seed); err != nil {
		return fmt.Errorf("hybridclientstest: SeedSecrets: %w", err)
	}
	return nil
}
