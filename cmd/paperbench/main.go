// Command paperbench is the benchmark behind `make bench`. It seeds an embedded
// catalog with generated papers, starts paperd on it as a separate process, loads it
// with ghz (gRPC) and hey (REST) from other processes, and prints a table and, as
// its last line, one JSON object with requests per second and p50/p99 latency of
// each call plus paperd's peak RSS. Speeds are reported as ratios against the
// grpc.health.v1 Check baseline measured in the same run.
package main

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/golang-jwt/jwt/v5"

	"github.com/papercatalog/papers/embedded"
	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	"github.com/papercatalog/papers/repository"
	"github.com/papercatalog/papers/repository/mongo"
)

// benchSecret signs the benchmark's user token (HS256); a new one every run.
var benchSecret = crand.Text() + crand.Text()

const (
	ghzModule = "github.com/bojand/ghz/cmd/ghz@v0.93.0"
	heyModule = "github.com/rakyll/hey@v0.1.5"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "paperbench:", err)
		os.Exit(1)
	}
}

type options struct {
	pid           int // paperd's process id
	papers        int
	votes         int
	importPapers  int
	snapshotLines int
	duration      time.Duration
	concurrency   int
	sample        string
	digestSubs    int
	digestPapers  int
	only          string
	mixedDuration time.Duration
	mixedWorkers  int
	mixedImport   int
	advClients    int
	advDuration   time.Duration
}

// result is one measured call.
type result struct {
	Name   string  `json:"name"`
	RPS    float64 `json:"rps"`
	P50ms  float64 `json:"p50_ms"`
	P99ms  float64 `json:"p99_ms"`
	Count  int64   `json:"requests"`
	Errors int64   `json:"errors"`
	// ServerCPUus is paperd's CPU time (user + system) per request during the
	// measured run, in microseconds: what the call costs the server, whatever the
	// load tool costs on the same cores.
	ServerCPUus float64 `json:"server_cpu_us_per_request"`
	// H2loadRPS is the requests per second h2load reached on the same call: a
	// client that does not decode responses, so the figure is bound by paperd
	// rather than by the load tool (0 where not measured).
	H2loadRPS float64 `json:"h2load_rps,omitempty"`
	// Raw is the same call measured with paperbench's own client, which cycles
	// through the same requests as ghz, pre-encoded, without decoding answers.
	Raw *rawResult `json:"raw,omitempty"`
	// CutAtEnd counts calls the load tool itself cut when its time was up
	// ("transport is closing", canceled); they are not errors of paperd.
	CutAtEnd int64 `json:"cut_at_end,omitempty"`
	// Codes counts the responses that were not OK by status (gRPC code or HTTP
	// status).
	Codes map[string]int64 `json:"error_codes,omitempty"`
}

func run(ctx context.Context, args []string, out io.Writer) error {
	var o options
	fs := flag.NewFlagSet("paperbench", flag.ContinueOnError)
	fs.IntVar(&o.papers, "papers", 50000, "number of generated papers")
	fs.IntVar(&o.votes, "votes", 500000, "number of generated upvotes")
	fs.IntVar(&o.importPapers, "import-papers", 20000, "number of generated papers to import")
	fs.IntVar(&o.snapshotLines, "snapshot-lines", 0, "instead of everything else, import a generated arXiv snapshot of this many lines twice with paperctl and report memory (make bench-import)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "duration of each measured run")
	fs.IntVar(&o.concurrency, "concurrency", 16, "concurrent clients")
	fs.StringVar(&o.sample, "sample", sampleFile, "arXiv metadata sample to take the vocabulary from")
	fs.IntVar(&o.digestSubs, "digest-subscribers", 10000, "confirmed subscribers of the digest run")
	fs.IntVar(&o.digestPapers, "digest-papers", 5000, "papers submitted over the week of the digest run")
	fs.StringVar(&o.only, "only", "", `run one section alone: "digest", "mixed" or "adversarial"`)
	fs.DurationVar(&o.mixedDuration, "mixed-duration", 60*time.Second, "duration of the mixed-load run")
	fs.IntVar(&o.mixedWorkers, "mixed-workers", 16, "concurrent workers of the mixed-load run")
	fs.IntVar(&o.mixedImport, "mixed-import", 3000, "generated papers imported through one ImportPapers stream during the mixed-load run")
	fs.IntVar(&o.advClients, "adversarial-clients", 8, "clients sending expensive searches in the adversarial-search run")
	fs.DurationVar(&o.advDuration, "adversarial-duration", 20*time.Second, "how long the adversarial clients send searches")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logf := func(format string, a ...any) { _, _ = fmt.Fprintf(out, "# "+format+"\n", a...) }

	tmp, err := os.MkdirTemp("", "paperbench-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(tmp) }()

	logf("building paperd and the load tools (ghz, hey)")
	bin := filepath.Join(tmp, "bin")
	if err := sh(ctx, "", nil, "go", "build", "-o", filepath.Join(bin, "paperd"), "./cmd/paperd"); err != nil {
		return err
	}
	for _, m := range []string{ghzModule, heyModule} {
		if err := sh(ctx, "", []string{"GOBIN=" + bin}, "go", "install", m); err != nil {
			return err
		}
	}

	if o.snapshotLines > 0 {
		voc, _ := loadVocabulary(o.sample)
		return snapshotBench(ctx, o, bin, tmp, voc, out, logf)
	}
	switch o.only {
	case "":
	case "digest":
		voc, _ := loadVocabulary(o.sample)
		dig, err := runDigestBench(ctx, o, bin, tmp, voc, logf)
		if err != nil {
			return err
		}
		line, err := json.Marshal(map[string]any{"digest": dig})
		if err != nil {
			return err
		}
		printDigest(out, dig)
		_, err = fmt.Fprintln(out, string(line))
		return err
	case "mixed":
		voc, _ := loadVocabulary(o.sample)
		mix, err := runMixedBench(ctx, o, bin, tmp, voc, logf)
		if err != nil {
			return err
		}
		line, err := json.Marshal(map[string]any{"mixed": mix})
		if err != nil {
			return err
		}
		printMixed(out, mix)
		if _, err := fmt.Fprintln(out, string(line)); err != nil {
			return err
		}
		return mix.err()
	case "adversarial":
		voc, _ := loadVocabulary(o.sample)
		adv, err := runAdversarialBench(ctx, o, bin, tmp, voc, logf)
		if err != nil {
			return err
		}
		line, err := json.Marshal(map[string]any{"adversarial": adv})
		if err != nil {
			return err
		}
		printAdversarial(out, adv)
		if _, err := fmt.Fprintln(out, string(line)); err != nil {
			return err
		}
		return adv.err()
	default:
		return fmt.Errorf("-only %q: the sections are: digest, mixed, adversarial", o.only)
	}
	data := filepath.Join(tmp, "data")
	seedStart := time.Now()
	voc, about := loadVocabulary(o.sample)
	papers := generate(voc, o.papers, 1)
	if err := seed(ctx, data, papers, generateVotes(papers, o.votes, 2)); err != nil {
		return err
	}
	logf("seeded %d papers and %d upvotes in %v (%s)", o.papers, o.votes, time.Since(seedStart).Round(time.Millisecond), about)

	grpcAddr, httpAddr, err := freeAddrs()
	if err != nil {
		return err
	}
	var cmd *exec.Cmd
	start := func(what string) (time.Duration, error) {
		cmd = exec.CommandContext(ctx, filepath.Join(bin, "paperd"))
		cmd.Env = append(os.Environ(), "PAPERD_DATA_DIR="+data, "PAPERD_GRPC_ADDR="+grpcAddr,
			"PAPERD_HTTP_ADDR="+httpAddr, "PAPERD_LOG_LEVEL=warn", "PAPERD_JWT_SECRET="+benchSecret,
			// One user upvotes as fast as it can: the per-user limit (60 a
			// minute by default) would answer nearly every call RESOURCE_EXHAUSTED.
			"PAPERD_UPVOTE_RATE_LIMIT="+mixedRateLimit, "PAPERD_WRITE_RATE_LIMIT="+mixedRateLimit)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		began := time.Now()
		if err := cmd.Start(); err != nil {
			return 0, err
		}
		o.pid = cmd.Process.Pid
		if err := waitReady(ctx, "http://"+httpAddr+"/readyz", 10*time.Minute); err != nil {
			return 0, err
		}
		took := time.Since(began)
		logf("paperd ready (%s) after %v", what, took.Round(time.Millisecond))
		return took, nil
	}
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}
	firstStart, err := start("first start: builds the search index")
	if err != nil {
		return err
	}
	stop()
	startup, err := start("restart with the catalog and its index present")
	if err != nil {
		return err
	}
	stop()
	if err := os.RemoveAll(filepath.Join(data, "search")); err != nil {
		return err
	}
	rebuildStart, err := start("restart with the search index deleted")
	if err != nil {
		return err
	}
	defer stop()

	getData, err := writeJSON(tmp, "get.json", getRequests(o.papers, 1000))
	if err != nil {
		return err
	}
	listData, err := writeJSON(tmp, "list.json", listRequests(""))
	if err != nil {
		return err
	}
	listFullData, err := writeJSON(tmp, "list-full.json", listRequests("PAPER_VIEW_FULL"))
	if err != nil {
		return err
	}
	weeks, trendingReqs, queries := dailyRequests(), trendingRequests(), searchRequests(voc, 2000)
	dailyData, err := writeJSON(tmp, "daily.json", weeks)
	if err != nil {
		return err
	}
	trendingData, err := writeJSON(tmp, "trending.json", trendingReqs)
	if err != nil {
		return err
	}
	searchData, err := writeJSON(tmp, "search.json", queries)
	if err != nil {
		return err
	}
	// ghz takes the first half, the raw client the second.
	fresh := newSearchRequests(voc, 100000)
	newSearchData, err := writeJSON(tmp, "search-new.json", fresh[:50000])
	if err != nil {
		return err
	}
	upvoteData, err := writeJSON(tmp, "upvote.json", getRequests(o.papers, o.papers))
	if err != nil {
		return err
	}
	// ghz and the raw client vote as different users, so neither finds its votes
	// already cast by the other.
	userToken, err := userJWT("paperbench")
	if err != nil {
		return err
	}
	rawUserToken, err := userJWT("paperbench-raw")
	if err != nil {
		return err
	}
	rawReqs := func(method string, maps any, msg func() proto.Message) *rawCall {
		call, err := rawRequests(method, maps, msg)
		if err != nil {
			panic(err) // the benchmark's own request lists
		}
		return call
	}
	getMsgs := getRequests(o.papers, 1000)
	upvoteMsgs := getRequests(o.papers, o.papers)
	voter := func(c *rawCall) *rawCall {
		c.md = metadata.Pairs("authorization", "Bearer "+rawUserToken)
		return c
	}
	ghz := filepath.Join(bin, "ghz")
	h2 := &h2loader{addr: grpcAddr, o: o}
	if h2.path, err = exec.LookPath("h2load"); err != nil {
		logf("h2load not found (Debian package nghttp2-client): measuring with ghz only")
	} else if err := h2.dial(); err != nil {
		return err
	}
	defer h2.close()
	getReq := &catalogv1.GetPaperRequest{Name: "papers/" + benchID(o.papers/2)}
	listReq := &catalogv1.ListPapersRequest{Filter: `categories:"cs.LG" AND upvotes >= 1`, OrderBy: "upvotes desc, submit_time desc", PageSize: 50}
	listFullReq := proto.CloneOf(listReq)
	listFullReq.View = catalogv1.PaperView_PAPER_VIEW_FULL
	svc := "/papers.catalog.v1.CatalogService/"
	runs := []struct {
		name string
		run  func() (result, error)
		h2   func(context.Context) (proto.Message, proto.Message, string, error)
		raw  *rawCall
	}{
		{"grpc.health.v1.Health/Check (baseline)", func() (result, error) {
			return runGhz(ctx, ghz, grpcAddr, "grpc.health.v1.Health/Check", "-d", "{}", o)
		}, func(ctx context.Context) (proto.Message, proto.Message, string, error) {
			req := &healthpb.HealthCheckRequest{}
			resp, err := healthpb.NewHealthClient(h2.conn).Check(ctx, req)
			return req, resp, "/grpc.health.v1.Health/Check", err
		}, &rawCall{method: "/grpc.health.v1.Health/Check", reqs: []proto.Message{&healthpb.HealthCheckRequest{}}}},
		{"CatalogService/GetPaper", func() (result, error) {
			return runGhz(ctx, ghz, grpcAddr, "papers.catalog.v1.CatalogService/GetPaper", "-D", getData, o)
		}, func(ctx context.Context) (proto.Message, proto.Message, string, error) {
			resp, err := catalogv1.NewCatalogServiceClient(h2.conn).GetPaper(ctx, getReq)
			return getReq, resp, "/papers.catalog.v1.CatalogService/GetPaper", err
		}, rawReqs(svc+"GetPaper", getMsgs, func() proto.Message { return &catalogv1.GetPaperRequest{} })},
		{"CatalogService/ListPapers (filter + order, page of 50)", func() (result, error) {
			return runGhz(ctx, ghz, grpcAddr, "papers.catalog.v1.CatalogService/ListPapers", "-D", listData, o)
		}, func(ctx context.Context) (proto.Message, proto.Message, string, error) {
			resp, err := catalogv1.NewCatalogServiceClient(h2.conn).ListPapers(ctx, listReq)
			return listReq, resp, "/papers.catalog.v1.CatalogService/ListPapers", err
		}, rawReqs(svc+"ListPapers", listRequests(""), func() proto.Message { return &catalogv1.ListPapersRequest{} })},
		{"CatalogService/ListPapers, view FULL (with abstracts)", func() (result, error) {
			return runGhz(ctx, ghz, grpcAddr, "papers.catalog.v1.CatalogService/ListPapers", "-D", listFullData, o)
		}, func(ctx context.Context) (proto.Message, proto.Message, string, error) {
			resp, err := catalogv1.NewCatalogServiceClient(h2.conn).ListPapers(ctx, listFullReq)
			return listFullReq, resp, "/papers.catalog.v1.CatalogService/ListPapers", err
		}, rawReqs(svc+"ListPapers", listRequests("PAPER_VIEW_FULL"), func() proto.Message { return &catalogv1.ListPapersRequest{} })},
		{"CatalogService/ListDailyPapers (a week, default order)", func() (result, error) {
			return runGhz(ctx, ghz, grpcAddr, "papers.catalog.v1.CatalogService/ListDailyPapers", "-D", dailyData, o)
		}, func(ctx context.Context) (proto.Message, proto.Message, string, error) {
			req := &catalogv1.ListDailyPapersRequest{Week: weeks[0]["week"]}
			resp, err := catalogv1.NewCatalogServiceClient(h2.conn).ListDailyPapers(ctx, req)
			return req, resp, "/papers.catalog.v1.CatalogService/ListDailyPapers", err
		}, rawReqs(svc+"ListDailyPapers", weeks, func() proto.Message { return &catalogv1.ListDailyPapersRequest{} })},
		{"CatalogService/ListTrendingPapers (7 days)", func() (result, error) {
			return runGhz(ctx, ghz, grpcAddr, "papers.catalog.v1.CatalogService/ListTrendingPapers", "-D", trendingData, o)
		}, func(ctx context.Context) (proto.Message, proto.Message, string, error) {
			req := &catalogv1.ListTrendingPapersRequest{}
			resp, err := catalogv1.NewCatalogServiceClient(h2.conn).ListTrendingPapers(ctx, req)
			return req, resp, "/papers.catalog.v1.CatalogService/ListTrendingPapers", err
		}, rawReqs(svc+"ListTrendingPapers", trendingReqs, func() proto.Message { return &catalogv1.ListTrendingPapersRequest{} })},
		{"CatalogService/SearchPapers (two words, page of 20)", func() (result, error) {
			return runGhz(ctx, ghz, grpcAddr, "papers.catalog.v1.CatalogService/SearchPapers", "-D", searchData, o)
		}, func(ctx context.Context) (proto.Message, proto.Message, string, error) {
			req := &catalogv1.SearchPapersRequest{Query: queries[0]["query"].(string), PageSize: 20}
			resp, err := catalogv1.NewCatalogServiceClient(h2.conn).SearchPapers(ctx, req)
			return req, resp, "/papers.catalog.v1.CatalogService/SearchPapers", err
		}, rawReqs(svc+"SearchPapers", queries, func() proto.Message { return &catalogv1.SearchPapersRequest{} })},
		{"CatalogService/SearchPapers (every query new)", func() (result, error) {
			return runGhz(ctx, ghz, grpcAddr, "papers.catalog.v1.CatalogService/SearchPapers", "-D", newSearchData, o)
		}, nil, rawReqs(svc+"SearchPapers", fresh[50000:], func() proto.Message { return &catalogv1.SearchPapersRequest{} })},
		{"CatalogService/ListSimilarPapers", func() (result, error) {
			return runGhz(ctx, ghz, grpcAddr, "papers.catalog.v1.CatalogService/ListSimilarPapers", "-D", getData, o)
		}, func(ctx context.Context) (proto.Message, proto.Message, string, error) {
			req := &catalogv1.ListSimilarPapersRequest{Name: getReq.GetName()}
			resp, err := catalogv1.NewCatalogServiceClient(h2.conn).ListSimilarPapers(ctx, req)
			return req, resp, "/papers.catalog.v1.CatalogService/ListSimilarPapers", err
		}, rawReqs(svc+"ListSimilarPapers", getMsgs, func() proto.Message { return &catalogv1.ListSimilarPapersRequest{} })},
		{"CatalogService/UpvotePaper (a new paper each call)", func() (result, error) {
			return runGhz(ctx, ghz, grpcAddr, "papers.catalog.v1.CatalogService/UpvotePaper", "-D", upvoteData, o,
				"--metadata", `{"authorization": "Bearer `+userToken+`"}`)
		}, nil, voter(rawReqs(svc+"UpvotePaper", upvoteMsgs, func() proto.Message { return &catalogv1.UpvotePaperRequest{} }))},
		{"CatalogService/RemovePaperUpvote (each paper upvoted above)", func() (result, error) {
			return runGhz(ctx, ghz, grpcAddr, "papers.catalog.v1.CatalogService/RemovePaperUpvote", "-D", upvoteData, o,
				"--metadata", `{"authorization": "Bearer `+userToken+`"}`)
		}, nil, voter(rawReqs(svc+"RemovePaperUpvote", upvoteMsgs, func() proto.Message { return &catalogv1.RemovePaperUpvoteRequest{} }))},
		{"REST GET /v1/papers/{paper}", func() (result, error) {
			return runHey(ctx, filepath.Join(bin, "hey"), "http://"+httpAddr+"/v1/papers/"+benchID(o.papers/2), o)
		}, nil, nil},
	}
	results := make([]result, 0, len(runs))
	// paperd may still be merging its freshly built search index; measure once it
	// is idle, or the baseline pays for that work.
	settled := settle(ctx, o.pid, time.Minute)
	logf("paperd idle after %v", settled.Round(time.Second))
	for _, r := range runs {
		logf("running %s for %v with %d clients", r.name, o.duration, o.concurrency)
		res, err := r.run()
		if err != nil {
			return fmt.Errorf("%s: %w", r.name, err)
		}
		if r.h2 != nil && h2.path != "" {
			logf("running %s with h2load for %v", r.name, o.duration)
			if res.H2loadRPS, err = h2.run(ctx, tmp, r.h2); err != nil {
				return fmt.Errorf("%s (h2load): %w", r.name, err)
			}
		}
		if r.raw != nil {
			logf("running %s with the raw client for %v", r.name, o.duration)
			before := cpuTime(o.pid)
			rr, err := runRaw(ctx, grpcAddr, *r.raw, o)
			if err != nil {
				return fmt.Errorf("%s (raw client): %w", r.name, err)
			}
			rr.ServerCPUus = perRequest(cpuTime(o.pid)-before, rr.Count)
			res.Raw = &rr
		}
		res.Name = r.name
		results = append(results, res)
	}
	rss, err := peakRSS(o.pid)
	if err != nil {
		return err
	}
	stop()
	logf("importing %d generated papers through ImportPapers and with raw InsertMany", o.importPapers)
	imp, err := importBench(ctx, bin, tmp, voc, o.importPapers, logf)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	dig, err := runDigestBench(ctx, o, bin, tmp, voc, logf)
	if err != nil {
		return err
	}
	mix, err := runMixedBench(ctx, o, bin, tmp, voc, logf)
	if err != nil {
		return err
	}
	adv, err := runAdversarialBench(ctx, o, bin, tmp, voc, logf)
	if err != nil {
		return err
	}

	byName := map[string]result{}
	for _, r := range results {
		byName[r.Name] = r
	}
	base, get, list, rest := results[0], results[1], results[2], byName["REST GET /v1/papers/{paper}"]
	tw := newTable(out)
	_, _ = fmt.Fprintln(tw, "call\tghz req/s\tp50 ms\tp99 ms\terrors\tcut at end\tvs baseline\th2load req/s\tvs baseline\traw req/s\tp50 ms\tp99 ms\tvs baseline\tpaperd CPU µs/req\t")
	for _, r := range results {
		errs := strconv.FormatInt(r.Errors, 10)
		if len(r.Codes) > 0 {
			errs += fmt.Sprint(" ", r.Codes)
		}
		h2rps, h2ratio := "-", "-"
		if r.H2loadRPS > 0 && base.H2loadRPS > 0 {
			h2rps, h2ratio = fmt.Sprintf("%.0f", r.H2loadRPS), fmt.Sprintf("%.2fx", r.H2loadRPS/base.H2loadRPS)
		}
		raw := "-\t-\t-\t-"
		cpu := r.ServerCPUus
		if r.Raw != nil && base.Raw != nil {
			raw = fmt.Sprintf("%.0f\t%.2f\t%.2f\t%.2fx", r.Raw.RPS, r.Raw.P50ms, r.Raw.P99ms, r.Raw.RPS/base.Raw.RPS)
			cpu = r.Raw.ServerCPUus
		}
		_, _ = fmt.Fprintf(tw, "%s\t%.0f\t%.2f\t%.2f\t%s\t%d\t%.2fx\t%s\t%s\t%s\t%.0f\t\n", r.Name, r.RPS, r.P50ms, r.P99ms,
			errs, r.CutAtEnd, r.RPS/base.RPS, h2rps, h2ratio, raw, cpu)
	}
	_ = tw.Flush()
	_, _ = fmt.Fprintln(out, "(ghz decodes every answer with dynamic messages and h2load repeats one request; the raw client cycles through the same requests as ghz, pre-encoded, without decoding answers. paperd CPU is per request in the raw run, else the ghz/hey run.)")
	ratios := map[string]float64{
		"get_vs_baseline":  get.RPS / base.RPS,
		"list_vs_baseline": list.RPS / base.RPS,
		"rest_get_vs_get":  rest.RPS / get.RPS,
	}
	_, _ = fmt.Fprintf(out, "ghz/hey req/s: GetPaper %.2fx baseline (target >= 0.6), ListPapers %.2fx baseline (target >= 0.2), REST GetPaper %.2fx gRPC GetPaper (target >= 0.4); peak RSS %.0f MiB (target < 1024)\n",
		ratios["get_vs_baseline"], ratios["list_vs_baseline"], ratios["rest_get_vs_get"], float64(rss)/(1<<20))
	keys := []struct{ key, name, target string }{
		{"get", "CatalogService/GetPaper", ">= 0.6"},
		{"list", "CatalogService/ListPapers (filter + order, page of 50)", ">= 0.2"},
		{"daily", "CatalogService/ListDailyPapers (a week, default order)", ">= 0.2"},
		{"trending", "CatalogService/ListTrendingPapers (7 days)", ">= 0.2"},
		{"similar", "CatalogService/ListSimilarPapers", ">= 0.2"},
		{"search", "CatalogService/SearchPapers (two words, page of 20)", ">= 0.1"},
		{"search_new", "CatalogService/SearchPapers (every query new)", ""},
		{"upvote", "CatalogService/UpvotePaper (a new paper each call)", ">= 0.05"},
		{"remove_upvote", "CatalogService/RemovePaperUpvote (each paper upvoted above)", ""},
	}
	var ghzLine, h2Line, rawLine []string
	for _, k := range keys {
		r := byName[k.name]
		target := ""
		if k.target != "" {
			target = " (" + k.target + ")"
		}
		ratios[k.key+"_vs_baseline"] = r.RPS / base.RPS
		ghzLine = append(ghzLine, fmt.Sprintf("%s %.2fx%s", k.key, r.RPS/base.RPS, target))
		if r.H2loadRPS > 0 && base.H2loadRPS > 0 {
			ratios["h2load_"+k.key+"_vs_baseline"] = r.H2loadRPS / base.H2loadRPS
			h2Line = append(h2Line, fmt.Sprintf("%s %.2fx", k.key, r.H2loadRPS/base.H2loadRPS))
		}
		if r.Raw != nil && base.Raw != nil {
			ratios["raw_"+k.key+"_vs_baseline"] = r.Raw.RPS / base.Raw.RPS
			rawLine = append(rawLine, fmt.Sprintf("%s %.2fx%s", k.key, r.Raw.RPS/base.Raw.RPS, target))
		}
	}
	_, _ = fmt.Fprintf(out, "ghz req/s vs baseline: %s\n", strings.Join(ghzLine, ", "))
	if len(h2Line) > 0 {
		_, _ = fmt.Fprintf(out, "h2load req/s vs baseline: %s\n", strings.Join(h2Line, ", "))
	}
	_, _ = fmt.Fprintf(out, "raw client req/s vs baseline: %s\n", strings.Join(rawLine, ", "))
	_, _ = fmt.Fprintf(out, "import: %d papers through ImportPapers at %.0f papers/s, raw InsertMany of the same at %.0f papers/s: %.2fx (target >= 0.5); all searchable %.1fs after the import began; paperd peak RSS %.0f MiB\n",
		imp.Papers, imp.ImportPerSec, imp.RawPerSec, imp.Ratio, imp.IndexedSeconds, float64(imp.PeakRSSBytes)/(1<<20))
	_, _ = fmt.Fprintf(out, "ready after: first start %.1fs, restart with catalog and index %.1fs (target <= 15), restart with the index deleted %.1fs; peak RSS %.0f MiB (target < 1536)\n",
		firstStart.Seconds(), startup.Seconds(), rebuildStart.Seconds(), float64(rss)/(1<<20))
	printDigest(out, dig)
	printMixed(out, mix)
	printAdversarial(out, adv)
	summary := map[string]any{
		"papers": o.papers, "concurrency": o.concurrency, "duration_s": o.duration.Seconds(),
		"startup_ready_s": startup.Seconds(), "first_start_ready_s": firstStart.Seconds(),
		"index_deleted_ready_s": rebuildStart.Seconds(), "votes": o.votes, "import": imp, "digest": dig,
		"peak_rss_bytes": rss, "ratios": ratios, "calls": results, "mixed": mix,
		"adversarial": adv,
	}
	line, err := json.Marshal(summary)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(out, string(line)); err != nil {
		return err
	}
	// After the JSON line, so a failed run still reports everything.
	return errors.Join(mix.err(), adv.err())
}

// seed writes papers and votes into a fresh embedded database in dir, in batches,
// as an import would, without going through paperd.
func seed(ctx context.Context, dir string, papers []*repository.Paper, votes []repository.Vote) error {
	edb, err := embedded.Start(ctx, dir, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer edb.Close()
	db, err := mongo.Open(edb.URI, "papers")
	if err != nil {
		return err
	}
	defer func() { _ = db.Close(context.WithoutCancel(ctx)) }()
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	store := mongo.NewPapers(db)
	for i := 0; i < len(papers); i += 1000 {
		if _, err := store.InsertMany(ctx, papers[i:min(i+1000, len(papers))]); err != nil {
			return err
		}
	}
	vstore := mongo.NewVotes(db)
	for i := 0; i < len(votes); i += 5000 {
		var batch []repository.VoteRecord
		for _, v := range votes[i:min(i+5000, len(votes))] {
			batch = append(batch, repository.VoteRecord{PaperID: v.PaperID, User: v.User, Added: true, Version: 1})
		}
		if _, err := vstore.RecordVotes(ctx, batch); err != nil {
			return err
		}
	}
	return nil
}

func getRequests(n, count int) []map[string]string {
	out := make([]map[string]string, count)
	for i := range out {
		out[i] = map[string]string{"name": "papers/" + benchID((i*7919)%n)}
	}
	return out
}

// listRequests are the ListPapers requests of the benchmark: a filter over
// category and upvotes with a two-field order, in 20 variants, with the default
// view (BASIC: no abstracts) or the given one.
func listRequests(view string) []map[string]any {
	cats := []string{"cs.LG", "cs.CV", "cs.CL", "cs.AI", "stat.ML"}
	var out []map[string]any
	for _, c := range cats {
		for _, min := range []int{0, 1, 5, 20} {
			req := map[string]any{
				"filter":    fmt.Sprintf(`categories:"%s" AND upvotes >= %d`, c, min),
				"order_by":  "upvotes desc, submit_time desc",
				"page_size": 50,
			}
			if view != "" {
				req["view"] = view
			}
			out = append(out, req)
		}
	}
	return out
}

func writeJSON(dir, name string, v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	return path, os.WriteFile(path, b, 0o600)
}

func runGhz(ctx context.Context, ghz, addr, call, dataFlag, data string, o options, extra ...string) (result, error) {
	args := append([]string{"--insecure", "--call", call, dataFlag, data, "-c", strconv.Itoa(o.concurrency),
		"--connections", "2", "-O", "json"}, extra...)
	// A short warm-up, then the measured run.
	if _, err := output(ctx, ghz, append(args, "-z", "2s", addr)...); err != nil {
		return result{}, err
	}
	cpu0 := cpuTime(o.pid)
	raw, err := output(ctx, ghz, append(args, "-z", o.duration.String(), addr)...)
	if err != nil {
		return result{}, err
	}
	cpu := cpuTime(o.pid) - cpu0
	var rep struct {
		Count   int64   `json:"count"`
		RPS     float64 `json:"rps"`
		Latency []struct {
			Percentage int   `json:"percentage"`
			Latency    int64 `json:"latency"`
		} `json:"latencyDistribution"`
		StatusCodes map[string]int64 `json:"statusCodeDistribution"`
		Errors      map[string]int64 `json:"errorDistribution"`
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		return result{}, fmt.Errorf("decode ghz report: %w", err)
	}
	res := result{RPS: rep.RPS, Count: rep.Count, ServerCPUus: perRequest(cpu, rep.Count)}
	for _, l := range rep.Latency {
		switch l.Percentage {
		case 50:
			res.P50ms = float64(l.Latency) / 1e6
		case 99:
			res.P99ms = float64(l.Latency) / 1e6
		}
	}
	for msg, n := range rep.Errors {
		// ghz closes its connections and cancels in-flight calls when its time
		// is up; those calls never reached a verdict from paperd.
		if strings.Contains(msg, "transport is closing") || strings.Contains(msg, "code = Canceled") {
			res.CutAtEnd += n
			continue
		}
		res.Errors += n
		if res.Codes == nil {
			res.Codes = map[string]int64{}
		}
		res.Codes[msg] += n
	}
	return res, nil
}

var (
	heyRPS    = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	heyPct    = regexp.MustCompile(`(?m)^\s+(50|99)%%? in ([0-9.]+) secs`)
	heyStatus = regexp.MustCompile(`(?m)^\s+\[(\d+)\]\s+(\d+) responses`)
)

func runHey(ctx context.Context, hey, url string, o options) (res result, err error) {
	if _, err := output(ctx, hey, "-z", "2s", "-c", strconv.Itoa(o.concurrency), url); err != nil {
		return result{}, err
	}
	cpu0 := cpuTime(o.pid)
	raw, err := output(ctx, hey, "-z", o.duration.String(), "-c", strconv.Itoa(o.concurrency), url)
	if err != nil {
		return result{}, err
	}
	cpu := cpuTime(o.pid) - cpu0
	text := string(raw)
	m := heyRPS.FindStringSubmatch(text)
	if m == nil {
		return result{}, fmt.Errorf("no Requests/sec in hey's output:\n%s", text)
	}
	res.RPS, _ = strconv.ParseFloat(m[1], 64)
	for _, p := range heyPct.FindAllStringSubmatch(text, -1) {
		secs, _ := strconv.ParseFloat(p[2], 64)
		if p[1] == "50" {
			res.P50ms = secs * 1000
		} else {
			res.P99ms = secs * 1000
		}
	}
	defer func() { res.ServerCPUus = perRequest(cpu, res.Count) }()
	for _, s := range heyStatus.FindAllStringSubmatch(text, -1) {
		n, _ := strconv.ParseInt(s[2], 10, 64)
		res.Count += n
		if s[1] != "200" {
			res.Errors += n
			if res.Codes == nil {
				res.Codes = map[string]int64{}
			}
			res.Codes[s[1]] += n
		}
	}
	return res, nil
}

// cpuTime returns the user plus system CPU time process pid has used so far.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	const ticksPerSecond = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticksPerSecond
}

func perRequest(cpu time.Duration, n int64) float64 {
	if n == 0 {
		return 0
	}
	return float64(cpu.Microseconds()) / float64(n)
}

func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read peak RSS: %w", err)
	}
	m := regexp.MustCompile(`VmHWM:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		return 0, errors.New("no VmHWM in /proc status")
	}
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return kb * 1024, nil
}

func waitReady(ctx context.Context, url string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("paperd not ready after %v", limit)
}

func freeAddrs() (string, string, error) {
	var addrs []string
	for range 2 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", "", err
		}
		addrs = append(addrs, l.Addr().String())
		defer func() { _ = l.Close() }()
	}
	return addrs[0], addrs[1], nil
}

func sh(ctx context.Context, dir string, env []string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return nil
}

func output(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w\n%s", filepath.Base(name), strings.Join(args, " "), err, b)
	}
	return b, nil
}

// h2loader measures a gRPC call with h2load (nghttp2), an HTTP/2 load generator in
// C that sends a fixed, pre-framed request and does not decode responses. It checks
// that every response had exactly the size of a correct answer, which an error
// status (trailers only, no message) would not have.
type h2loader struct {
	path string
	addr string
	o    options
	conn *grpc.ClientConn
}

func (h *h2loader) dial() (err error) {
	h.conn, err = grpc.NewClient(h.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	return err
}

func (h *h2loader) close() {
	if h.conn != nil {
		_ = h.conn.Close()
	}
}

var (
	h2Finished = regexp.MustCompile(`finished in [0-9.]+s, ([0-9.]+) req/s`)
	h2Requests = regexp.MustCompile(`requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded`)
	h2Data     = regexp.MustCompile(`\((\d+)\) data`)
)

func (h *h2loader) run(ctx context.Context, dir string, call func(context.Context) (proto.Message, proto.Message, string, error)) (float64, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	req, resp, path, err := call(cctx)
	cancel()
	if err != nil {
		return 0, fmt.Errorf("reference call: %w", err)
	}
	body, err := proto.Marshal(req)
	if err != nil {
		return 0, err
	}
	framed := make([]byte, 5+len(body))
	binary.BigEndian.PutUint32(framed[1:5], uint32(len(body))) //nolint:gosec // a request of a few bytes
	copy(framed[5:], body)
	file := filepath.Join(dir, "h2load-request.bin")
	if err := os.WriteFile(file, framed, 0o600); err != nil {
		return 0, err
	}
	if list, ok := resp.(*catalogv1.ListPapersResponse); ok && len(list.GetPapers()) != 50 {
		return 0, fmt.Errorf("the reference listing has %d papers, want a full page of 50", len(list.GetPapers()))
	}
	wantBytes := int64(5 + proto.Size(resp))
	streams := max(1, h.o.concurrency/4)
	args := []string{"-c", "4", "-m", strconv.Itoa(streams), "-t", "1",
		"-H", "content-type: application/grpc", "-H", "te: trailers", "-d", file,
		"http://" + h.addr + path}
	if _, err := output(ctx, h.path, append([]string{"-D", "2"}, args...)...); err != nil {
		return 0, err
	}
	raw, err := output(ctx, h.path, append([]string{"-D", strconv.Itoa(int(h.o.duration.Seconds()))}, args...)...)
	if err != nil {
		return 0, err
	}
	text := string(raw)
	fm, rm, dm := h2Finished.FindStringSubmatch(text), h2Requests.FindStringSubmatch(text), h2Data.FindStringSubmatch(text)
	if fm == nil || rm == nil || dm == nil {
		return 0, fmt.Errorf("cannot read h2load's output:\n%s", text)
	}
	rps, _ := strconv.ParseFloat(fm[1], 64)
	succeeded, _ := strconv.ParseInt(rm[3], 10, 64)
	data, _ := strconv.ParseInt(dm[1], 10, 64)
	// Requests still in flight when the time is up were sent but not answered in
	// full; allow for those, no more.
	inflight := int64(4 * streams)
	// Sizes may drift slightly when the answer changes during the run (trending
	// papers leaving the window); an error answer carries no message at all.
	if float64(data) < 0.9*float64(succeeded*wantBytes) || float64(data) > 1.1*float64((succeeded+inflight)*wantBytes) {
		return 0, fmt.Errorf("responses carried %d bytes for %d calls, want %d each: some calls failed", data, succeeded, wantBytes)
	}
	return rps, nil
}

// dailyRequests asks for the ISO weeks of the last 20 weeks.
func dailyRequests() []map[string]string {
	var out []map[string]string
	for i := range 20 {
		y, w := time.Now().UTC().AddDate(0, 0, -7*i).ISOWeek()
		out = append(out, map[string]string{"week": fmt.Sprintf("%d-W%02d", y, w)})
	}
	return out
}

// trendingRequests ask for the last 7 days, overall and per category.
func trendingRequests() []map[string]any {
	out := []map[string]any{{}}
	for _, c := range []string{"cs.LG", "cs.CV", "cs.CL", "cs.AI"} {
		out = append(out, map[string]any{"filter": fmt.Sprintf(`categories:"%s"`, c)})
	}
	return out
}

// searchRequests are n two-word queries drawn from the vocabulary's longer words.
// Search pages are cached until the index changes, so the number of distinct
// queries decides how many calls miss that cache.
func searchRequests(v *vocabulary, n int) []map[string]any {
	return searchQueries(v, n, func(words []string, i int) string {
		return words[(i*7)%len(words)] + " " + words[(i*13+5)%len(words)]
	})
}

// newSearchRequests are n two-word queries, no two alike and none among
// searchRequests' 2,000, so that no call is answered from a cache.
func newSearchRequests(v *vocabulary, n int) []map[string]any {
	seen := map[string]bool{}
	for _, q := range searchRequests(v, 2000) {
		seen[q["query"].(string)] = true
	}
	r := rand.New(rand.NewPCG(3, 4)) //nolint:gosec // benchmark data
	return searchQueries(v, n, func(words []string, _ int) string {
		for {
			q := words[r.IntN(len(words))] + " " + words[r.IntN(len(words))]
			if !seen[q] {
				seen[q] = true
				return q
			}
		}
	})
}

func searchQueries(v *vocabulary, n int, pick func(words []string, i int) string) []map[string]any {
	var words []string
	seen := map[string]bool{}
	for _, w := range v.words {
		w = strings.ToLower(strings.Trim(w, ".,;:()[]{}\"'$"))
		if len(w) >= 6 && !seen[w] && strings.IndexFunc(w, func(r rune) bool { return r < 'a' || r > 'z' }) < 0 {
			seen[w] = true
			words = append(words, w)
		}
	}
	out := make([]map[string]any, n)
	for i := range out {
		out[i] = map[string]any{"query": pick(words, i), "page_size": 20}
	}
	return out
}

// userJWT returns a day-long user token for sub, signed with the benchmark's secret.
func userJWT(sub string) (string, error) {
	return jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": sub, "exp": time.Now().Add(24 * time.Hour).Unix(),
	}).SignedString([]byte(benchSecret))
}

// rawRequests turns one of the benchmark's request lists (as written for ghz) into
// a raw call of method.
func rawRequests(method string, maps any, msg func() proto.Message) (*rawCall, error) {
	b, err := json.Marshal(maps)
	if err != nil {
		return nil, err
	}
	var items []json.RawMessage
	if err := json.Unmarshal(b, &items); err != nil {
		return nil, err
	}
	call := &rawCall{method: method}
	for _, it := range items {
		m := msg()
		if err := protojson.Unmarshal(it, m); err != nil {
			return nil, fmt.Errorf("%s request %s: %w", method, it, err)
		}
		call.reqs = append(call.reqs, m)
	}
	return call, nil
}

// settle waits until process pid uses less than 5% of a core over a second, or
// until limit, and returns how long it waited.
func settle(ctx context.Context, pid int, limit time.Duration) time.Duration {
	began := time.Now()
	for time.Since(began) < limit && ctx.Err() == nil {
		before := cpuTime(pid)
		time.Sleep(time.Second)
		if cpuTime(pid)-before < 50*time.Millisecond {
			break
		}
	}
	return time.Since(began)
}

func newTable(out io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
}
