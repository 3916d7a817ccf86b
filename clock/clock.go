// Package clock is where paperd reads the time of day, so that tests can set
// it: every time that is stored, compared with a stored time or decides what
// is due (versions, timestamps, editions, claims, retries, leases) comes from a
// Clock. Durations that only measure or pace real work (latencies, deadlines,
// batching delays, tickers, rate limits) keep using the time package.
package clock

import (
	"sync"
	"time"
)

// Clock tells the time.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
}

// Real is the system's clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// Or returns c, or the system's clock when c is nil (a Clock field left unset).
func Or(c Clock) Clock {
	if c == nil {
		return Real{}
	}
	return c
}

// Fake is a clock that stands still until it is set or advanced; it is safe
// for concurrent use. Tests use it to decide when time passes.
type Fake struct {
	mu  sync.Mutex
	now time.Time
}

// NewFake returns a clock stopped at t.
func NewFake(t time.Time) *Fake {
	return &Fake{now: t}
}

// Now returns the time the clock was set to.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Set moves the clock to t, forward or back.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = t
}

// Advance moves the clock forward by d and returns the new time.
func (f *Fake) Advance(d time.Duration) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	return f.now
}
