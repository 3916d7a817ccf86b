package clock_test

import (
	"sync"
	"testing"
	"time"

	"github.com/papercatalog/papers/clock"
)

func TestFakeStandsStillUntilMoved(t *testing.T) {
	start := time.Date(2026, 11, 29, 23, 59, 59, 0, time.UTC)
	f := clock.NewFake(start)
	if got := f.Now(); !got.Equal(start) {
		t.Fatalf("Now %v, want %v", got, start)
	}
	if got := f.Now(); !got.Equal(start) {
		t.Errorf("a second read moved the clock: %v", got)
	}
	if got := f.Advance(time.Second); !got.Equal(start.Add(time.Second)) || !f.Now().Equal(got) {
		t.Errorf("after Advance: %v, Now %v", got, f.Now())
	}
	f.Set(start.Add(-time.Hour))
	if got := f.Now(); !got.Equal(start.Add(-time.Hour)) {
		t.Errorf("after Set: %v", got)
	}
	// Concurrent readers and writers (run with -race).
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				f.Advance(time.Millisecond)
				_ = f.Now()
			}
		})
	}
	wg.Wait()
	if got := f.Now(); !got.Equal(start.Add(-time.Hour + 400*time.Millisecond)) {
		t.Errorf("after 400 advances of 1ms: %v", got)
	}
}

func TestOrFallsBackToTheSystemClock(t *testing.T) {
	before := time.Now()
	got := clock.Or(nil).Now()
	if got.Before(before) || got.After(time.Now()) {
		t.Errorf("clock.Or(nil).Now() = %v, not the system's time", got)
	}
	f := clock.NewFake(time.Unix(0, 0))
	if clock.Or(f) != clock.Clock(f) {
		t.Error("clock.Or(f) is not f")
	}
}
