package pager

import "github.com/google/uuid"

// NewIDs returns a Set of ids that holds an id in the canonical form of a GUID (36
// characters, lower case: the service's and this SDK's) in 16 bytes, and any other id as
// its text. An exact walk over a tenant's 50,000 clients then remembers them in about
// 1.2 MB (24 bytes a client, map overhead included) instead of about three times that.
func NewIDs() Set[string] {
	return &ids{guids: map[uuid.UUID]struct{}{}, other: map[string]struct{}{}}
}

type ids struct {
	guids map[uuid.UUID]struct{}
	other map[string]struct{}
}

// guid returns id's 16 bytes when id is a GUID in canonical form. Only that form: an id
// in upper case or braces is another string to the service, and must stay another key.
func guid(id string) (uuid.UUID, bool) {
	if len(id) != 36 {
		return uuid.UUID{}, false
	}
	for i := 0; i < len(id); i++ {
		if 'A' <= id[i] && id[i] <= 'F' {
			return uuid.UUID{}, false
		}
	}
	u, err := uuid.Parse(id) // at 36 characters, hex digits with hyphens at 8, 13, 18, 23
	return u, err == nil
}

func (s *ids) Add(id string) bool {
	if u, ok := guid(id); ok {
		return mapSet[uuid.UUID](s.guids).Add(u)
	}
	return mapSet[string](s.other).Add(id)
}

func (s *ids) Has(id string) bool {
	if u, ok := guid(id); ok {
		_, met := s.guids[u]
		return met
	}
	_, met := s.other[id]
	return met
}
