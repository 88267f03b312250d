//go:build race

package perf_test

// Under the race detector, net/http runs several times slower: the tests make a fifth of
// the calls (and walk 10,000 clients), which still shows every property (one token, one
// connection, no new connection on errors, bounded heap); the command makes them all.
const raceScale = 5
