package server

import (
	"context"
	"log/slog"
	"runtime/debug"
	runtimemetrics "runtime/metrics"
	"time"
)

// The Go runtime keeps the memory a burst of allocation left free (an import, a
// reload of the read model, the indexing that follows them) for a while, and
// returns it to the operating system slowly, or not at all while the process is
// idle and no collection runs: a paperd that imported a catalog kept hundreds of
// MiB more than its data needs. trimmer returns it as soon as a burst is over.

const (
	trimEvery = 5 * time.Second
	// trimBurst is how much a burst allocates before its end is worth a trim.
	trimBurst = 256 << 20
	// trimQuiet is the most allocated in trimEvery that never starts a burst.
	trimQuiet = 16 << 20
	// trimDrop: a burst is over when an interval allocates less than this
	// fraction of the burst's mean. Quiet is relative: an idle paperd on a large
	// embedded database still allocates tens of MiB an interval (the change-log
	// poll's scans), and a busy one serving calls more than that.
	trimDrop = 8
)

// trimmer decides, from the bytes allocated so far sampled every trimEvery,
// when a burst has just ended.
type trimmer struct {
	last      uint64
	burst     uint64 // bytes allocated in the burst so far (0: none)
	intervals uint64 // its intervals
}

// step takes the allocation count now and reports whether to trim.
func (t *trimmer) step(allocated uint64) bool {
	d := allocated - t.last
	t.last = allocated
	if t.burst == 0 {
		if d > trimQuiet {
			t.burst, t.intervals = d, 1
		}
		return false
	}
	if d*trimDrop >= t.burst/t.intervals {
		t.burst += d
		t.intervals++
		return false
	}
	over := t.burst >= trimBurst
	t.burst, t.intervals = 0, 0
	return over
}

// trimAfterBursts returns free memory to the operating system after each burst
// of allocation (256 MiB or more, ended by an interval allocating less than an
// eighth of the burst's mean), until ctx ends.
func trimAfterBursts(ctx context.Context, log *slog.Logger) {
	sample := []runtimemetrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	allocated := func() uint64 {
		runtimemetrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	t := &trimmer{last: allocated()}
	tick := time.NewTicker(trimEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if t.step(allocated()) {
			began := time.Now()
			debug.FreeOSMemory()
			log.Debug("free memory returned to the system after a burst of work", "took", time.Since(began).Round(time.Millisecond))
		}
	}
}
