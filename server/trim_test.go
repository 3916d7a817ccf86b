package server

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
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
		if got := tr.step(allocated, 100*mib, 200*mib, 1) == burstEnded; got != s.trim {
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
		if tr.step(allocated, live, 2*live, 0.3) != "" {
			t.Fatalf("step %d: trimmed during the votes", i)
		}
	}
	for range 3 { // idle: the polls and checkpoints of a large catalog
		allocated += 30 * mib
		if tr.step(allocated, live, 2*live, 0.3) == burstEnded {
			trims++
		}
	}
	if trims != 1 {
		t.Errorf("after the votes, idle: %d trims, want 1", trims)
	}
	// The same intervals on a small heap are a burst's.
	small := &trimmer{}
	small.step(100*mib, 200*mib, 300*mib, 0.3)
	if small.burst == 0 {
		t.Error("100 MiB in an interval on a 200 MiB heap did not start a burst")
	}
}

// A quiet paperd's heap grows with what it allocates until the collector runs,
// at twice the live heap: it is trimmed again once it has grown by a quarter
// and 64 MiB since the last trim, and never during a burst.
func TestTrimmerTrimsAQuietHeapThatGrew(t *testing.T) {
	t.Parallel()
	const live = 1000 * mib
	tr := &trimmer{}
	allocated := uint64(0)
	step := func(add, inuse uint64) bool {
		allocated += add
		return tr.step(allocated, live, inuse, 0.02) == quietGrew
	}
	if step(5*mib, 3000*mib) {
		t.Error("trimmed a quiet heap before any trim gave a base")
	}
	tr.trimmed(1100 * mib)
	if step(5*mib, 1100*mib+275*mib+64*mib) {
		t.Error("trimmed at exactly a quarter and 64 MiB of growth")
	}
	if !step(5*mib, 1100*mib+275*mib+65*mib) {
		t.Error("not trimmed past a quarter and 64 MiB of growth")
	}
	tr.trimmed(1100 * mib)
	busy := func(add, inuse uint64) string {
		allocated += add
		return tr.step(allocated, live, inuse, 0.8)
	}
	if busy(500*mib, 2000*mib) != "" || busy(500*mib, 2100*mib) != "" {
		t.Error("trimmed during a burst")
	}
}

// After the votes at 2.7 million papers, paperd's polls of a change log full
// of the votes' entries still allocated more than the quiet share and an
// eighth of the votes' mean, on under 5% of a CPU: an interval of so little
// CPU ends the burst whatever it allocates.
func TestTrimmerEndsABurstWhenTheCPUIsIdle(t *testing.T) {
	t.Parallel()
	const live = 2700 * mib
	tr := &trimmer{}
	var allocated uint64
	for range 10 { // votes: 250 MiB an interval on 40% of a CPU
		allocated += 250 * mib
		if why := tr.step(allocated, live, 2*live, 0.4); why != "" {
			t.Fatalf("trimmed during the votes: %s", why)
		}
	}
	allocated += 80 * mib // polls: more than 1/64 of the live heap and an eighth of 250 MiB
	if why := tr.step(allocated, live, 2*live, 0.3); why != "" {
		t.Fatalf("an interval on 30%% of a CPU ended the burst: %s", why)
	}
	allocated += 80 * mib
	if why := tr.step(allocated, live, 2*live, 0.04); why != burstEnded {
		t.Errorf("an interval on 4%% of a CPU: %q, want %q", why, burstEnded)
	}
}

// syncBuffer is a log's output written by the trimmer's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var sink [][]byte

// Not parallel: it allocates a burst and waits for the process to be quiet.
func TestTrimAfterBurstsReturnsMemoryOnceABurstIsOver(t *testing.T) {
	var out syncBuffer
	log := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		trimAfterBursts(ctx, log, 50*time.Millisecond)
	}()
	// What the tests before allocated counts as a burst: wait for its trim,
	// or for a few quiet intervals.
	for i := 0; i < 40 && !strings.Contains(out.String(), burstEnded); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	before := len(out.String())
	for range 320 { // a burst: 320 MiB
		sink = append(sink, make([]byte, mib))
		if len(sink) > 16 {
			sink = sink[1:]
		}
	}
	sink = nil
	after := func() string { return out.String()[before:] }
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && !strings.Contains(after(), burstEnded) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	if !strings.Contains(after(), burstEnded) {
		t.Fatalf("no trim after a burst of 320 MiB; log after it:\n%s", after())
	}
}
