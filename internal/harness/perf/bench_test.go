package perf_test

import (
	"testing"

	"github.com/ocs-go/identity/internal/harness/perf"
)

// The benchmarks run the SDK and the hand-written baseline against the same loopback
// server, interleaved (perf.Pair): time-ratio and allocs-ratio are SDK/baseline.
//
//	go test -bench . -run '^$' ./internal/harness/perf/

// fixedSide starts a fixed server and the Side on it, both stopped when tb ends.
func fixedSide(tb testing.TB) *perf.Side {
	tb.Helper()
	bodies, err := perf.CaptureBodies()
	if err != nil {
		tb.Fatal(err)
	}
	f, err := perf.StartFixed(bodies)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(f.Close)
	s, err := perf.FixedSide(f)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// emulatorSide starts an emulator and the Side on it, stopped when tb ends.
func emulatorSide(tb testing.TB) *perf.Side {
	tb.Helper()
	s, stop, err := perf.StartEmulatorSide()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(stop)
	return s
}

// BenchmarkGet: one hybrid client. "fixed" is a canned-answer server (isolates the
// client's cost); "emulator" is the in-process fake of the service.
func BenchmarkGet(b *testing.B) {
	b.Run("fixed", func(b *testing.B) { perf.Pair(b, fixedSide(b).GetOp()) })
	b.Run("emulator", func(b *testing.B) { perf.Pair(b, emulatorSide(b).GetOp()) })
}

// BenchmarkList: a page of 100 clients.
func BenchmarkList(b *testing.B) {
	b.Run("fixed", func(b *testing.B) { perf.Pair(b, fixedSide(b).ListOp()) })
	b.Run("emulator", func(b *testing.B) { perf.Pair(b, emulatorSide(b).ListOp()) })
}

// BenchmarkCreate: one hybrid client with its first secret, against the canned 201 of
// the fixed server (the emulator would fill up and hash a secret per call).
func BenchmarkCreate(b *testing.B) {
	b.Run("fixed", func(b *testing.B) { perf.Pair(b, fixedSide(b).CreateOp()) })
}
