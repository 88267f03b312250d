package identity

// Version is this SDK's version, sent in the User-Agent header.
const Version = "0.1.0"

// Ptr returns a pointer to v, for the optional fields of update requests:
// hybridclients.UpdateRequest{Name: identity.Ptr("new name")}.
func Ptr[T any](v T) *T { return &v }
