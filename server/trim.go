package server

import (
	"context"
	"log/slog"
	"math"
	"runtime/debug"
	runtimemetrics "runtime/metrics"
	"time"
)

// The Go runtime keeps the memory a burst of allocation left free (an import, a
// reload of the read model, the indexing that follows them) for a while, and
// returns it to the operating system slowly, or not at all while the process is
// idle and no collection runs: a paperd that imported a catalog kept hundreds of
// MiB more than its data needs. And between collections the heap grows to twice
// what is live (GOGC=100): at 2.7 million papers, gigabytes of garbage that an
// idle paperd keeps for minutes. trimAfterBursts returns the free memory as soon
// as a burst is over, and while paperd is quiet it holds the heap closer to what
// is live, with a soft memory limit (see quietLimit) that it lifts as soon as
// work begins again.

const (
	trimEvery = 5 * time.Second
	// trimBurst is how much a burst allocates before its end is worth a trim.
	trimBurst = 256 << 20
	// trimQuiet is the most allocated in trimEvery that never starts a burst,
	// and always ends one, at any heap size; a larger live heap allows more
	// (trimQuietShare).
	trimQuiet = 16 << 20
	// trimQuietShare: an interval is quiet when it allocates at most this
	// fraction of the live heap (or trimQuiet). An idle paperd still allocates
	// (the change-log poll, checkpoints of the read model), more on a larger
	// catalog: at 500,000 papers 5 to 23 MiB an interval.
	trimQuietShare = 64
	// trimDrop: a burst is also over when an interval allocates less than this
	// fraction of the burst's mean: a busy paperd serving calls allocates more
	// than the quiet share, and the end of an import is a drop.
	trimDrop = 8
	// quietHeadroom and quietSlack make the memory limit of a quiet paperd: the
	// live heap, a quarter more and 64 MiB.
	quietHeadroom = 4
	quietSlack    = 64 << 20
)

// trimmer decides, from the bytes allocated so far and the live heap sampled
// every trimEvery, when a burst has just ended, and whether paperd is quiet.
type trimmer struct {
	last      uint64
	burst     uint64 // bytes allocated in the burst so far (0: none)
	intervals uint64 // its intervals
}

// step takes the allocation count now and the live heap, and reports whether to
// trim.
func (t *trimmer) step(allocated, live uint64) bool {
	d := allocated - t.last
	t.last = allocated
	quiet := max(trimQuiet, live/trimQuietShare)
	if t.burst == 0 {
		if d > quiet {
			t.burst, t.intervals = d, 1
		}
		return false
	}
	if d > quiet && d*trimDrop >= t.burst/t.intervals {
		t.burst += d
		t.intervals++
		return false
	}
	over := t.burst >= trimBurst
	t.burst, t.intervals = 0, 0
	return over
}

// quiet reports whether no burst is under way.
func (t *trimmer) quiet() bool { return t.burst == 0 }

// quietLimit returns the soft memory limit (see debug.SetMemoryLimit) of a quiet
// paperd whose live heap is live, under the limit the process started with
// (GOMEMLIMIT; math.MaxInt64 when none).
func quietLimit(live uint64, started int64) int64 {
	want := live + live/quietHeadroom + quietSlack
	if want >= uint64(started) { //nolint:gosec // started is positive
		return started
	}
	return int64(want) //nolint:gosec // below started
}

// trimAfterBursts returns free memory to the operating system after each burst
// of allocation (256 MiB or more, ended by a quiet interval or one allocating
// under an eighth of the burst's mean), and holds a quiet paperd's memory to its
// live heap and a quarter (quietLimit), looking every interval (trimEvery)
// until ctx ends; it then restores the limit the process started with.
func trimAfterBursts(ctx context.Context, log *slog.Logger, every time.Duration) {
	sample := []runtimemetrics.Sample{{Name: "/gc/heap/allocs:bytes"}, {Name: "/gc/heap/live:bytes"}}
	read := func() (allocated, live uint64) {
		runtimemetrics.Read(sample)
		return sample[0].Value.Uint64(), sample[1].Value.Uint64()
	}
	started := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(started)
	allocated, _ := read()
	t := &trimmer{last: allocated}
	tick := time.NewTicker(every)
	defer tick.Stop()
	limit := started
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		allocated, live := read()
		trim := t.step(allocated, live)
		next := started
		if t.quiet() {
			next = quietLimit(live, started)
		}
		if next != limit {
			debug.SetMemoryLimit(next)
			limit = next
		}
		if trim {
			began := time.Now()
			debug.FreeOSMemory()
			log.Debug("free memory returned to the system after a burst of work", "took", time.Since(began).Round(time.Millisecond),
				"limit_while_quiet_mib", limitMiB(limit))
		}
	}
}

// limitMiB is a memory limit in MiB for the log, -1 when there is none.
func limitMiB(limit int64) int64 {
	if limit == math.MaxInt64 {
		return -1
	}
	return limit >> 20
}
