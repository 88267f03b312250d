// Package live holds the tests that run the SDK against a real tenant; they are built
// only with -tags live (see live_test.go) and skip unless the environment names a tenant.
package live
