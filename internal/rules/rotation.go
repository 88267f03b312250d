package rules

// NeverDue reports whether a client's secrets are never due for rotation, whatever its
// policy says, and why: a disabled client is never due, as the identity server accepts
// none of its secrets, so a new one could never be proven and the old ones never safely
// retired. The rotations of hybridclients (PlanRotations, ApplyRotations) and the plans of
// desired state (Diff) decide by it, so that they never disagree.
func NeverDue(enabled bool) (why string, never bool) {
	if !enabled {
		return "the client is disabled: the identity server accepts none of its secrets, so a new one could never be proven", true
	}
	return "", false
}
