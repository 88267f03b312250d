// Package faulttest holds the SDK's fault matrix, soak and secret-hygiene tests, run by
// go test against the emulator (hybridclientstest) over loopback. It has no code of its
// own outside tests.
package faulttest
