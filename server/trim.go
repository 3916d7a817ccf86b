package server

import (
	"context"
	"log/slog"
	"runtime/debug"
	runtimemetrics "runtime/metrics"
	"syscall"
	"time"
)

// The Go runtime keeps the memory a burst of allocation left free (an import, a
// reload of the read model, the indexing that follows them) for a while, and
// returns it to the operating system slowly, or not at all while the process is
// idle and no collection runs: a paperd that imported a catalog kept hundreds of
// MiB more than its data needs. And between collections the heap grows to twice
// what is live (GOGC=100): at 2.7 million papers, gigabytes of garbage that an
// idle paperd keeps for minutes. trimAfterBursts returns the free memory as soon
// as a burst is over, and again whenever a quiet paperd's heap has grown by a
// quarter since (see trimmer.step).
//
// A soft memory limit (debug.SetMemoryLimit) would hold a quiet heap down too,
// but the heap in use also counts the free room of the allocator's partly used
// spans, which no collection returns: under a limit below it the collector runs
// back to back. A trim is one collection, asked for when there is garbage.

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
	// trimIdleCPU: a burst is also over when the process used less than this
	// share of one CPU in an interval, whatever it allocated. After the votes of
	// bench-scale at 2.7 million papers, paperd was idle by its CPU, and no trim
	// had come 20 s later: most likely its polls of a change log full of the
	// votes' entries (FerretDB decodes every entry to filter them) still
	// allocated more than both thresholds above (not measured at that size).
	trimIdleCPU = 0.1
	// trimGrowth and trimSlack: a quiet paperd is trimmed again once its heap
	// in use has grown by a quarter and 64 MiB since the last trim.
	trimGrowth = 4
	trimSlack  = 64 << 20
)

// trimmer decides, from the bytes allocated so far, the live heap and the heap
// in use sampled every trimEvery, when to return free memory: when a burst has
// just ended, and when a quiet heap has grown since the last trim.
type trimmer struct {
	last      uint64
	burst     uint64 // bytes allocated in the burst so far (0: none)
	intervals uint64 // its intervals
	base      uint64 // the heap in use after the last trim (0: none yet)
}

// Why step trims.
const (
	burstEnded = "a burst of work ended"
	quietGrew  = "the heap grew while paperd was quiet"
)

// step takes the allocation count now, the live heap, the heap in use and the
// share of one CPU the process used in the interval, and returns why to trim
// ("": not now); the caller then reports the heap in use after the trim
// (trimmed).
func (t *trimmer) step(allocated, live, inuse uint64, cpu float64) string {
	d := allocated - t.last
	t.last = allocated
	quiet := max(trimQuiet, live/trimQuietShare)
	if cpu < trimIdleCPU {
		quiet = max(quiet, d)
	}
	grew := ""
	if t.base > 0 && inuse > t.base+t.base/trimGrowth+trimSlack {
		grew = quietGrew
	}
	if t.burst == 0 {
		if d > quiet {
			t.burst, t.intervals = d, 1
			return ""
		}
		return grew
	}
	if d > quiet && d*trimDrop >= t.burst/t.intervals {
		t.burst += d
		t.intervals++
		return ""
	}
	over := t.burst >= trimBurst
	t.burst, t.intervals = 0, 0
	if over {
		return burstEnded
	}
	return grew
}

// trimmed records the heap in use right after a trim.
func (t *trimmer) trimmed(inuse uint64) { t.base = inuse }

// trimAfterBursts returns free memory to the operating system after each burst
// of allocation (256 MiB or more, ended by a quiet interval or one allocating
// under an eighth of the burst's mean), and when a quiet paperd's heap in use
// has grown by a quarter and 64 MiB since the last trim, looking every interval
// (trimEvery) until ctx ends. What the process allocated before it started
// (the read model's restore) counts as a burst.
func trimAfterBursts(ctx context.Context, log *slog.Logger, every time.Duration) {
	sample := []runtimemetrics.Sample{{Name: "/gc/heap/allocs:bytes"}, {Name: "/gc/heap/live:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"}}
	read := func() (allocated, live, inuse uint64) {
		runtimemetrics.Read(sample)
		return sample[0].Value.Uint64(), sample[1].Value.Uint64(), sample[2].Value.Uint64() + sample[3].Value.Uint64()
	}
	t := &trimmer{}
	tick := time.NewTicker(every)
	defer tick.Stop()
	// From 0: the CPU and the allocations of what ran before (the restore)
	// fall in the first interval, which starts a burst of them.
	lastCPU, lastAt := time.Duration(0), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		cpuNow, now := processCPU(), time.Now()
		share := (cpuNow - lastCPU).Seconds() / max(now.Sub(lastAt).Seconds(), 1e-3)
		lastCPU, lastAt = cpuNow, now
		allocated, live, inuse := read()
		why := t.step(allocated, live, inuse, share)
		if why == "" {
			continue
		}
		began := time.Now()
		debug.FreeOSMemory()
		_, _, after := read()
		t.trimmed(after)
		log.Info("free memory returned to the system", "why", why, "took", time.Since(began).Round(time.Millisecond),
			"heap_in_use_before_mib", inuse>>20, "after_mib", after>>20)
	}
}

// processCPU returns the CPU time the process has used, user and system; 0
// when the system does not say.
func processCPU() time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		return 0
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}
