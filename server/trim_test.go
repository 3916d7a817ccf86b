package server

import "testing"

func TestTrimmerTrimsOnceWhenABurstEnds(t *testing.T) {
	t.Parallel()
	tr := &trimmer{}
	var allocated uint64
	steps := []struct {
		add  uint64
		trim bool
	}{
		{1 << 20, false},       // quiet
		{200 << 20, false},     // a burst begins
		{200 << 20, false},     // goes on
		{1 << 20, true},        // is over: trim
		{1 << 20, false},       // quiet: nothing more
		{100 << 20, false},     // a small burst
		{1 << 20, false},       // too small to trim after
		{trimQuiet + 1, false}, // steady serving allocates more than quiet
		{trimQuiet + 1, false}, // every interval: no trim while it lasts
		{trimBurst, false},     // however long
		{trimQuiet + 1, false}, //
		{trimQuiet - 1, true},  // until it stops
		{trimQuiet - 1, false}, //
	}
	for i, s := range steps {
		allocated += s.add
		if got := tr.step(allocated); got != s.trim {
			t.Errorf("step %d (+%d bytes): trim %v, want %v", i, s.add, got, s.trim)
		}
	}
}
