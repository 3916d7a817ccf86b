package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/status"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	subscriptionv1 "github.com/papercatalog/papers/gen/papers/subscription/v1"
)

// The adversarial-search section runs one paperd (default search limits) on the
// catalog section's papers and upvotes, under the mixed load's workers and mix.
// The mix runs alone for advBaseline, then -adversarial-clients clients send
// searches built to be expensive (many regular expressions, fuzzy terms and
// prefixes, patterns that match most words, *) as fast as paperd answers them,
// ignoring Retry-After and defeating paperd's cache of search pages (each call
// asks for another page size), for -adversarial-duration, and the mix goes on for
// advDrain after they stop (on main, searches kept running after their clients
// had gone). It reports how far paperd's heap rose above its level under the
// mix alone, and GetPaper's p99 under the mix alone and beside the adversaries.

const (
	advBaseline = 10 * time.Second
	advDrain    = 5 * time.Second
	// The targets.
	advHeapTarget = 200 << 20
	advGetP99     = 50 * time.Millisecond
)

// adversarialResult is the adversarial-search section of the benchmark.
type adversarialResult struct {
	Papers    int     `json:"papers"`
	Workers   int     `json:"mix_workers"`
	Clients   int     `json:"adversarial_clients"`
	DurationS float64 `json:"adversarial_duration_s"`
	// HeapGrowth is the peak of go_memstats_heap_inuse_bytes from the
	// adversaries' start to advDrain after their end, minus its mean under the
	// mix alone; LiveHeapGrowth the same of the heap the last GC left live, and
	// RSSGrowth of process_resident_memory_bytes.
	HeapBaseline   float64 `json:"heap_inuse_bytes_baseline"`
	HeapPeak       float64 `json:"heap_inuse_bytes_peak"`
	HeapGrowth     float64 `json:"heap_inuse_growth_bytes"`
	LiveHeapGrowth float64 `json:"live_heap_growth_bytes"`
	RSSGrowth      float64 `json:"rss_growth_bytes"`
	HeapTarget     float64 `json:"heap_growth_target_bytes"`
	// HeapPeakOverPeak is HeapPeak minus the peak of heap in use under the mix
	// alone: the target compares a peak with a mean, which counts the GC's own
	// sawtooth (heap in use swings between the live heap and twice it) as
	// growth, the more so the more the mix allocates. Not a target; shown beside.
	HeapPeakOverPeak float64 `json:"heap_inuse_peak_over_baseline_peak_bytes"`
	// GetP99ms is gRPC GetPaper's p99 while the adversaries ran; BaseGetP99ms
	// under the mix alone.
	GetP99ms     float64 `json:"get_p99_ms"`
	BaseGetP99ms float64 `json:"baseline_get_p99_ms"`
	GetP99Target float64 `json:"get_p99_target_ms"`
	TargetsMet   bool    `json:"targets_met"`
	// Mix is the mixed load's calls while the adversaries ran; Base under the
	// mix alone.
	Mix  []mixedCall `json:"mix_calls"`
	Base []mixedCall `json:"baseline_calls"`
	// Adversarial counts the adversaries' searches by outcome and query.
	Adversarial []advQuery `json:"adversarial_searches"`
	Failures    []string   `json:"failures,omitempty"`
}

// advQuery is one adversarial query's outcomes.
type advQuery struct {
	Name  string           `json:"name"`
	Count int64            `json:"requests"`
	P50ms float64          `json:"p50_ms"`
	MaxMs float64          `json:"max_ms"`
	Codes map[string]int64 `json:"codes"`
	// Message is the first refusal's message, as a user reads it.
	Message string `json:"message,omitempty"`
}

func (a adversarialResult) err() error {
	if len(a.Failures) == 0 {
		return nil
	}
	return fmt.Errorf("adversarial: %s", strings.Join(a.Failures, "; "))
}

// adversarialQueries are the searches the adversaries send, by name.
func adversarialQueries(voc *vocabulary) [][2]string {
	var regexps, prefixes, fuzzy []string
	for c := 'a'; c <= 'z'; c++ {
		regexps = append(regexps, fmt.Sprintf("/.*%c.*/", c))
		prefixes = append(prefixes, fmt.Sprintf("%c*", c))
	}
	var short []string
	for _, w := range voc.words {
		if len(w) >= 4 && len(w) <= 6 && !slices.Contains(short, w) {
			short = append(short, w)
		}
		if len(short) == 26 {
			break
		}
	}
	for _, w := range short {
		fuzzy = append(fuzzy, w+"~2")
	}
	return [][2]string{
		{"20 regular expressions", strings.Join(regexps[:20], " ")},
		{"*", "*"},
		{"26 fuzzy words", strings.Join(fuzzy, " ")},
		{"26 one-letter prefixes", strings.Join(prefixes, " ")},
		{"one regexp matching most words", "/.*e.*/"},
		{"4 one-letter prefixes", "a* e* i* o*"},
		{"4 fuzzy words", strings.Join(fuzzy[:min(4, len(fuzzy))], " ")},
		{"2 regexps splitting the alphabet", "/.*[a-m].*/ /.*[n-z].*/"},
		{"4 three-letter prefixes", "con* pro* tra* dif*"},
	}
}

func runAdversarialBench(ctx context.Context, o options, bin, tmp string, voc *vocabulary, logf func(string, ...any)) (adversarialResult, error) {
	res := adversarialResult{Papers: o.papers, Workers: o.mixedWorkers, Clients: o.advClients, DurationS: o.advDuration.Seconds(),
		HeapTarget: advHeapTarget, GetP99Target: float64(advGetP99) / float64(time.Millisecond)}
	pd, ld, conns, err := startMixedLoad(ctx, o, bin, filepath.Join(tmp, "adversarial-paperd"), voc, logf, "adversarial")
	if err != nil {
		return res, err
	}
	defer pd.stop()
	defer closeAll(conns)
	httpBase := "http://" + pd.httpAddr
	queries := adversarialQueries(voc)
	logf("adversarial: the mix (%d workers) alone for %v, then with %d clients sending expensive searches for %v, then %v more of the mix",
		o.mixedWorkers, advBaseline, o.advClients, o.advDuration, advDrain)

	// Phases: warm-up (2 s, not recorded), baseline, adversaries, drain (not
	// recorded). Each worker records a call in the phase it began in.
	now := time.Now()
	baseStart := now.Add(mixedWarmup)
	advStart := baseStart.Add(advBaseline)
	advEnd := advStart.Add(o.advDuration)
	end := advEnd.Add(advDrain)
	var baseFrom, advFrom, never atomic.Int64
	baseFrom.Store(baseStart.UnixNano())
	advFrom.Store(advStart.UnixNano())
	ld.start.Store(baseStart.UnixNano())
	ld.end.Store(end.UnixNano())
	var wg sync.WaitGroup
	baseRecs, advRecs := make([]*recorder, o.mixedWorkers), make([]*recorder, o.mixedWorkers)
	for w := range o.mixedWorkers {
		baseRecs[w], advRecs[w] = newRecorder(&baseFrom), newRecorder(&advFrom)
		tail := newRecorder(&never) // the drain: not recorded, errors aside
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w)+2000, 0x5eed)) //nolint:gosec // load pattern, not secrets
			cat := catalogv1.NewCatalogServiceClient(conns[w%len(conns)])
			sub := subscriptionv1.NewSubscriptionServiceClient(conns[w%len(conns)])
			for !ld.over() && ctx.Err() == nil {
				rec := baseRecs[w]
				switch t := time.Now(); {
				case t.After(advEnd):
					rec = tail
				case t.After(advStart):
					rec = advRecs[w]
				}
				ld.one(ctx, r, cat, sub, rec)
			}
		})
	}

	// The adversaries.
	type outcome struct {
		lat  []time.Duration
		code map[string]int64
		msg  string
	}
	var advMu sync.Mutex
	outcomes := map[string]*outcome{}
	var adv sync.WaitGroup
	for c := range o.advClients {
		adv.Go(func() {
			cat := catalogv1.NewCatalogServiceClient(conns[c%len(conns)])
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Until(advStart)):
			}
			for i := c; time.Now().Before(advEnd) && ctx.Err() == nil; i++ {
				q := queries[i%len(queries)]
				// A page size of its own each time, so that no answer comes
				// from paperd's cache of search pages.
				t, _, code, err := call(ctx, cat.SearchPapers, &catalogv1.SearchPapersRequest{Query: q[1], PageSize: int32(1 + i%100)}) //nolint:gosec // < 101
				took := time.Since(t)
				advMu.Lock()
				oc := outcomes[q[0]]
				if oc == nil {
					oc = &outcome{code: map[string]int64{}}
					outcomes[q[0]] = oc
				}
				oc.lat = append(oc.lat, took)
				oc.code[code]++
				if err != nil && oc.msg == "" && code != "ResourceExhausted" {
					oc.msg = status.Convert(err).Message()
				}
				advMu.Unlock()
			}
		})
	}

	// paperd's memory, every half second.
	metricsClient := &http.Client{Timeout: 5 * time.Second}
	var base, during []metricSample
	for time.Now().Before(end) && ctx.Err() == nil {
		s, err := scrapeMetrics(ctx, metricsClient, httpBase+"/metrics")
		switch t := time.Now(); {
		case err != nil:
		case t.After(advStart):
			during = append(during, s)
		case t.After(baseStart):
			base = append(base, s)
		}
		time.Sleep(500 * time.Millisecond)
	}
	adv.Wait()
	wg.Wait()
	if ctx.Err() != nil {
		return res, ctx.Err()
	}

	res.Base, res.Mix = merged(baseRecs).callFigures(advBaseline), merged(advRecs).callFigures(o.advDuration)
	for _, c := range res.Base {
		if c.Name == "GetPaper" {
			res.BaseGetP99ms = c.P99ms
		}
	}
	for _, c := range res.Mix {
		if c.Name == "GetPaper" {
			res.GetP99ms = c.P99ms
		}
		if c.Errors > 0 {
			res.Failures = append(res.Failures, fmt.Sprintf("the mix's %s had %d errors beside the adversaries %v", c.Name, c.Errors, c.Codes))
		}
	}
	names := make([]string, 0, len(outcomes))
	for n := range outcomes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		oc := outcomes[n]
		slices.Sort(oc.lat)
		q := advQuery{Name: n, Count: int64(len(oc.lat)), Codes: oc.code, Message: oc.msg,
			P50ms: percentileMs(oc.lat, 50), MaxMs: percentileMs(oc.lat, 100)}
		for code := range oc.code {
			if code != "OK" && code != "InvalidArgument" && code != "ResourceExhausted" {
				res.Failures = append(res.Failures, fmt.Sprintf("adversarial search %q answered %s", n, code))
			}
		}
		res.Adversarial = append(res.Adversarial, q)
	}
	if len(base) == 0 || len(during) == 0 {
		res.Failures = append(res.Failures, "no /metrics samples")
		return res, nil
	}
	res.HeapBaseline = meanOf(base, func(s metricSample) float64 { return s.heapInuse })
	peak := func(f func(metricSample) float64) float64 {
		m := 0.0
		for _, s := range during {
			m = max(m, f(s))
		}
		return m
	}
	res.HeapPeak = peak(func(s metricSample) float64 { return s.heapInuse })
	res.HeapGrowth = res.HeapPeak - res.HeapBaseline
	basePeak := 0.0
	for _, s := range base {
		basePeak = max(basePeak, s.heapInuse)
	}
	res.HeapPeakOverPeak = res.HeapPeak - basePeak
	res.LiveHeapGrowth = peak(metricSample.liveHeap) - meanOf(base, metricSample.liveHeap)
	res.RSSGrowth = peak(func(s metricSample) float64 { return s.rss }) - meanOf(base, func(s metricSample) float64 { return s.rss })
	res.TargetsMet = res.HeapGrowth < advHeapTarget && res.GetP99ms < res.GetP99Target
	return res, nil
}

func (a adversarialResult) print(out io.Writer) {
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	_, _ = fmt.Fprintf(out, "adversarial searches: %d clients for %.0fs beside the mix (%d workers) on %d papers:\n", a.Clients, a.DurationS, a.Workers, a.Papers)
	tw := newTable(out)
	_, _ = fmt.Fprintln(tw, "figure\tvalue\ttarget\t\t")
	_, _ = fmt.Fprintf(tw, "heap in use, peak growth over the mix alone (%.0f MiB)\t%+.1f MiB\t< %.0f MiB\t%s\t\n",
		a.HeapBaseline/(1<<20), a.HeapGrowth/(1<<20), a.HeapTarget/(1<<20), verdict(a.HeapGrowth < a.HeapTarget))
	_, _ = fmt.Fprintf(tw, "GetPaper p99 beside the adversaries\t%.2f ms\t< %.0f ms\t%s\t\n", a.GetP99ms, a.GetP99Target, verdict(a.GetP99ms < a.GetP99Target))
	_, _ = fmt.Fprintf(tw, "GetPaper p99, mix alone\t%.2f ms\t\t\t\n", a.BaseGetP99ms)
	_, _ = fmt.Fprintf(tw, "heap in use, peak over the mix alone's peak (not a target)\t%+.1f MiB\t\t\t\n", a.HeapPeakOverPeak/(1<<20))
	_, _ = fmt.Fprintf(tw, "live heap, peak growth (not a target)\t%+.1f MiB\t\t\t\n", a.LiveHeapGrowth/(1<<20))
	_, _ = fmt.Fprintf(tw, "RSS, peak growth (not a target)\t%+.1f MiB\t\t\t\n", a.RSSGrowth/(1<<20))
	_ = tw.Flush()
	tw = newTable(out)
	_, _ = fmt.Fprintln(tw, "mix call\treq/s alone\tp99 ms alone\treq/s beside\tp99 ms beside\terrors beside\t")
	for _, c := range a.Mix {
		var b mixedCall
		for _, x := range a.Base {
			if x.Name == c.Name {
				b = x
			}
		}
		_, _ = fmt.Fprintf(tw, "%s\t%.0f\t%.2f\t%.0f\t%.2f\t%d\t\n", c.Name, b.RPS, b.P99ms, c.RPS, c.P99ms, c.Errors)
	}
	_ = tw.Flush()
	tw = newTable(out)
	_, _ = fmt.Fprintln(tw, "adversarial search\trequests\tp50 ms\tmax ms\toutcomes\tfirst refusal\t")
	for _, q := range a.Adversarial {
		msg := q.Message
		if len(msg) > 90 {
			msg = msg[:90] + "…"
		}
		_, _ = fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f\t%v\t%s\t\n", q.Name, q.Count, q.P50ms, q.MaxMs, q.Codes, msg)
	}
	_ = tw.Flush()
	switch {
	case len(a.Failures) > 0:
		_, _ = fmt.Fprintf(out, "adversarial: FAIL: %s\n", strings.Join(a.Failures, "; "))
	case a.TargetsMet:
		_, _ = fmt.Fprintln(out, "adversarial: PASS (targets met, no errors in the mix)")
	default:
		_, _ = fmt.Fprintln(out, "adversarial: targets MISSED (no errors in the mix)")
	}
}
