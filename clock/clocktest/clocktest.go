// Package clocktest starts the fake clocks of tests, at the instant the
// environment asks for: the whole suite can run as if it were, say, one second
// before midnight on a Sunday, or just before a daylight-saving change.
//
//	PAPERS_TEST_NOW=2026-11-29T23:59:59Z go test ./server/
//	PAPERS_TEST_NOW=2026-11-01T01:59:59-04:00 PAPERS_TEST_ZONE=America/New_York go test ./server/
package clocktest

import (
	"os"
	"testing"
	"time"

	"github.com/papercatalog/papers/clock"
)

// The environment variables tests read.
const (
	// NowEnv is the instant (RFC 3339) test clocks start at; unset: the
	// current time.
	NowEnv = "PAPERS_TEST_NOW"
	// ZoneEnv is the IANA time zone of the subscribers tests create; unset:
	// UTC.
	ZoneEnv = "PAPERS_TEST_ZONE"
)

// New returns a fake clock stopped at PAPERS_TEST_NOW, or at the current time
// when it is unset. It fails the test if the variable is not an RFC 3339 time.
func New(t testing.TB) *clock.Fake {
	t.Helper()
	s := os.Getenv(NowEnv)
	if s == "" {
		return clock.NewFake(time.Now().UTC())
	}
	now, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("%s=%q: not an RFC 3339 time such as 2026-11-29T23:59:59Z", NowEnv, s)
	}
	return clock.NewFake(now.UTC())
}

// Zone returns the location PAPERS_TEST_ZONE names, or UTC when it is unset. It
// fails the test if the zone is unknown.
func Zone(t testing.TB) *time.Location {
	t.Helper()
	name := os.Getenv(ZoneEnv)
	if name == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("%s=%q: %v", ZoneEnv, name, err)
	}
	return loc
}
