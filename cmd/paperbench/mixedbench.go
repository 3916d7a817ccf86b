package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	subscriptionv1 "github.com/papercatalog/papers/gen/papers/subscription/v1"
)

// The mixed-load section runs one paperd on the embedded database, seeded with
// the catalog section's papers and upvotes, and loads it for -mixed-duration with
// -mixed-workers workers, each drawing its next call from a weighted mix of reads
// and writes, while one ImportPapers stream adds -mixed-import new papers. It
// records every call's latency and outcome, and samples paperd's goroutines and
// memory every second to catch growth under a steady load.

// mixedOps is the mix, by weight (percent). Reads dominate; a share of them goes
// through the REST gateway.
var mixedOps = []struct {
	op     string
	weight int
}{
	{"get", 28}, {"list", 19}, {"daily", 10}, {"trending", 10}, {"search", 14}, {"upvote", 10}, {"subscribe", 5},
	{"create", 1}, {"patch", 2}, {"delete", 1},
}

// writeTarget is the bound on the embedded database: a PATCH and a DELETE
// take at most this many times a create's time (p50 against p50).
const writeTarget = 3.0

const (
	// The mix runs for a warm-up before measuring, as the other sections warm up;
	// its calls are not measured (their errors count all the same). It lasts at
	// least mixedWarmup and until paperd has finished a GC cycle under the load
	// (at most mixedMaxWarmup): until then the live heap /metrics shows is what
	// the start left (building the search index), not the load's, and the first
	// growth window would compare against that.
	mixedWarmup    = 2 * time.Second
	mixedMaxWarmup = 30 * time.Second
	// mixedRESTShare of the reads (get, list, daily, trending, search) go through
	// the REST gateway on the HTTP port, the rest over gRPC. Writes use gRPC.
	mixedRESTShare = 0.25
	// mixedMissingShare of the GetPaper calls ask for a paper that does not exist
	// on purpose: NOT_FOUND (HTTP 404) is their expected outcome, counted apart
	// from errors; an OK to them is an error.
	mixedMissingShare = 0.05
	// mixedUsers is how many users upvote, each with a token of their own.
	mixedUsers = 2000
	// mixedRateLimit is paperd's per-client rate limit of writes, upvotes and
	// subscribes in this section: high enough never to throttle the load, so
	// RESOURCE_EXHAUSTED (HTTP 429) is an error like any other.
	mixedRateLimit = "100000/1s"
	// mixedCallTimeout is the deadline of each call: paperd's own default
	// (PAPERD_REQUEST_TIMEOUT), so a call fails here when paperd would give up on
	// it too. Two shared cores can make calls slow; only a stuck one times out.
	mixedCallTimeout = 30 * time.Second
)

// Growth check. paperd's /metrics is scraped every second of the measured run,
// and the means of its first and of its last window (10 s; a sixth of a run
// shorter than a minute) are compared. The load is the same throughout (a fixed
// number of workers, the same mix), so neither goroutines nor the live heap
// should trend:
//
//   - goroutines fail if last/first > 1.5 and last-first > 50. A leak of one per
//     call (or per stream, connection, subscriber) grows by hundreds a second at
//     this load; the absolute margin keeps background goroutines that come and
//     go (an import stream, the indexer's and vote writer's workers, GC workers)
//     from failing the ratio on a count of a few dozen.
//   - the live heap fails if last/first > 1.5 and last-first > 64 MiB. It is
//     the heap the last GC found live, go_memstats_next_gc_bytes (the GC's goal)
//     divided by 1 + go_gc_gogc_percent/100. go_memstats_heap_inuse_bytes also
//     holds the garbage made since that GC, so with GOGC=100 it swings between
//     the live heap and twice that; under this load on two cores a GC cycle can
//     outlast the window, so even a 10 s mean of it can double without any
//     growth (seen: 333 -> 678 MiB while the live heap stayed put). Some growth
//     of the live heap is legitimate: the import adds papers to the in-memory
//     read model and the search index (6% more with the defaults), caches
//     (papers' proto forms, listings, search pages) fill as the calls reach more
//     papers and queries, and subscriptions and votes accumulate; all of that
//     stays well under 1.5x of a 50,000-paper catalog. The absolute margin keeps
//     small runs (-papers 1000), whose heap is a few MiB, from failing on noise.
//   - heap in use and RSS (process_resident_memory_bytes) are reported, not
//     checked: the first for the reason above, the second because the Go
//     runtime returns freed memory to the OS lazily, so RSS follows the peak
//     heap rather than the live one.
//
// The import changes the load, so it is kept out of both windows: it starts as
// the first window ends and must have been answered before the last window
// begins (else the section fails, since the comparison would not be like with
// like). The indexer catches up after the import; the time the last imported
// paper became searchable is reported, with a note if it was inside the last
// window.
const (
	growthWindow         = 10 * time.Second
	goroutineGrowthRatio = 1.5
	goroutineGrowthAbs   = 50
	heapGrowthRatio      = 1.5
	heapGrowthAbs        = 64 << 20
)

// mixedResult is the mixed-load section of the benchmark.
type mixedResult struct {
	Papers     int         `json:"papers"`
	Votes      int         `json:"votes"`
	Workers    int         `json:"workers"`
	DurationS  float64     `json:"duration_s"`
	RESTShare  float64     `json:"rest_share_of_reads"`
	WarmupS    float64     `json:"warmup_s"`
	Requests   int64       `json:"requests"`
	RPS        float64     `json:"rps"`
	Expected   int64       `json:"expected_outcomes"`
	Errors     int64       `json:"errors"`
	Calls      []mixedCall `json:"calls"`
	Import     mixedImport `json:"import"`
	Subscribed int64       `json:"subscribed"`
	Mails      int         `json:"outbox_mails"`
	Growth     mixedGrowth `json:"growth"`
	// Writes compares the paper writes' latencies.
	Writes mixedWrites `json:"writes"`
	// Failures are the section's failed checks; empty when it passed.
	Failures []string `json:"failures,omitempty"`
}

// mixedCall is one call type's figures (a method, over gRPC or REST).
type mixedCall struct {
	Name  string  `json:"name"`
	Count int64   `json:"requests"`
	RPS   float64 `json:"rps"`
	P50ms float64 `json:"p50_ms"`
	P99ms float64 `json:"p99_ms"`
	// Expected counts the outcomes other than OK that were asked for (NOT_FOUND
	// for a missing paper), by code.
	Expected map[string]int64 `json:"expected,omitempty"`
	// Errors counts every other outcome that was not OK, and OK answers that were
	// wrong, by code.
	Errors int64            `json:"errors"`
	Codes  map[string]int64 `json:"error_codes,omitempty"`
}

// mixedWrites compares UpdatePaper's and DeletePaper's p50 with CreatePaper's,
// against writeTarget.
type mixedWrites struct {
	CreateP50ms     float64 `json:"create_p50_ms"`
	UpdateVsCreate  float64 `json:"update_p50_vs_create"`
	DeleteVsCreate  float64 `json:"delete_p50_vs_create"`
	Target          float64 `json:"target"`
	UpdateWithinTgt bool    `json:"update_within_target"`
	DeleteWithinTgt bool    `json:"delete_within_target"`
}

type mixedImport struct {
	Records int   `json:"records"`
	Created int64 `json:"created"`
	// StartS, EndS and SearchableS are seconds since the measured run began: when
	// the stream opened, when paperd answered it, and when the last imported paper
	// was found by search.
	StartS      float64 `json:"start_s"`
	EndS        float64 `json:"end_s"`
	SearchableS float64 `json:"searchable_s"`
	Error       string  `json:"error,omitempty"`
}

type mixedGrowth struct {
	WindowS          float64 `json:"window_s"`
	Samples          int     `json:"samples"`
	FirstSamples     int     `json:"first_window_samples"`
	LastSamples      int     `json:"last_window_samples"`
	ScrapeErrors     int     `json:"scrape_errors"`
	GoroutinesFirst  float64 `json:"goroutines_first"`
	GoroutinesLast   float64 `json:"goroutines_last"`
	GoroutinesRatio  float64 `json:"goroutines_ratio"`
	LiveHeapFirst    float64 `json:"live_heap_bytes_first"`
	LiveHeapLast     float64 `json:"live_heap_bytes_last"`
	LiveHeapRatio    float64 `json:"live_heap_ratio"`
	HeapInuseFirst   float64 `json:"heap_inuse_bytes_first"`
	HeapInuseLast    float64 `json:"heap_inuse_bytes_last"`
	HeapInuseRatio   float64 `json:"heap_inuse_ratio"`
	RSSFirst         float64 `json:"rss_bytes_first"`
	RSSLast          float64 `json:"rss_bytes_last"`
	RSSRatio         float64 `json:"rss_ratio"`
	GoroutinesMaxObs float64 `json:"goroutines_max"`
	// GCCycles is how many GC cycles paperd finished between the first and the
	// last sample.
	GCCycles float64 `json:"gc_cycles"`
}

// err is the section's verdict.
func (m mixedResult) err() error {
	if len(m.Failures) == 0 {
		return nil
	}
	return fmt.Errorf("mixed: %s", strings.Join(m.Failures, "; "))
}

func runMixedBench(ctx context.Context, o options, bin, tmp string, voc *vocabulary, logf func(string, ...any)) (mixedResult, error) {
	res := mixedResult{Papers: o.papers, Votes: o.votes, Workers: o.mixedWorkers, DurationS: o.mixedDuration.Seconds(), RESTShare: mixedRESTShare}
	if o.mixedWorkers < 1 || o.mixedDuration < 6*time.Second || o.papers < 1 || o.mixedImport < 1 {
		return res, errors.New("mixed: needs -mixed-workers >= 1, -mixed-duration >= 6s, -mixed-import >= 1 and -papers >= 1")
	}
	window := min(growthWindow, (o.mixedDuration / 6).Round(time.Second))
	res.Growth.WindowS = window.Seconds()

	dir := filepath.Join(tmp, "mixed-paperd")
	pd, ld, conns, err := startMixedLoad(ctx, o, bin, dir, voc, logf, "mixed")
	if err != nil {
		return res, err
	}
	defer pd.stop()
	defer closeAll(conns)
	httpBase := "http://" + pd.httpAddr

	// The import: new papers (ids after the seeded ones), sent as one stream.
	importPapers := generate(voc, o.mixedImport, 7)
	records := make([]*catalogv1.ImportRecord, len(importPapers))
	for i, p := range importPapers {
		p.ID = benchID(o.papers + i)
		records[i] = toRecord(p)
	}
	res.Import.Records = len(records)

	logf("mixed: %d workers for %v after a warm-up: get %d%%, list %d%%, daily %d%%, trending %d%%, search %d%%, upvote %d%%, subscribe %d%%; %.0f%% of reads over REST; one ImportPapers stream of %d papers from t=%v",
		o.mixedWorkers, o.mixedDuration, mixedOps[0].weight, mixedOps[1].weight, mixedOps[2].weight, mixedOps[3].weight,
		mixedOps[4].weight, mixedOps[5].weight, mixedOps[6].weight, 100*mixedRESTShare, len(records), window)
	logf("mixed: and paper writes, with an admin token over gRPC: create %d%%, update (PATCH, without etag, of a seeded paper) %d%%, delete (of a paper the mix created) %d%%",
		mixedOps[7].weight, mixedOps[8].weight, mixedOps[9].weight)
	metricsURL := httpBase + "/metrics"
	metricsClient := &http.Client{Timeout: 5 * time.Second}
	gc0, err := scrapeMetrics(ctx, metricsClient, metricsURL)
	if err != nil {
		return res, fmt.Errorf("mixed: %w", err)
	}

	// The workers run from the warm-up to the end of the measured run; the
	// measured run's start and end are set once the warm-up is over.
	var wg sync.WaitGroup
	recs := make([]*recorder, o.mixedWorkers)
	for w := range o.mixedWorkers {
		recs[w] = newRecorder(&ld.start)
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w)+1000, 0x5eed)) //nolint:gosec // load pattern, not secrets
			cat := catalogv1.NewCatalogServiceClient(conns[w%len(conns)])
			sub := subscriptionv1.NewSubscriptionServiceClient(conns[w%len(conns)])
			for !ld.over() && ctx.Err() == nil {
				ld.one(ctx, r, cat, sub, recs[w])
			}
		})
	}
	warmStart := time.Now()
	for ctx.Err() == nil {
		time.Sleep(250 * time.Millisecond)
		took := time.Since(warmStart)
		if s, err := scrapeMetrics(ctx, metricsClient, metricsURL); err == nil && s.gcCycles > gc0.gcCycles && took >= mixedWarmup {
			break
		}
		if took >= mixedMaxWarmup {
			logf("mixed: paperd finished no GC cycle in %v of warm-up; measuring all the same", mixedMaxWarmup)
			break
		}
	}
	res.WarmupS = time.Since(warmStart).Seconds()
	start := time.Now()
	end := start.Add(o.mixedDuration)
	ld.end.Store(end.UnixNano())
	ld.start.Store(start.UnixNano())

	// The sampler and the import, beside the workers.
	var bg sync.WaitGroup
	var samples []metricSample
	bg.Go(func() {
		samples, res.Growth.ScrapeErrors = sampleMetrics(ctx, metricsClient, metricsURL, start, end)
	})
	bg.Go(func() {
		res.Import = runMixedImport(ctx, pd.conn, records, importPapers[len(importPapers)-1].Title, start, window, end.Add(time.Minute))
	})
	wg.Wait()
	measured := max(time.Since(start), o.mixedDuration)
	bg.Wait() // the import may still wait for its last paper to be searchable
	if ctx.Err() != nil {
		return res, ctx.Err()
	}

	// Figures per call.
	all := merged(recs)
	res.Calls = all.callFigures(measured)
	for _, c := range res.Calls {
		for _, k := range c.Expected {
			res.Expected += k
		}
		res.Requests += c.Count
		res.Errors += c.Errors
	}
	res.RPS = float64(res.Requests) / measured.Seconds()
	res.Writes.Target = writeTarget
	for _, c := range res.Calls {
		switch c.Name {
		case "CreatePaper":
			res.Writes.CreateP50ms = c.P50ms
		case "UpdatePaper":
			res.Writes.UpdateVsCreate = c.P50ms
		case "DeletePaper":
			res.Writes.DeleteVsCreate = c.P50ms
		}
	}
	if res.Writes.CreateP50ms > 0 {
		res.Writes.UpdateVsCreate /= res.Writes.CreateP50ms
		res.Writes.DeleteVsCreate /= res.Writes.CreateP50ms
		res.Writes.UpdateWithinTgt = res.Writes.UpdateVsCreate <= writeTarget
		res.Writes.DeleteWithinTgt = res.Writes.DeleteVsCreate <= writeTarget
	}
	logf("mixed: paper writes, p50: create %.1f ms; update %.2f× and delete %.2f× a create (target: at most %.0f×)",
		res.Writes.CreateP50ms, res.Writes.UpdateVsCreate, res.Writes.DeleteVsCreate, writeTarget)
	res.Subscribed = all.subscribed
	for _, e := range all.firstErrs {
		logf("mixed: error: %s", e)
	}

	// Growth.
	g := &res.Growth
	g.Samples = len(samples)
	var first, last []metricSample
	for _, s := range samples {
		g.GoroutinesMaxObs = max(g.GoroutinesMaxObs, s.goroutines)
		if s.at < window {
			first = append(first, s)
		}
		if s.at >= o.mixedDuration-window {
			last = append(last, s)
		}
	}
	g.FirstSamples, g.LastSamples = len(first), len(last)
	if len(samples) > 0 {
		g.GCCycles = samples[len(samples)-1].gcCycles - samples[0].gcCycles
	}
	g.GoroutinesFirst, g.GoroutinesLast = meanOf(first, func(s metricSample) float64 { return s.goroutines }), meanOf(last, func(s metricSample) float64 { return s.goroutines })
	g.LiveHeapFirst, g.LiveHeapLast = meanOf(first, metricSample.liveHeap), meanOf(last, metricSample.liveHeap)
	g.LiveHeapRatio = ratio(g.LiveHeapLast, g.LiveHeapFirst)
	g.HeapInuseFirst, g.HeapInuseLast = meanOf(first, func(s metricSample) float64 { return s.heapInuse }), meanOf(last, func(s metricSample) float64 { return s.heapInuse })
	g.RSSFirst, g.RSSLast = meanOf(first, func(s metricSample) float64 { return s.rss }), meanOf(last, func(s metricSample) float64 { return s.rss })
	g.GoroutinesRatio, g.HeapInuseRatio, g.RSSRatio = ratio(g.GoroutinesLast, g.GoroutinesFirst), ratio(g.HeapInuseLast, g.HeapInuseFirst), ratio(g.RSSLast, g.RSSFirst)

	// Mails: without SMTP_URL, paperd writes each confirmation mail into its
	// outbox; every address subscribed once, so each OK subscribe wrote one.
	if entries, err := os.ReadDir(filepath.Join(dir, "outbox")); err == nil {
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".eml") {
				res.Mails++
			}
		}
	}

	// The checks.
	fail := func(format string, a ...any) { res.Failures = append(res.Failures, fmt.Sprintf(format, a...)) }
	if res.Errors > 0 {
		var parts []string
		throttled := false
		for _, c := range res.Calls {
			if c.Errors > 0 {
				parts = append(parts, fmt.Sprintf("%s %d %v", c.Name, c.Errors, c.Codes))
			}
			throttled = throttled || c.Codes["ResourceExhausted"] > 0 || c.Codes["HTTP 429"] > 0
		}
		hint := ""
		if throttled {
			hint = "; RESOURCE_EXHAUSTED: paperd throttled the load although PAPERD_WRITE_RATE_LIMIT, PAPERD_UPVOTE_RATE_LIMIT and PAPERD_SUBSCRIBE_RATE_LIMIT were " + mixedRateLimit
		}
		fail("%d unexpected errors (%s)%s", res.Errors, strings.Join(parts, ", "), hint)
	}
	for _, op := range []string{"GetPaper", "ListPapers", "ListDailyPapers", "ListTrendingPapers", "SearchPapers", "UpvotePaper", "CreateSubscription"} {
		if c, ok := all.calls[op]; !ok || len(c.lat) == 0 {
			fail("no %s call was made", op)
		}
	}
	imp := res.Import
	switch {
	case imp.Error != "":
		fail("the import failed: %s", imp.Error)
	case imp.Created != int64(imp.Records):
		fail("the import created %d of %d papers", imp.Created, imp.Records)
	case imp.EndS > (o.mixedDuration - window).Seconds():
		fail("the import was answered at t=%.1fs, inside the last %v window: the growth comparison would not be like with like (use a longer -mixed-duration or a smaller -mixed-import)", imp.EndS, window)
	case imp.SearchableS == 0:
		fail("the last imported paper was not found by search within two minutes of the import")
	}
	if int64(res.Mails) != res.Subscribed {
		fail("the outbox holds %d confirmation mails for %d subscribed addresses", res.Mails, res.Subscribed)
	}
	minSamples := max(1, int(window.Seconds())/2)
	if g.FirstSamples < minSamples || g.LastSamples < minSamples {
		fail("too few /metrics samples to judge growth: %d in the first window, %d in the last (%d scrapes failed)", g.FirstSamples, g.LastSamples, g.ScrapeErrors)
	} else {
		if g.GoroutinesRatio > goroutineGrowthRatio && g.GoroutinesLast-g.GoroutinesFirst > goroutineGrowthAbs {
			fail("goroutines grew from %.0f to %.0f (%.2fx)", g.GoroutinesFirst, g.GoroutinesLast, g.GoroutinesRatio)
		}
		if g.LiveHeapRatio > heapGrowthRatio && g.LiveHeapLast-g.LiveHeapFirst > heapGrowthAbs {
			fail("the live heap grew from %.0f MiB to %.0f MiB (%.2fx)", g.LiveHeapFirst/(1<<20), g.LiveHeapLast/(1<<20), g.LiveHeapRatio)
		}
	}
	return res, nil
}

// startMixedLoad seeds the catalog section's papers and upvotes (same seeds)
// into dir, starts paperd on them with rate limits the mix does not reach,
// waits until it searches and is idle, and returns it with what the mix's
// workers share and their connections (the caller stops and closes them).
// section starts its log lines and errors.
func startMixedLoad(ctx context.Context, o options, bin, dir string, voc *vocabulary, logf func(string, ...any), section string) (*paperd, *mixedLoad, []*grpc.ClientConn, error) {
	began := time.Now()
	papers := generate(voc, o.papers, 1)
	if err := seed(ctx, dir, papers, generateVotes(papers, o.votes, 2)); err != nil {
		return nil, nil, nil, fmt.Errorf("%s: seed: %w", section, err)
	}
	logf("%s: seeded %d papers and %d upvotes in %v", section, o.papers, o.votes, time.Since(began).Round(time.Millisecond))
	began = time.Now()
	pd, err := startPaperd(ctx, bin, dir, 10*time.Minute, "PAPERD_ADMIN_TOKENS="+importToken,
		"PAPERD_JWT_SECRET="+benchSecret, "PAPERD_WRITE_RATE_LIMIT="+mixedRateLimit,
		"PAPERD_UPVOTE_RATE_LIMIT="+mixedRateLimit, "PAPERD_SUBSCRIBE_RATE_LIMIT="+mixedRateLimit)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s: start paperd: %w", section, err)
	}
	searchQ := searchRequests(voc, 2000)
	if err := waitSearchable(ctx, pd.conn, searchQ[0]["query"].(string), 10*time.Minute); err != nil {
		pd.stop()
		return nil, nil, nil, fmt.Errorf("%s: %w", section, err)
	}
	logf("%s: paperd ready with its search index after %v", section, time.Since(began).Round(time.Millisecond))
	settled := settle(ctx, pd.pid(), 2*time.Minute)
	logf("%s: paperd idle after %v", section, settled.Round(time.Second))
	ld, conns, err := newMixedLoad(o, voc, "http://"+pd.httpAddr, pd.grpcAddr, searchQ)
	if err != nil {
		pd.stop()
		return nil, nil, nil, err
	}
	return pd, ld, conns, nil
}

// newMixedLoad returns what the mixed load's workers share, and their
// connections to paperd at grpcAddr (the caller closes them).
func newMixedLoad(o options, voc *vocabulary, httpBase, grpcAddr string, searchQ []map[string]any) (*mixedLoad, []*grpc.ClientConn, error) {
	ld := &mixedLoad{
		papers: o.papers, httpBase: httpBase, created: make(chan string, 10000),
		rest: &http.Client{Timeout: mixedCallTimeout, Transport: &http.Transport{
			MaxIdleConns: 4 * o.mixedWorkers, MaxIdleConnsPerHost: 4 * o.mixedWorkers, IdleConnTimeout: time.Minute,
		}},
		lists: listRequests(""),
	}
	for _, q := range searchQ {
		ld.queries = append(ld.queries, q["query"].(string))
	}
	for _, q := range newSearchRequests(voc, 20000) {
		ld.freshQueries = append(ld.freshQueries, q["query"].(string))
	}
	for i := range mixedUsers {
		tok, err := userJWT("mixed-user-" + strconv.Itoa(i))
		if err != nil {
			return nil, nil, err
		}
		ld.tokens = append(ld.tokens, tok)
	}
	ld.nonce = strconv.FormatInt(time.Now().UnixNano(), 36)
	for _, c := range ld.queries[:300] {
		ld.words = append(ld.words, strings.Fields(c)[0])
	}
	conns := make([]*grpc.ClientConn, max(1, o.mixedWorkers/4))
	for i := range conns {
		c, err := grpc.NewClient(grpcAddr,
			grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			closeAll(conns[:i])
			return nil, nil, err
		}
		conns[i] = c
	}
	return ld, conns, nil
}

func closeAll(conns []*grpc.ClientConn) {
	for _, c := range conns {
		_ = c.Close()
	}
}

// mixedLoad is what the workers share.
type mixedLoad struct {
	papers       int
	httpBase     string
	rest         *http.Client
	lists        []map[string]any
	queries      []string // searchRequests': repeated, so often answered from the cache
	freshQueries []string // each asked once
	nextFresh    atomic.Int64
	words        []string
	tokens       []string
	nonce        string
	nextEmail    atomic.Int64
	nextCreate   atomic.Int64
	created      chan string // papers create made, for delete
	// start and end of the measured run, in Unix nanoseconds; 0 during the
	// warm-up.
	start, end atomic.Int64
}

// over reports whether the measured run has ended.
func (ld *mixedLoad) over() bool {
	e := ld.end.Load()
	return e != 0 && time.Now().UnixNano() >= e
}

// one makes one operation of the mix: a call, or for listings sometimes a few
// calls following page tokens.
func (ld *mixedLoad) one(ctx context.Context, r *rand.Rand, cat catalogv1.CatalogServiceClient, sub subscriptionv1.SubscriptionServiceClient, rec *recorder) {
	n := r.IntN(100)
	op := mixedOps[len(mixedOps)-1].op
	for _, o := range mixedOps {
		if n < o.weight {
			op = o.op
			break
		}
		n -= o.weight
	}
	rest := r.Float64() < mixedRESTShare
	switch op {
	case "get":
		ld.get(ctx, r, cat, rest, rec)
	case "list":
		ld.list(ctx, r, cat, rest, rec)
	case "daily":
		ld.daily(ctx, r, cat, rest, rec)
	case "trending":
		ld.trending(ctx, r, cat, rest, rec)
	case "search":
		ld.search(ctx, r, cat, rest, rec)
	case "upvote":
		ld.upvote(ctx, r, cat, rec)
	case "subscribe":
		ld.subscribe(ctx, r, sub, rec)
	case "create":
		ld.create(ctx, cat, rec)
	case "patch":
		ld.patch(ctx, r, cat, rec)
	case "delete":
		ld.delete(ctx, cat, rec)
	}
}

// admin is ctx with the admin token.
func admin(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+importToken)
}

// call makes one gRPC call of method with the mix's deadline, and returns when
// it began, the answer, and the outcome as a gRPC code's name.
func call[Req, Resp any](ctx context.Context, method func(context.Context, Req, ...grpc.CallOption) (Resp, error), req Req) (time.Time, Resp, string, error) {
	began := time.Now()
	cctx, cancel := context.WithTimeout(ctx, mixedCallTimeout)
	defer cancel()
	resp, err := method(cctx, req)
	return began, resp, grpcCode(err), err
}

// create adds a paper of its own (ids 2501.xxxxx on, which no seeded or imported
// paper has), for delete to remove later.
func (ld *mixedLoad) create(ctx context.Context, cat catalogv1.CatalogServiceClient, rec *recorder) {
	n := ld.nextCreate.Add(1)
	id := fmt.Sprintf("25%02d.%05d", 1+n/100000, n%100000)
	t, p, code, err := call(admin(ctx), cat.CreatePaper, &catalogv1.CreatePaperRequest{PaperId: id, Paper: &catalogv1.Paper{
		Title: "A paper the mixed load writes", Abstract: "Written, updated and deleted by the benchmark.", Categories: []string{"cs.LG"}}})
	if code == "OK" && p.GetName() != "papers/"+id {
		code = "WRONG_ANSWER"
	}
	rec.addErr("CreatePaper", t, code, "OK", err)
	if code == "OK" {
		select {
		case ld.created <- p.GetName():
		default: // enough waiting to be deleted
		}
	}
}

// patch changes a seeded paper's GitHub stars, without etag.
func (ld *mixedLoad) patch(ctx context.Context, r *rand.Rand, cat catalogv1.CatalogServiceClient, rec *recorder) {
	name := "papers/" + benchID(r.IntN(ld.papers))
	stars := r.Int64N(100000)
	t, p, code, err := call(admin(ctx), cat.UpdatePaper, &catalogv1.UpdatePaperRequest{Paper: &catalogv1.Paper{Name: name, GithubStars: stars},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"github_stars"}}})
	if code == "OK" && (p.GetName() != name || p.GetGithubStars() != stars) {
		code = "WRONG_ANSWER"
	}
	rec.addErr("UpdatePaper", t, code, "OK", err)
}

// delete removes a paper create made; with none waiting, it creates one.
func (ld *mixedLoad) delete(ctx context.Context, cat catalogv1.CatalogServiceClient, rec *recorder) {
	var name string
	select {
	case name = <-ld.created:
	default:
		ld.create(ctx, cat, rec)
		return
	}
	t, _, code, err := call(admin(ctx), cat.DeletePaper, &catalogv1.DeletePaperRequest{Name: name})
	rec.addErr("DeletePaper", t, code, "OK", err)
}

func (ld *mixedLoad) get(ctx context.Context, r *rand.Rand, cat catalogv1.CatalogServiceClient, rest bool, rec *recorder) {
	id, want := benchID(r.IntN(ld.papers)), "OK"
	if r.Float64() < mixedMissingShare {
		// 2023 ids: the generated papers are all 24xx.xxxxx.
		id, want = fmt.Sprintf("23%02d.%05d", 1+r.IntN(12), r.IntN(100000)), "NotFound"
	}
	name := "papers/" + id
	check := func(p *catalogv1.Paper) string {
		if p.GetName() != name {
			return "WRONG_ANSWER"
		}
		return ""
	}
	if rest {
		if want == "NotFound" {
			want = "HTTP 404"
		}
		p := &catalogv1.Paper{}
		t, code := ld.restGet(ctx, "/v1/papers/"+id, nil, p)
		if code == "OK" {
			code = orOK(check(p))
		}
		rec.add("GetPaper (REST)", t, code, want)
		return
	}
	t, p, code, err := call(ctx, cat.GetPaper, &catalogv1.GetPaperRequest{Name: name})
	if code == "OK" {
		code = orOK(check(p))
	}
	rec.addErr("GetPaper", t, code, want, err)
}

func (ld *mixedLoad) list(ctx context.Context, r *rand.Rand, cat catalogv1.CatalogServiceClient, rest bool, rec *recorder) {
	req := &catalogv1.ListPapersRequest{PageSize: 20}
	switch k := r.IntN(4); {
	case k < 2: // the catalog section's filter over category and upvotes, with its order
		l := ld.lists[r.IntN(len(ld.lists))]
		req.Filter, req.OrderBy, req.PageSize = l["filter"].(string), l["order_by"].(string), 50
	case k == 2: // an organization, most upvoted first
		req.Filter, req.OrderBy = fmt.Sprintf(`organization = "%s"`, orgs[r.IntN(len(orgs))].ID), "upvotes desc"
	}
	pages := 1 + r.IntN(3) // sometimes follow the page token
	readPages(ctx, ld, rec, rest, pages, "ListPapers", "/v1/papers", cat.ListPapers, req, &req.PageToken, func(q url.Values) {
		setIf(q, "filter", req.GetFilter())
		setIf(q, "order_by", req.GetOrderBy())
	}, func(resp *catalogv1.ListPapersResponse) bool { return len(resp.GetPapers()) > int(req.GetPageSize()) })
}

var mixedZones = []string{"", "UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo"}

func (ld *mixedLoad) daily(ctx context.Context, r *rand.Rand, cat catalogv1.CatalogServiceClient, rest bool, rec *recorder) {
	day := time.Now().UTC().AddDate(0, 0, -r.IntN(365))
	req := &catalogv1.ListDailyPapersRequest{TimeZone: mixedZones[r.IntN(len(mixedZones))], PageSize: 50}
	switch r.IntN(3) {
	case 0:
		req.Date = day.Format(time.DateOnly)
	case 1:
		y, w := day.ISOWeek()
		req.Week = fmt.Sprintf("%d-W%02d", y, w)
	default:
		req.Month = day.Format("2006-01")
	}
	switch r.IntN(4) { // else the default order, most upvoted first
	case 0:
		req.OrderBy = "submit_time desc"
	case 1:
		req.OrderBy = "trending"
	}
	pages := 1 + r.IntN(2)
	readPages(ctx, ld, rec, rest, pages, "ListDailyPapers", "/v1/dailyPapers", cat.ListDailyPapers, req, &req.PageToken, func(q url.Values) {
		setIf(q, "date", req.GetDate())
		setIf(q, "week", req.GetWeek())
		setIf(q, "month", req.GetMonth())
		setIf(q, "time_zone", req.GetTimeZone())
		setIf(q, "order_by", req.GetOrderBy())
	}, nil)
}

// pagedRequest is a list request: it has a page size and a page token.
type pagedRequest interface {
	GetPageSize() int32
	GetPageToken() string
}

// pagedResponse is a list response (a *R): it has the next page's token.
type pagedResponse[R any] interface {
	*R
	proto.Message
	GetNextPageToken() string
}

// readPages reads up to pages pages of one list method, following its page
// tokens, over REST or gRPC as rest says, and records each call as name (with
// " (REST)" over REST). Over REST each page is a GET of path with req's page
// size and token and the parameters query adds; over gRPC, method with req,
// whose page token is *token. A response that wrong (when not nil) reports is
// a WRONG_ANSWER. It stops after a call that is not OK, after the last page, or
// when the run is over.
func readPages[Req pagedRequest, R any, Resp pagedResponse[R]](ctx context.Context, ld *mixedLoad, rec *recorder, rest bool, pages int,
	name, path string, method func(context.Context, Req, ...grpc.CallOption) (Resp, error), req Req, token *string,
	query func(url.Values), wrong func(Resp) bool) {
	for range pages {
		var resp Resp
		var t time.Time
		var code string
		var err error
		recorded := name
		if rest {
			q := url.Values{"page_size": {strconv.Itoa(int(req.GetPageSize()))}}
			query(q)
			setIf(q, "page_token", req.GetPageToken())
			resp = new(R)
			t, code = ld.restGet(ctx, path, q, resp)
			recorded += " (REST)"
		} else {
			t, resp, code, err = call(ctx, method, req)
		}
		if code == "OK" && wrong != nil && wrong(resp) {
			code = "WRONG_ANSWER"
		}
		rec.addErr(recorded, t, code, "OK", err)
		next := resp.GetNextPageToken()
		if code != "OK" || next == "" || ld.over() {
			return
		}
		*token = next
	}
}

var mixedWindows = []time.Duration{0, 24 * time.Hour, 72 * time.Hour, 720 * time.Hour}

func (ld *mixedLoad) trending(ctx context.Context, r *rand.Rand, cat catalogv1.CatalogServiceClient, rest bool, rec *recorder) {
	req := &catalogv1.ListTrendingPapersRequest{PageSize: 20}
	if w := mixedWindows[r.IntN(len(mixedWindows))]; w > 0 {
		req.Window = durationpb.New(w)
	}
	if r.IntN(3) == 0 {
		req.Filter = fmt.Sprintf(`categories:"%s"`, mlCategories[r.IntN(len(mlCategories))].name)
	}
	readPages(ctx, ld, rec, rest, 1, "ListTrendingPapers", "/v1/papers:trending", cat.ListTrendingPapers, req, &req.PageToken, func(q url.Values) {
		if req.GetWindow() != nil {
			q.Set("window", fmt.Sprintf("%ds", int64(req.GetWindow().AsDuration().Seconds())))
		}
		setIf(q, "filter", req.GetFilter())
	}, nil)
}

func (ld *mixedLoad) search(ctx context.Context, r *rand.Rand, cat catalogv1.CatalogServiceClient, rest bool, rec *recorder) {
	req := &catalogv1.SearchPapersRequest{PageSize: 20}
	// Seven in ten queries come from a set of 2,000 (answered from the cache after
	// their first time), the others are new.
	if i := ld.nextFresh.Load(); r.IntN(10) < 3 && int(i) < len(ld.freshQueries) {
		req.Query = ld.freshQueries[int(ld.nextFresh.Add(1)-1)%len(ld.freshQueries)]
	} else {
		req.Query = ld.queries[r.IntN(len(ld.queries))]
	}
	if r.IntN(5) == 0 {
		req.Filter = fmt.Sprintf(`categories:"%s"`, mlCategories[r.IntN(len(mlCategories))].name)
	}
	readPages(ctx, ld, rec, rest, 1, "SearchPapers", "/v1/papers:search", cat.SearchPapers, req, &req.PageToken, func(q url.Values) {
		q.Set("query", req.GetQuery())
		setIf(q, "filter", req.GetFilter())
	}, func(resp *catalogv1.SearchPapersResponse) bool { return len(resp.GetResults()) > 20 })
}

func (ld *mixedLoad) upvote(ctx context.Context, r *rand.Rand, cat catalogv1.CatalogServiceClient, rec *recorder) {
	name := "papers/" + benchID(r.IntN(ld.papers))
	user := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+ld.tokens[r.IntN(len(ld.tokens))])
	t, p, code, err := call(user, cat.UpvotePaper, &catalogv1.UpvotePaperRequest{Name: name})
	if code == "OK" && (p.GetName() != name || !p.GetViewerUpvoted()) {
		code = "WRONG_ANSWER"
	}
	rec.addErr("UpvotePaper", t, code, "OK", err)
}

func (ld *mixedLoad) subscribe(ctx context.Context, r *rand.Rand, sub subscriptionv1.SubscriptionServiceClient, rec *recorder) {
	s := &subscriptionv1.Subscription{
		Email: fmt.Sprintf("mixed-%s-%d@example.org", ld.nonce, ld.nextEmail.Add(1)),
	}
	switch r.IntN(3) {
	case 0:
		s.Query = ld.words[r.IntN(len(ld.words))]
	case 1:
		s.Categories = []string{mlCategories[r.IntN(len(mlCategories))].name}
	}
	if r.IntN(2) == 0 {
		s.TimeZone = "Europe/Berlin"
	}
	t, _, code, err := call(ctx, sub.CreateSubscription, &subscriptionv1.CreateSubscriptionRequest{Subscription: s})
	if code == "OK" {
		rec.subscribed++
	}
	rec.addErr("CreateSubscription", t, code, "OK", err)
}

// restGet calls GET path?q on the REST gateway and decodes the answer into
// into. It returns when the call began and its outcome: "OK", "HTTP <status>",
// or "BAD_JSON" for a 200 whose body is not the response message.
func (ld *mixedLoad) restGet(ctx context.Context, path string, q url.Values, into proto.Message) (time.Time, string) {
	u := ld.httpBase + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	t := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return t, "BAD_REQUEST_URL"
	}
	resp, err := ld.rest.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return t, "Canceled"
		}
		if errors.Is(err, context.DeadlineExceeded) || os.IsTimeout(err) {
			return t, "HTTP timeout"
		}
		return t, "HTTP transport error"
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return t, "HTTP body read error"
	}
	if resp.StatusCode != http.StatusOK {
		return t, "HTTP " + strconv.Itoa(resp.StatusCode)
	}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(body, into); err != nil {
		return t, "BAD_JSON"
	}
	return t, "OK"
}

// runMixedImport waits until window after start, streams records through one
// ImportPapers call that must be answered by deadline, and then waits (up to two
// minutes) until the paper titled lastTitle, the last record, is found by search.
func runMixedImport(ctx context.Context, conn *grpc.ClientConn, records []*catalogv1.ImportRecord, lastTitle string, start time.Time, window time.Duration, deadline time.Time) mixedImport {
	res := mixedImport{Records: len(records)}
	select {
	case <-ctx.Done():
		res.Error = ctx.Err().Error()
		return res
	case <-time.After(time.Until(start.Add(window))):
	}
	res.StartS = time.Since(start).Seconds()
	client := catalogv1.NewCatalogServiceClient(conn)
	ictx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	resp, err := importRecords(ictx, client, records)
	res.EndS = time.Since(start).Seconds()
	if err != nil {
		res.Error = err.Error()
		return res
	}
	res.Created = resp.GetCreated()
	if resp.GetRejected() > 0 {
		res.Error = fmt.Sprintf("%d records rejected: %v", resp.GetRejected(), resp.GetRejections())
		return res
	}
	if waitFound(ctx, client, records[len(records)-1].GetPaperId(), lastTitle, time.Now().Add(2*time.Minute), 250*time.Millisecond) == nil {
		res.SearchableS = time.Since(start).Seconds()
	}
	return res
}

// waitSearchable waits until SearchPapers answers (the index is built at the
// first start), or until limit.
func waitSearchable(ctx context.Context, conn *grpc.ClientConn, query string, limit time.Duration) error {
	client := catalogv1.NewCatalogServiceClient(conn)
	deadline := time.Now().Add(limit)
	for {
		cctx, cancel := context.WithTimeout(ctx, mixedCallTimeout)
		_, err := client.SearchPapers(cctx, &catalogv1.SearchPapersRequest{Query: query})
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("search still failing after %v: %w", limit, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// recorder is one worker's record of its calls; those that began before from
// (Unix nanoseconds; 0 during the warm-up) belong to the warm-up.
type recorder struct {
	from       *atomic.Int64
	calls      map[string]*callStats
	firstErrs  []string
	subscribed int64 // addresses subscribed, warm-up included
}

type callStats struct {
	lat        []time.Duration
	expected   map[string]int64
	unexpected map[string]int64
}

// figures sums up the calls named name made over took (it sorts cs.lat).
func (cs *callStats) figures(name string, took time.Duration) mixedCall {
	c := mixedCall{Name: name, Count: int64(len(cs.lat)), RPS: float64(len(cs.lat)) / took.Seconds()}
	slices.Sort(cs.lat)
	c.P50ms, c.P99ms = percentileMs(cs.lat, 50), percentileMs(cs.lat, 99)
	if len(cs.expected) > 0 {
		c.Expected = cs.expected
	}
	for code, k := range cs.unexpected {
		if c.Codes == nil {
			c.Codes = map[string]int64{}
		}
		c.Codes[code] += k
		c.Errors += k
	}
	return c
}

func newRecorder(from *atomic.Int64) *recorder {
	return &recorder{from: from, calls: map[string]*callStats{}}
}

// add records a call that began at began with outcome code, where want was the
// outcome asked for: "OK", or an error code such as "NotFound" for a missing
// paper. Calls of the warm-up are not recorded.
func (r *recorder) add(call string, began time.Time, code, want string) {
	r.addErr(call, began, code, want, nil)
}

// addErr is add, keeping the first few unexpected errors' messages.
func (r *recorder) addErr(call string, began time.Time, code, want string, err error) {
	took := time.Since(began)
	if code != want && code == "OK" {
		code = "OK (want " + want + ")"
	}
	if from := r.from.Load(); from == 0 || began.UnixNano() < from {
		if code != want {
			// An error in the warm-up is an error all the same.
			call += " (warm-up)"
			r.stats(call).unexpected[code]++
			r.note(call, code, err)
		}
		return
	}
	cs := r.stats(call)
	cs.lat = append(cs.lat, took)
	switch {
	case code == want && want == "OK":
	case code == want:
		cs.expected[code]++
	default:
		cs.unexpected[code]++
		r.note(call, code, err)
	}
}

// note keeps the first few distinct messages of unexpected outcomes.
func (r *recorder) note(call, code string, err error) {
	msg := call + ": " + code
	if err != nil {
		msg += ": " + status.Convert(err).Message()
	}
	if len(r.firstErrs) < 5 && !slices.Contains(r.firstErrs, msg) {
		r.firstErrs = append(r.firstErrs, msg)
	}
}

func (r *recorder) stats(call string) *callStats {
	cs := r.calls[call]
	if cs == nil {
		cs = &callStats{expected: map[string]int64{}, unexpected: map[string]int64{}}
		r.calls[call] = cs
	}
	return cs
}

// merged returns the records of recs together.
func merged(recs []*recorder) *recorder {
	all := newRecorder(nil)
	for _, r := range recs {
		all.merge(r)
	}
	return all
}

// callFigures sums up every call r recorded over took, in callOrder.
func (r *recorder) callFigures(took time.Duration) []mixedCall {
	out := make([]mixedCall, 0, len(r.calls))
	for name, cs := range r.calls {
		out = append(out, cs.figures(name, took))
	}
	slices.SortFunc(out, func(a, b mixedCall) int {
		return cmp.Or(cmp.Compare(callOrder(a.Name), callOrder(b.Name)), strings.Compare(a.Name, b.Name))
	})
	return out
}

func (r *recorder) merge(o *recorder) {
	for name, c := range o.calls {
		cs := r.stats(name)
		cs.lat = append(cs.lat, c.lat...)
		for k, v := range c.expected {
			cs.expected[k] += v
		}
		for k, v := range c.unexpected {
			cs.unexpected[k] += v
		}
	}
	r.subscribed += o.subscribed
	for _, e := range o.firstErrs {
		if len(r.firstErrs) < 10 && !slices.Contains(r.firstErrs, e) {
			r.firstErrs = append(r.firstErrs, e)
		}
	}
}

// callOrder sorts the table as the mix lists the calls, gRPC before REST.
func callOrder(name string) int {
	base, warm := strings.CutSuffix(name, " (warm-up)")
	base, rest := strings.CutSuffix(base, " (REST)")
	order := []string{"GetPaper", "ListPapers", "ListDailyPapers", "ListTrendingPapers", "SearchPapers", "UpvotePaper", "CreateSubscription",
		"CreatePaper", "UpdatePaper", "DeletePaper"}
	i := slices.Index(order, base)
	if i < 0 {
		i = len(order)
	}
	i *= 4
	if rest {
		i++
	}
	if warm {
		i += 2
	}
	return i
}

func grpcCode(err error) string {
	if err == nil {
		return "OK"
	}
	return status.Code(err).String()
}

func orOK(code string) string {
	if code == "" {
		return "OK"
	}
	return code
}

func setIf(q url.Values, key, value string) {
	if value != "" {
		q.Set(key, value)
	}
}

// metricSample is one scrape of paperd's /metrics, at seconds since the measured
// run began.
type metricSample struct {
	at                    time.Duration
	goroutines, heapInuse float64
	rss                   float64
	nextGC, gogc          float64
	gcCycles              float64
}

// liveHeap is the heap the last GC left live: the GC's goal for the next cycle
// is that plus GOGC percent of it.
func (s metricSample) liveHeap() float64 {
	if s.gogc <= 0 { // GOGC=off: no goal to go by
		return s.heapInuse
	}
	return s.nextGC / (1 + s.gogc/100)
}

// sampleMetrics scrapes url every second from start until end.
func sampleMetrics(ctx context.Context, client *http.Client, url string, start, end time.Time) ([]metricSample, int) {
	var out []metricSample
	fails := 0
	select {
	case <-ctx.Done():
		return nil, 0
	case <-time.After(time.Until(start)):
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		at := time.Since(start)
		if at >= end.Sub(start) {
			return out, fails
		}
		s, err := scrapeMetrics(ctx, client, url)
		if err != nil {
			fails++
		} else {
			s.at = at
			out = append(out, s)
		}
		select {
		case <-ctx.Done():
			return out, fails
		case <-tick.C:
		}
	}
}

func scrapeMetrics(ctx context.Context, client *http.Client, url string) (metricSample, error) {
	var s metricSample
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return s, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return s, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("/metrics: %s", resp.Status)
	}
	found := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		var dst *float64
		switch name {
		case "go_goroutines":
			dst = &s.goroutines
		case "go_memstats_heap_inuse_bytes":
			dst = &s.heapInuse
		case "process_resident_memory_bytes":
			dst = &s.rss
		case "go_memstats_next_gc_bytes":
			dst = &s.nextGC
		case "go_gc_gogc_percent":
			dst = &s.gogc
		case "go_gc_duration_seconds_count":
			dst = &s.gcCycles
		default:
			continue
		}
		if *dst, err = strconv.ParseFloat(strings.TrimSpace(value), 64); err != nil {
			return s, fmt.Errorf("/metrics: %s: %w", name, err)
		}
		found++
	}
	if err := sc.Err(); err != nil {
		return s, err
	}
	if found != 6 {
		return s, errors.New("/metrics lacks one of go_goroutines, go_memstats_heap_inuse_bytes, go_memstats_next_gc_bytes, go_gc_gogc_percent, go_gc_duration_seconds_count and process_resident_memory_bytes")
	}
	return s, nil
}

func meanOf(samples []metricSample, f func(metricSample) float64) float64 {
	if len(samples) == 0 {
		return 0
	}
	sum := 0.0
	for _, s := range samples {
		sum += f(s)
	}
	return sum / float64(len(samples))
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func (m mixedResult) print(out io.Writer) {
	_, _ = fmt.Fprintf(out, "mixed load: %d workers for %.0fs (after %.1fs of warm-up) on %d papers (%.0f%% of reads over REST), %d calls, %.0f req/s:\n",
		m.Workers, m.DurationS, m.WarmupS, m.Papers, 100*m.RESTShare, m.Requests, m.RPS)
	tw := newTable(out)
	_, _ = fmt.Fprintln(tw, "call\trequests\treq/s\tp50 ms\tp99 ms\texpected\terrors\t")
	for _, c := range m.Calls {
		exp := "-"
		if len(c.Expected) > 0 {
			var n int64
			for _, k := range c.Expected {
				n += k
			}
			exp = fmt.Sprint(n, " ", c.Expected)
		}
		errs := strconv.FormatInt(c.Errors, 10)
		if len(c.Codes) > 0 {
			errs += fmt.Sprint(" ", c.Codes)
		}
		_, _ = fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.2f\t%.2f\t%s\t%s\t\n", c.Name, c.Count, c.RPS, c.P50ms, c.P99ms, exp, errs)
	}
	_ = tw.Flush()
	i := m.Import
	searchable := "not found by search"
	if i.SearchableS > 0 {
		searchable = fmt.Sprintf("searchable at t=%.1fs", i.SearchableS)
		if i.SearchableS > m.DurationS-m.Growth.WindowS {
			searchable += " (inside the last window: the indexer's catch-up is in its figures)"
		}
	}
	if i.Error != "" {
		searchable = "error: " + i.Error
	}
	_, _ = fmt.Fprintf(out, "mixed import: %d papers through one ImportPapers stream from t=%.1fs to t=%.1fs (%.0f papers/s), %d created; the last %s\n",
		i.Records, i.StartS, i.EndS, float64(i.Records)/max(i.EndS-i.StartS, 1e-3), i.Created, searchable)
	_, _ = fmt.Fprintf(out, "mixed subscribes: %d addresses subscribed (warm-up included), %d confirmation mails in the outbox\n", m.Subscribed, m.Mails)
	g := m.Growth
	_, _ = fmt.Fprintf(out, "mixed growth, mean of the first %gs (%d samples) vs the last %gs (%d samples) of paperd's /metrics (%.0f GC cycles in the run): goroutines %.1f -> %.1f (%.2fx; fails above %.1fx and +%d; max %.0f), live heap %.1f -> %.1f MiB (%.2fx; fails above %.1fx and +%d MiB); not checked: heap in use %.1f -> %.1f MiB (%.2fx), RSS %.1f -> %.1f MiB (%.2fx)\n",
		g.WindowS, g.FirstSamples, g.WindowS, g.LastSamples, g.GCCycles, g.GoroutinesFirst, g.GoroutinesLast, g.GoroutinesRatio, goroutineGrowthRatio, goroutineGrowthAbs, g.GoroutinesMaxObs,
		g.LiveHeapFirst/(1<<20), g.LiveHeapLast/(1<<20), g.LiveHeapRatio, heapGrowthRatio, heapGrowthAbs>>20,
		g.HeapInuseFirst/(1<<20), g.HeapInuseLast/(1<<20), g.HeapInuseRatio, g.RSSFirst/(1<<20), g.RSSLast/(1<<20), g.RSSRatio)
	if len(m.Failures) == 0 {
		_, _ = fmt.Fprintf(out, "mixed: PASS (%d expected outcomes, no unexpected errors, import done, no growth)\n", m.Expected)
	} else {
		_, _ = fmt.Fprintf(out, "mixed: FAIL: %s\n", strings.Join(m.Failures, "; "))
	}
}
