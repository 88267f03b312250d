//go:build !race

package perf_test

const raceScale = 1
