package server

import "testing"

func TestTrimmerTrimsOnceWhenABurstEnds(t *testing.T) {
	t.Parallel()
	const mib = 1 << 20
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
		if got := tr.step(allocated); got != s.trim {
			t.Errorf("step %d (+%d MiB): trim %v, want %v", i, s.add/mib, got, s.trim)
		}
	}
}
