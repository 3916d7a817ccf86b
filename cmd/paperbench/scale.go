package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
)

// The scale section (make bench-scale) measures the catalog at the size of
// arXiv: it generates an arXiv-shaped snapshot of -scale records, imports it
// with the real paperctl into a fresh paperd on the embedded database, and
// reports what issue 16 sets targets for: paperd's memory once idle, the import
// rate and paperctl's memory, the calls' rates against the health baseline, the
// time to ready after a clean stop and after kill -9, and the data directory's
// size against the input's. A missed target is printed as missed; the command
// fails only when it cannot measure.

// scaleTargetPapers is the catalog size the targets are set for: about
// the number of records in arXiv's metadata snapshot.
const scaleTargetPapers = 2_700_000

// The targets, at scaleTargetPapers.
const (
	targetRSSBytes        = 4 << 30
	targetImportSeconds   = 25 * 60
	targetCleanReadyS     = 5
	targetKillReadyS      = 60
	targetDataDirRatio    = 3
	targetGetRatio        = 0.6
	targetListRatio       = 0.3
	targetSearchNewRatio  = 0.05
	targetP99ms           = 50
	paperctlFlatRatio     = 1.25
	paperctlFlatSlackByte = 32 << 20
	// scaleSettleLimit is the longest the section waits for paperd to be idle
	// (search index merged) after the import and after each start.
	scaleSettleLimit = 30 * time.Minute
	// scaleQuietSeconds is how many quiet seconds in a row make paperd idle
	// after the import and the votes: the search index's merges that follow
	// an import at 2.7 M papers come in bursts with quiet seconds between them,
	// and an RSS read between two is not that of an idle replica.
	scaleQuietSeconds = 15
	// scaleReadyLimit is the longest a start may take to be ready.
	scaleReadyLimit = 60 * time.Minute
)

// scaleTarget is one figure beside its target.
type scaleTarget struct {
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	Op     string  `json:"op"` // "<=", ">=" or "<"
	Target float64 `json:"target"`
	Unit   string  `json:"unit,omitempty"`
	// Note says what the target is of, where the figure is not measured at the
	// size the target is set for.
	Note    string `json:"note,omitempty"`
	Verdict string `json:"verdict"` // "met" or "missed"
}

func newTarget(name string, value float64, op string, target float64, unit, note string) scaleTarget {
	met := false
	switch op {
	case "<=":
		met = value <= target
	case ">=":
		met = value >= target
	case "<":
		met = value < target
	}
	verdict := "missed"
	if met {
		verdict = "met"
	}
	return scaleTarget{Name: name, Value: value, Op: op, Target: target, Unit: unit, Note: note, Verdict: verdict}
}

// scaleResult is every figure of the scale section, as its JSON line holds them.
type scaleResult struct {
	Papers        int     `json:"papers"`
	SnapshotBytes int64   `json:"snapshot_bytes"`
	SnapshotS     float64 `json:"snapshot_write_s"`
	Concurrency   int     `json:"concurrency"`
	DurationS     float64 `json:"duration_s"`

	// EmptyRSSBytes is a fresh paperd's RSS once idle, before the import: what
	// a paperd costs with no papers.
	EmptyRSSBytes int64   `json:"empty_rss_bytes"`
	ImportS       float64 `json:"import_s"`
	ImportRate    float64 `json:"import_papers_per_s"`
	ImportResult  string  `json:"import_result"`
	// PaperctlRSS is paperctl's RSS at 10, 50 and 90 % of the time, of samples
	// taken every half second of the import; PaperctlPeakRSS is its peak as the
	// kernel counted it.
	PaperctlRSS      [3]int64 `json:"paperctl_rss_p10_p50_p90_bytes"`
	PaperctlSamples  int      `json:"paperctl_rss_samples"`
	PaperctlPeakRSS  int64    `json:"paperctl_peak_rss_bytes"`
	PaperctlFirstRSS int64    `json:"paperctl_first_half_peak_rss_bytes"`
	PaperctlLastRSS  int64    `json:"paperctl_second_half_peak_rss_bytes"`
	PaperctlFlat     bool     `json:"paperctl_rss_flat"`
	PaperdImportPeak int64    `json:"paperd_import_peak_rss_bytes"`

	// Votes are the upvotes cast: after the import, and a few right before the
	// kill -9; VoteRate is how many a second the first were.
	Votes    int     `json:"votes"`
	VoteRate float64 `json:"votes_per_s"`

	// SettleS is how long paperd took to be idle after the import and the
	// votes: until scaleQuietSeconds seconds in a row in each of which it used
	// under 50 ms of CPU. SettledRSSBytes and
	// SettledHeapInuse are read then; IdleRSSBytes and the figures below it
	// IdleWaitS later, once paperd has had the time to return what the burst
	// of work freed (server/trim.go), which is what an idle replica holds.
	SettleS          float64 `json:"settle_after_import_s"`
	SettledRSSBytes  int64   `json:"settled_rss_bytes"`
	SettledHeapInuse float64 `json:"settled_go_heap_inuse_bytes"`
	IdleWaitS        float64 `json:"idle_wait_s"`
	IdleRSSBytes     int64   `json:"idle_rss_bytes"`
	// CallsRSSBytes is the RSS right after the calls below: memory under load.
	CallsRSSBytes int64 `json:"rss_after_calls_bytes"`
	// IdleRSSAnon and IdleRSSFile split IdleRSSBytes: memory of the process
	// (Go heap, runtime, the embedded database's allocations) and pages of
	// mapped files (the search index's segments, the binary), which the kernel
	// can drop under pressure and read again.
	IdleRSSAnon int64 `json:"idle_rss_anon_bytes"`
	// ListFirstCallsMs is how long the first call of each ListPapers filter
	// took (computed from every paper), before the measured run.
	ListFirstCallsMs []float64 `json:"list_first_calls_ms"`
	IdleRSSFile      int64     `json:"idle_rss_file_bytes"`
	HeapInuse        float64   `json:"go_heap_inuse_bytes"`
	LiveHeap         float64   `json:"go_live_heap_bytes"`
	BytesPerPaper    float64   `json:"idle_rss_bytes_per_paper"`
	// MarginalPerPaper is the idle RSS above an empty paperd's, per paper.
	MarginalPerPaper float64 `json:"idle_rss_above_empty_bytes_per_paper"`

	Calls map[string]rawResult `json:"calls"`
	// SearchRepeated is set when the every-query-new run made more calls than
	// it had queries, so that some were answered from the cache.
	SearchRepeated bool `json:"search_new_queries_repeated,omitempty"`

	StopS           float64 `json:"clean_stop_s"`
	CleanReadyS     float64 `json:"ready_after_clean_stop_s"`
	KillReadyS      float64 `json:"ready_after_kill_s"`
	KillRSSBytes    int64   `json:"rss_after_kill_restart_bytes"`
	DataDirBytes    int64   `json:"data_dir_bytes"`
	DataDirApparent int64   `json:"data_dir_apparent_bytes"`
	DataDirRatio    float64 `json:"data_dir_vs_input"`

	Targets []scaleTarget `json:"targets"`
}

// The calls the scale section measures, by their key in the JSON line.
const (
	callBaseline  = "baseline"
	callGet       = "get"
	callList      = "list"
	callSearchNew = "search_new"
)

// scaleBench runs the scale section at o.scale papers and prints its table and,
// last, its JSON line. Missed targets are printed, not returned as errors.
func scaleBench(ctx context.Context, o options, bin, tmp string, voc *vocabulary, out io.Writer, logf func(string, ...any)) error {
	n := o.scale
	res := scaleResult{Papers: n, Concurrency: o.concurrency, DurationS: o.duration.Seconds(), Calls: map[string]rawResult{}}
	logf("building paperctl")
	if err := sh(ctx, "", nil, "go", "build", "-o", filepath.Join(bin, "paperctl"), module+"/cmd/paperctl"); err != nil {
		return err
	}

	file := filepath.Join(tmp, "scale-snapshot.jsonl")
	began := time.Now()
	size, err := writeSnapshot(file, voc, n)
	if err != nil {
		return err
	}
	res.SnapshotBytes, res.SnapshotS = size, time.Since(began).Seconds()
	logf("wrote an arXiv-shaped snapshot of %d records (%.0f MiB) in %v", n, float64(size)/(1<<20), time.Since(began).Round(time.Second))

	data := filepath.Join(tmp, "scale-data")
	// paperd logs at info (calls are logged at debug): what a start spent its
	// time on (the checkpoint's restore, the change log's replay) and when it
	// returned memory to the system are then in the output.
	env := []string{"PAPERD_ADMIN_TOKENS=" + importToken, "PAPERD_JWT_SECRET=" + benchSecret,
		"PAPERD_UPVOTE_RATE_LIMIT=" + mixedRateLimit, "PAPERD_WRITE_RATE_LIMIT=" + mixedRateLimit, "PAPERD_LOG_LEVEL=info"}
	pd, err := startPaperd(ctx, bin, data, scaleReadyLimit, env...)
	if err != nil {
		return err
	}
	defer func() { pd.stop() }()
	settle(ctx, pd.pid(), scaleSettleLimit)
	if res.EmptyRSSBytes, err = currentRSS(pd.pid()); err != nil {
		return err
	}

	logf("importing the snapshot with paperctl")
	pass, err := runPaperctlImport(ctx, bin, pd.grpcAddr, file, pd.pid())
	if err != nil {
		return err
	}
	res.ImportS, res.ImportRate, res.ImportResult = pass.took.Seconds(), float64(n)/pass.took.Seconds(), pass.result
	res.PaperctlSamples, res.PaperdImportPeak = len(pass.client.samples), pass.server.peak()
	if k := len(pass.client.samples); k > 0 {
		for i, f := range []float64{0.1, 0.5, 0.9} {
			res.PaperctlRSS[i] = pass.client.samples[int(f*float64(k-1))]
		}
	}
	res.PaperctlPeakRSS = max(pass.client.peak(), pass.clientMaxRSS)
	res.PaperctlFirstRSS, res.PaperctlLastRSS = halvesPeak(pass.client.samples)
	res.PaperctlFlat = float64(res.PaperctlLastRSS) <= paperctlFlatRatio*float64(res.PaperctlFirstRSS) ||
		res.PaperctlLastRSS-res.PaperctlFirstRSS < paperctlFlatSlackByte
	if want := fmt.Sprintf("%d created, 0 updated, 0 unchanged, 0 rejected, 0 unreadable", n); pass.result != want {
		return fmt.Errorf("paperctl import: %s, want %s", pass.result, want)
	}
	logf("imported %d papers in %v (%.0f papers/s)", n, pass.took.Round(time.Second), res.ImportRate)

	res.Votes = max(1, n/scaleVotesPerPaper)
	logf("casting %d upvotes through UpvotePaper", res.Votes)
	voteBegan := time.Now()
	if err := castVotes(ctx, pd, n, 0, res.Votes); err != nil {
		return err
	}
	res.VoteRate = float64(res.Votes) / time.Since(voteBegan).Seconds()

	settled := settleFor(ctx, pd.pid(), scaleQuietSeconds, scaleSettleLimit)
	res.SettleS = settled.Seconds()
	logf("paperd idle %v after the import and the votes", settled.Round(time.Second))
	if res.SettledRSSBytes, err = currentRSS(pd.pid()); err != nil {
		return err
	}
	if m, err := scrapeMetrics(ctx, &http.Client{Timeout: 10 * time.Second}, "http://"+pd.httpAddr+"/metrics"); err == nil {
		res.SettledHeapInuse = m.heapInuse
	}
	logf("waiting %v more, idle, before reading paperd's RSS once idle", o.idleWait)
	time.Sleep(o.idleWait)
	res.IdleWaitS = o.idleWait.Seconds()
	if res.IdleRSSBytes, err = currentRSS(pd.pid()); err != nil {
		return err
	}
	res.IdleRSSAnon, _ = procStatusBytes(pd.pid(), "RssAnon")
	res.IdleRSSFile, _ = procStatusBytes(pd.pid(), "RssFile")
	m, err := scrapeMetrics(ctx, &http.Client{Timeout: 10 * time.Second}, "http://"+pd.httpAddr+"/metrics")
	if err != nil {
		return err
	}
	res.HeapInuse, res.LiveHeap = m.heapInuse, m.liveHeap()
	res.BytesPerPaper = float64(res.IdleRSSBytes) / float64(n)
	res.MarginalPerPaper = float64(res.IdleRSSBytes-res.EmptyRSSBytes) / float64(n)

	if err := scaleCalls(ctx, o, pd, voc, &res, logf); err != nil {
		return err
	}
	res.CallsRSSBytes, _ = currentRSS(pd.pid())

	logf("stopping paperd (SIGTERM) and starting it again")
	stopBegan := time.Now()
	pd.stop()
	res.StopS = time.Since(stopBegan).Seconds()
	if pd, err = startPaperd(ctx, bin, data, scaleReadyLimit, env...); err != nil {
		return fmt.Errorf("start after a clean stop: %w", err)
	}
	res.CleanReadyS = pd.ready.Seconds()
	logf("ready %v after a clean stop", pd.ready.Round(time.Millisecond))
	settle(ctx, pd.pid(), scaleSettleLimit)

	// A crash comes amid work: the last upvotes are cast right before the kill,
	// with nothing waited for in between.
	lateVotes := max(1, n/scaleLateVotesPerPaper)
	logf("casting %d more upvotes, then killing paperd (SIGKILL) and starting it again", lateVotes)
	if err := castVotes(ctx, pd, n, res.Votes, lateVotes); err != nil {
		return err
	}
	res.Votes += lateVotes
	pd.kill()
	if pd, err = startPaperd(ctx, bin, data, scaleReadyLimit, env...); err != nil {
		return fmt.Errorf("start after kill -9: %w", err)
	}
	res.KillReadyS = pd.ready.Seconds()
	logf("ready %v after kill -9", pd.ready.Round(time.Millisecond))
	settle(ctx, pd.pid(), scaleSettleLimit)
	res.KillRSSBytes, _ = currentRSS(pd.pid())
	pd.stop()

	if res.DataDirBytes, res.DataDirApparent, err = diskUsage(data); err != nil {
		return err
	}
	res.DataDirRatio = float64(res.DataDirBytes) / float64(size)
	if o.keepData != "" {
		if err := os.Rename(data, o.keepData); err != nil {
			return fmt.Errorf("-keep-data: %w", err)
		}
		logf("kept paperd's data directory in %s", o.keepData)
	}

	res.Targets = scaleTargets(res)
	res.print(out)
	line, err := json.Marshal(map[string]any{"scale": res})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(out, string(line))
	return err
}

// scaleCalls measures the baseline, GetPaper, ListPapers and SearchPapers with
// every query new with the raw client, each for o.duration after a warm-up.
func scaleCalls(ctx context.Context, o options, pd *paperd, voc *vocabulary, res *scaleResult, logf func(string, ...any)) error {
	o.pid = pd.pid()
	r := rand.New(rand.NewPCG(5, 6)) //nolint:gosec // benchmark data
	gets := make([]map[string]string, 10000)
	for i := range gets {
		gets[i] = map[string]string{"name": "papers/" + snapshotID(r.IntN(res.Papers))}
	}
	const svc = "/papers.catalog.v1.CatalogService/"
	searches := newSearchRequests(voc, 100000)
	calls := []struct {
		key, name, method string
		reqs              any
		msg               func() proto.Message
	}{
		{callBaseline, "grpc.health.v1.Health/Check (baseline)", "/grpc.health.v1.Health/Check", []map[string]any{{}},
			func() proto.Message { return &healthpb.HealthCheckRequest{} }},
		{callGet, "GetPaper (random papers)", svc + "GetPaper", gets,
			func() proto.Message { return &catalogv1.GetPaperRequest{} }},
		{callList, "ListPapers (filter + order, page of 50)", svc + "ListPapers", listRequests(""),
			func() proto.Message { return &catalogv1.ListPapersRequest{} }},
		{callSearchNew, "SearchPapers (every query new)", svc + "SearchPapers", searches,
			func() proto.Message { return &catalogv1.SearchPapersRequest{} }},
	}
	for _, c := range calls {
		logf("running %s with the raw client for %v, %d clients", c.name, o.duration, o.concurrency)
		call, err := rawRequests(c.method, c.reqs, c.msg)
		if err != nil {
			return err
		}
		if c.key == callList {
			// Each filter's first call computes its list from every paper; the
			// calls after it are served from the list cache, which a write
			// patches. The first calls are made, one at a time, and timed
			// before the measured run, which is of the cached lists: a
			// two-second warm-up did not cover them at a million papers.
			if res.ListFirstCallsMs, err = firstCalls(ctx, pd.grpcAddr, *call); err != nil {
				return fmt.Errorf("%s, first calls: %w", c.name, err)
			}
		}
		before := cpuTime(o.pid)
		rr, err := runRaw(ctx, pd.grpcAddr, *call, o)
		switch {
		case err != nil && rr.Count == 0:
			return fmt.Errorf("%s: %w", c.name, err)
		case err != nil:
			// Calls that fail at this size are a figure too: counted, and a
			// missed target, not the end of the run.
			logf("%s: %v", c.name, err)
		}
		rr.ServerCPUus = perRequest(cpuTime(o.pid)-before, rr.Count)
		res.Calls[c.key] = rr
		// The warm-up's calls (about two seconds' worth) take the first
		// queries; past the last, the run starts again with the first.
		if c.key == callSearchNew && float64(rr.Count)+2*rr.RPS > float64(len(searches)) {
			res.SearchRepeated = true
		}
	}
	return nil
}

// firstCalls makes each of call's requests once, one after the other, and
// returns how long each took, in milliseconds.
func firstCalls(ctx context.Context, addr string, call rawCall) ([]float64, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	defer func() { _ = conn.Close() }()
	out := make([]float64, 0, len(call.reqs))
	var resp []byte
	for _, req := range call.reqs {
		body, err := proto.Marshal(req)
		if err != nil {
			return nil, err
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		began := time.Now()
		err = conn.Invoke(cctx, call.method, &body, &resp, grpc.ForceCodec(rawCodec{}))
		cancel()
		if err != nil {
			return nil, err
		}
		out = append(out, float64(time.Since(began).Microseconds())/1000)
	}
	return out, nil
}

// failedCalls counts the calls of the measured runs that failed.
func failedCalls(r scaleResult) int64 {
	var n int64
	for _, c := range r.Calls {
		n += c.Errors
	}
	return n
}

// scaleVotesPerPaper: the section casts one upvote for this many papers. An
// arXiv snapshot carries no upvotes, and without any, ListPapers' filters on
// upvotes would match nothing.
const scaleVotesPerPaper = 10

// scaleLateVotesPerPaper: the section casts one more upvote for this many
// papers right before it kills paperd.
const scaleLateVotesPerPaper = 1000

// castVotes casts votes upvotes through UpvotePaper, each by a different user
// (numbered from first on), over the snapshot's n papers with a heavy tail (a
// few papers get most), from eight clients.
func castVotes(ctx context.Context, pd *paperd, n, first, votes int) error {
	client := catalogv1.NewCatalogServiceClient(pd.conn)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for w := range errs {
		wg.Go(func() {
			for {
				i := first + int(next.Add(1)-1)
				if i >= first+votes || ctx.Err() != nil {
					return
				}
				r := rand.New(rand.NewPCG(uint64(i), 7)) //nolint:gosec // benchmark data
				token, err := userJWT(fmt.Sprintf("scale-voter-%d", i))
				if err != nil {
					errs[w] = err
					return
				}
				cctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token), time.Minute)
				paper := int(math.Pow(r.Float64(), 3) * float64(n))
				_, err = client.UpvotePaper(cctx, &catalogv1.UpvotePaperRequest{Name: "papers/" + snapshotID(min(paper, n-1))})
				cancel()
				if err != nil {
					errs[w] = fmt.Errorf("upvote %d: %w", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return ctx.Err()
}

// halvesPeak returns the largest sample of the first half of samples and of the
// second half; one sample is both halves.
func halvesPeak(samples []int64) (first, last int64) {
	if len(samples) == 0 {
		return 0, 0
	}
	mid := (len(samples) + 1) / 2
	for _, v := range samples[:mid] {
		first = max(first, v)
	}
	for _, v := range samples[len(samples)/2:] {
		last = max(last, v)
	}
	return first, last
}

// diskUsage returns the disk space the files under dir take, as du counts it
// (allocated blocks), and the sum of their sizes.
func diskUsage(dir string) (used, apparent int64, err error) {
	err = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			used += st.Blocks * 512
		}
		if info.Mode().IsRegular() {
			apparent += info.Size()
		}
		return nil
	})
	return used, apparent, err
}

// scaleTargets puts every figure the issue sets a target for beside it. Targets
// of the whole snapshot (RSS, import time) are also given per paper, which is
// what a run at another size can be judged by.
func scaleTargets(r scaleResult) []scaleTarget {
	base := r.Calls[callBaseline].RPS
	ratio := func(key string) float64 {
		if base == 0 {
			return 0
		}
		return r.Calls[key].RPS / base
	}
	at := fmt.Sprintf("the target is of %d papers", scaleTargetPapers)
	perPaper := float64(targetRSSBytes) / scaleTargetPapers
	rate := float64(scaleTargetPapers) / targetImportSeconds
	growth := 0.0
	if r.PaperctlFirstRSS > 0 {
		growth = float64(r.PaperctlLastRSS) / float64(r.PaperctlFirstRSS)
	}
	flat := newTarget("paperctl RSS: second half's peak vs first half's", growth, "<=", paperctlFlatRatio, "x",
		fmt.Sprintf("flat: within 1.25x, or +32 MiB; %d samples", r.PaperctlSamples))
	if r.PaperctlFlat {
		flat.Verdict = "met"
	}
	return []scaleTarget{
		newTarget("paperd RSS once idle", float64(r.IdleRSSBytes), "<=", targetRSSBytes, "bytes", at),
		newTarget("paperd RSS once idle above an empty paperd's, per paper", r.MarginalPerPaper, "<=", perPaper, "bytes", "4 GiB over 2.7 M papers"),
		newTarget("import time", r.ImportS, "<=", targetImportSeconds, "s", at),
		newTarget("import rate", r.ImportRate, ">=", rate, "papers/s", "25 minutes for 2.7 M papers"),
		flat,
		newTarget("ready after a clean stop", r.CleanReadyS, "<=", targetCleanReadyS, "s", ""),
		newTarget("ready after kill -9", r.KillReadyS, "<=", targetKillReadyS, "s", ""),
		newTarget("data directory vs input", r.DataDirRatio, "<=", targetDataDirRatio, "x", ""),
		newTarget("GetPaper vs baseline", ratio(callGet), ">=", targetGetRatio, "x", ""),
		newTarget("ListPapers vs baseline", ratio(callList), ">=", targetListRatio, "x", ""),
		newTarget("SearchPapers (every query new) vs baseline", ratio(callSearchNew), ">=", targetSearchNewRatio, "x", ""),
		newTarget("calls that failed", float64(failedCalls(r)), "<=", 0, "calls", "deadline 10 s; any other error too"),
		newTarget("GetPaper p99", r.Calls[callGet].P99ms, "<", targetP99ms, "ms", ""),
		newTarget("ListPapers p99", r.Calls[callList].P99ms, "<", targetP99ms, "ms", ""),
		newTarget("SearchPapers (every query new) p99", r.Calls[callSearchNew].P99ms, "<", targetP99ms, "ms", ""),
	}
}

func (r scaleResult) print(out io.Writer) {
	mib := func(b float64) float64 { return b / (1 << 20) }
	_, _ = fmt.Fprintf(out, "scale: %d generated arXiv-shaped records (%.0f MiB of JSON) imported with paperctl into a fresh paperd on the embedded database\n",
		r.Papers, mib(float64(r.SnapshotBytes)))
	_, _ = fmt.Fprintf(out, "import %.1fs (%.0f papers/s, %s); paperctl RSS MiB %.0f / %.0f / %.0f (10/50/90%% of the time), peak %.0f (first half's %.0f, second half's %.0f: %s); paperd peak RSS during it %.0f MiB\n",
		r.ImportS, r.ImportRate, r.ImportResult, mib(float64(r.PaperctlRSS[0])), mib(float64(r.PaperctlRSS[1])), mib(float64(r.PaperctlRSS[2])),
		mib(float64(r.PaperctlPeakRSS)), mib(float64(r.PaperctlFirstRSS)), mib(float64(r.PaperctlLastRSS)),
		map[bool]string{true: "flat", false: "growing"}[r.PaperctlFlat], mib(float64(r.PaperdImportPeak)))
	_, _ = fmt.Fprintf(out, "%d upvotes cast through UpvotePaper (heavy-tailed): one for every %d papers after the import (%.0f a second), one for every %d right before the kill -9\n",
		r.Votes, scaleVotesPerPaper, r.VoteRate, scaleLateVotesPerPaper)
	_, _ = fmt.Fprintf(out, "paperd idle %.0fs after the votes: RSS %.0f MiB then (Go heap in use %.0f MiB); %.0fs later RSS %.0f MiB (%.0f bytes/paper; empty paperd %.0f MiB, %.0f bytes/paper above it), Go heap in use %.0f MiB, live %.0f MiB; right after the calls below RSS %.0f MiB\n",
		r.SettleS, mib(float64(r.SettledRSSBytes)), mib(r.SettledHeapInuse), r.IdleWaitS, mib(float64(r.IdleRSSBytes)), r.BytesPerPaper,
		mib(float64(r.EmptyRSSBytes)), r.MarginalPerPaper, mib(r.HeapInuse), mib(r.LiveHeap), mib(float64(r.CallsRSSBytes)))
	_, _ = fmt.Fprintf(out, "  of the RSS: %.0f MiB of the process's own memory (RssAnon), %.0f MiB of mapped files' pages (RssFile: search index segments, the binary)\n",
		mib(float64(r.IdleRSSAnon)), mib(float64(r.IdleRSSFile)))
	_, _ = fmt.Fprintf(out, "clean stop took %.1fs; ready %.1fs after it; ready %.1fs after kill -9 (RSS then %.0f MiB); data directory %.0f MiB (%.2fx the input; %.0f MiB of file sizes)\n",
		r.StopS, r.CleanReadyS, r.KillReadyS, mib(float64(r.KillRSSBytes)), mib(float64(r.DataDirBytes)), r.DataDirRatio, mib(float64(r.DataDirApparent)))
	tw := newTable(out)
	_, _ = fmt.Fprintln(tw, "call (raw client)\treq/s\tp50 ms\tp99 ms\tvs baseline\tpaperd CPU µs/req\t")
	base := r.Calls[callBaseline].RPS
	for _, k := range []string{callBaseline, callGet, callList, callSearchNew} {
		c := r.Calls[k]
		_, _ = fmt.Fprintf(tw, "%s\t%.0f\t%.2f\t%.2f\t%.3f\t%.0f\t\n", k, c.RPS, c.P50ms, c.P99ms, c.RPS/base, c.ServerCPUus)
	}
	_ = tw.Flush()
	if r.SearchRepeated {
		_, _ = fmt.Fprintln(out, "note: search_new made more calls than it had queries; some were answered from the cache")
	}
	if n := len(r.ListFirstCallsMs); n > 0 {
		first := slices.Sorted(slices.Values(r.ListFirstCallsMs))
		_, _ = fmt.Fprintf(out, "list: the first call of each of its %d filters, one at a time before the run (the list computed from every paper): median %.0f ms, slowest %.0f ms; the run above is of cached lists\n",
			n, first[n/2], first[n-1])
	}
	tw = newTable(out)
	_, _ = fmt.Fprintln(tw, "target (issue 16)\tvalue\ttarget\tverdict\tnote\t")
	for _, t := range r.Targets {
		_, _ = fmt.Fprintf(tw, "%s\t%s\t%s %s\t%s\t%s\t\n", t.Name, formatFigure(t.Value, t.Unit), t.Op, formatFigure(t.Target, t.Unit), t.Verdict, t.Note)
	}
	_ = tw.Flush()
}

// formatFigure prints a figure in its unit, bytes as MiB.
func formatFigure(v float64, unit string) string {
	switch unit {
	case "bytes":
		if v >= 1<<20 {
			return fmt.Sprintf("%.0f MiB", v/(1<<20))
		}
		return fmt.Sprintf("%.0f B", v)
	case "x":
		return fmt.Sprintf("%.3fx", v)
	case "":
		return fmt.Sprintf("%g", v)
	default:
		return fmt.Sprintf("%.1f %s", v, unit)
	}
}
