package server

import (
	"context"
	"io"
	"log/slog"
	"math"
	"runtime/debug"
	"testing"
	"time"
)

const mib = 1 << 20

func TestTrimmerTrimsOnceWhenABurstEnds(t *testing.T) {
	t.Parallel()
	tr := &trimmer{}
	var allocated uint64
	steps := []struct {
		add  uint64
		trim bool
	}{
		{1 * mib, false},   // quiet
		{400 * mib, false}, // an import begins
		{500 * mib, false}, // goes on
		{100 * mib, false}, // the indexing after it: still a fifth of the mean
		{30 * mib, true},   // over, though an idle paperd still allocates (polls)
		{30 * mib, false},  // idle: no burst begins, nothing more
		{100 * mib, false}, // a small burst
		{1 * mib, false},   // too small to trim after
		{60 * mib, false},  // steady serving
		{60 * mib, false},  // every interval: no trim while it lasts
		{80 * mib, false},  // however long
		{70 * mib, false},  //
		{50 * mib, false},  // even when it slows a little
		{5 * mib, true},    // until it stops
		{5 * mib, false},   //
	}
	for i, s := range steps {
		allocated += s.add
		if got := tr.step(allocated, 100*mib); got != s.trim {
			t.Errorf("step %d (+%d MiB): trim %v, want %v", i, s.add/mib, got, s.trim)
		}
	}
}

// A burst of votes allocates little an interval, and an idle paperd holding a
// large catalog allocates more than an eighth of that (bench-scale at 500,000
// papers: 5 to 23 MiB an interval, idle): the burst must still end, so the
// memory it left is returned.
func TestTrimmerEndsAMildBurstOnALargeHeap(t *testing.T) {
	t.Parallel()
	const live = 2800 * mib // 2.7 million papers
	tr := &trimmer{}
	var allocated uint64
	trims := 0
	for i := range 60 { // five minutes of votes
		allocated += 90 * mib
		if tr.step(allocated, live) {
			t.Fatalf("step %d: trimmed during the votes", i)
		}
	}
	if tr.quiet() {
		t.Fatal("the votes did not make a burst")
	}
	for range 3 { // idle: the polls and checkpoints of a large catalog
		allocated += 30 * mib
		if tr.step(allocated, live) {
			trims++
		}
	}
	if trims != 1 || !tr.quiet() {
		t.Errorf("after the votes, idle: %d trims, quiet %v; want 1 trim, quiet", trims, tr.quiet())
	}
	// The same intervals on a small heap are not quiet: they are a burst's.
	small := &trimmer{}
	small.step(100*mib, 200*mib)
	if small.quiet() {
		t.Error("100 MiB in an interval on a 200 MiB heap did not start a burst")
	}
}

func TestQuietLimitIsTheLiveHeapAndAQuarterUnderTheStartingLimit(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		live    uint64
		started int64
		want    int64
	}{
		{2800 * mib, math.MaxInt64, 2800*mib + 700*mib + 64*mib},
		{0, math.MaxInt64, 64 * mib},
		{2800 * mib, 3000 * mib, 3000 * mib}, // GOMEMLIMIT stays the ceiling
		{math.MaxUint64 / 2, math.MaxInt64, math.MaxInt64},
	} {
		if got := quietLimit(c.live, c.started); got != c.want {
			t.Errorf("quietLimit(%d MiB, %d MiB) = %d MiB, want %d MiB", c.live/mib, c.started/mib, got/mib, c.want/mib)
		}
	}
}

// Not parallel: the memory limit is the process's.
func TestTrimAfterBurstsHoldsAQuietProcessNearItsLiveHeapAndRestoresTheLimit(t *testing.T) {
	started := debug.SetMemoryLimit(-1)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		trimAfterBursts(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), 10*time.Millisecond)
	}()
	deadline := time.Now().Add(10 * time.Second)
	var quiet int64
	for time.Now().Before(deadline) {
		if quiet = debug.SetMemoryLimit(-1); quiet != started {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if quiet == started {
		t.Fatalf("the memory limit of a quiet test process stayed %d", started)
	}
	if quiet < quietSlack || quiet > 2<<30 {
		t.Errorf("the quiet limit is %d MiB; a test process's live heap is far under 2 GiB", quiet/mib)
	}
	if got := debug.SetMemoryLimit(-1); got != started {
		t.Errorf("after ctx ended the limit is %d, want the starting %d", got, started)
	}
}
