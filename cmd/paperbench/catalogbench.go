package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
)

// The catalog section seeds an embedded catalog with -papers generated papers and
// -votes upvotes, starts paperd on it three times (a first start, a restart with
// the catalog and index present, a restart with the index deleted), and loads
// the last one call after call: with ghz (gRPC) or hey (REST), with h2load
// where it is installed, and with the benchmark's raw client.

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

// addError counts n answers that were not OK, by code.
func (r *result) addError(code string, n int64) {
	r.Errors += n
	if r.Codes == nil {
		r.Codes = map[string]int64{}
	}
	r.Codes[code] += n
}

// catalogResult is the catalog section's outcome.
type catalogResult struct {
	// firstStart, startup and rebuildStart are the times to readiness of the
	// three starts.
	firstStart, startup, rebuildStart time.Duration
	// rss is paperd's peak RSS over the section.
	rss   int64
	calls []result
}

// homePage is the catalog section's row of the daily papers page, /.
const homePage = "page GET / (daily papers: 30 cards, previous and next day)"

// catalogCall is one call the catalog section measures.
type catalogCall struct {
	name   string
	method string // /package.Service/Method
	// reqs are the requests (a list of JSON objects) ghz and the raw client cycle
	// through, each as often as the others; rawReqs, if set, are the raw
	// client's instead.
	reqs, rawReqs any
	// msg returns a new request message of method.
	msg func() proto.Message
	// h2 is h2load's one request, with a message of the answer's type; nil:
	// not measured with h2load.
	h2 *h2Call
	// user: the calls carry a user token (ghz's and the raw client's are of
	// different users, so that neither finds its votes cast by the other).
	user bool
	// rest, if set, is a REST URL measured with hey alone instead.
	rest string
}

func runCatalogBench(ctx context.Context, o options, bin, tmp string, voc *vocabulary, about string, logf func(string, ...any)) (catalogResult, error) {
	var res catalogResult
	data := filepath.Join(tmp, "data")
	seedStart := time.Now()
	papers := generate(voc, o.papers, 1)
	if err := seed(ctx, data, papers, generateVotes(papers, o.votes, 2)); err != nil {
		return res, err
	}
	logf("seeded %d papers and %d upvotes in %v (%s)", o.papers, o.votes, time.Since(seedStart).Round(time.Millisecond), about)

	var pd *paperd
	start := func(what string) (time.Duration, error) {
		var err error
		pd, err = startPaperd(ctx, bin, data, 10*time.Minute, "PAPERD_JWT_SECRET="+benchSecret,
			// One user upvotes as fast as it can: the per-user limit (60 a
			// minute by default) would answer nearly every call RESOURCE_EXHAUSTED.
			"PAPERD_UPVOTE_RATE_LIMIT="+mixedRateLimit, "PAPERD_WRITE_RATE_LIMIT="+mixedRateLimit)
		if err != nil {
			return 0, err
		}
		logf("paperd ready (%s) after %v", what, pd.ready.Round(time.Millisecond))
		return pd.ready, nil
	}
	var err error
	if res.firstStart, err = start("first start: builds the search index"); err != nil {
		return res, err
	}
	pd.stop()
	if res.startup, err = start("restart with the catalog and its index present"); err != nil {
		return res, err
	}
	pd.stop()
	if err := os.RemoveAll(filepath.Join(data, "search")); err != nil {
		return res, err
	}
	if res.rebuildStart, err = start("restart with the search index deleted"); err != nil {
		return res, err
	}
	defer pd.stop()
	o.pid = pd.pid()

	userToken, err := userJWT("paperbench")
	if err != nil {
		return res, err
	}
	rawUserToken, err := userJWT("paperbench-raw")
	if err != nil {
		return res, err
	}
	h2 := &h2loader{addr: pd.grpcAddr, o: o, conn: pd.conn}
	if h2.path, err = exec.LookPath("h2load"); err != nil {
		logf("h2load not found (Debian package nghttp2-client): measuring with ghz only")
	}
	gets, upvotes := getRequests(o.papers, 1000), getRequests(o.papers, o.papers)
	weeks, queries := dailyRequests(), searchRequests(voc, 2000)
	// ghz takes the first half, the raw client the second.
	fresh := newSearchRequests(voc, 100000)
	getReq := &catalogv1.GetPaperRequest{Name: "papers/" + benchID(o.papers/2)}
	listReq := &catalogv1.ListPapersRequest{Filter: `categories:"cs.LG" AND upvotes >= 1`, OrderBy: "upvotes desc, submit_time desc", PageSize: 50}
	listFullReq := proto.CloneOf(listReq)
	listFullReq.View = catalogv1.PaperView_PAPER_VIEW_FULL
	const svc = "/papers.catalog.v1.CatalogService/"
	newGet := func() proto.Message { return &catalogv1.GetPaperRequest{} }
	newList := func() proto.Message { return &catalogv1.ListPapersRequest{} }
	newSearch := func() proto.Message { return &catalogv1.SearchPapersRequest{} }
	calls := []catalogCall{
		{name: "grpc.health.v1.Health/Check (baseline)", method: "/grpc.health.v1.Health/Check", reqs: []map[string]any{{}},
			msg: func() proto.Message { return &healthpb.HealthCheckRequest{} },
			h2:  &h2Call{&healthpb.HealthCheckRequest{}, &healthpb.HealthCheckResponse{}}},
		{name: "CatalogService/GetPaper", method: svc + "GetPaper", reqs: gets, msg: newGet,
			h2: &h2Call{getReq, &catalogv1.Paper{}}},
		{name: "CatalogService/ListPapers (filter + order, page of 50)", method: svc + "ListPapers", reqs: listRequests(""), msg: newList,
			h2: &h2Call{listReq, &catalogv1.ListPapersResponse{}}},
		{name: "CatalogService/ListPapers, view FULL (with abstracts)", method: svc + "ListPapers", reqs: listRequests("PAPER_VIEW_FULL"), msg: newList,
			h2: &h2Call{listFullReq, &catalogv1.ListPapersResponse{}}},
		{name: "CatalogService/ListDailyPapers (a week, default order)", method: svc + "ListDailyPapers", reqs: weeks,
			msg: func() proto.Message { return &catalogv1.ListDailyPapersRequest{} },
			h2:  &h2Call{&catalogv1.ListDailyPapersRequest{Week: weeks[0]["week"]}, &catalogv1.ListDailyPapersResponse{}}},
		{name: "CatalogService/ListTrendingPapers (7 days)", method: svc + "ListTrendingPapers", reqs: trendingRequests(),
			msg: func() proto.Message { return &catalogv1.ListTrendingPapersRequest{} },
			h2:  &h2Call{&catalogv1.ListTrendingPapersRequest{}, &catalogv1.ListTrendingPapersResponse{}}},
		{name: "CatalogService/SearchPapers (two words, page of 20)", method: svc + "SearchPapers", reqs: queries, msg: newSearch,
			h2: &h2Call{&catalogv1.SearchPapersRequest{Query: queries[0]["query"].(string), PageSize: 20}, &catalogv1.SearchPapersResponse{}}},
		{name: "CatalogService/SearchPapers (every query new)", method: svc + "SearchPapers", reqs: fresh[:50000], rawReqs: fresh[50000:], msg: newSearch},
		{name: "CatalogService/ListSimilarPapers", method: svc + "ListSimilarPapers", reqs: gets,
			msg: func() proto.Message { return &catalogv1.ListSimilarPapersRequest{} },
			h2:  &h2Call{&catalogv1.ListSimilarPapersRequest{Name: getReq.GetName()}, &catalogv1.ListSimilarPapersResponse{}}},
		{name: "CatalogService/UpvotePaper (a new paper each call)", method: svc + "UpvotePaper", reqs: upvotes, user: true,
			msg: func() proto.Message { return &catalogv1.UpvotePaperRequest{} }},
		{name: "CatalogService/RemovePaperUpvote (each paper upvoted above)", method: svc + "RemovePaperUpvote", reqs: upvotes, user: true,
			msg: func() proto.Message { return &catalogv1.RemovePaperUpvoteRequest{} }},
		{name: "REST GET /v1/papers/{paper}", rest: "http://" + pd.httpAddr + "/v1/papers/" + benchID(o.papers/2)},
		// The paper's page: GetPaper, ListSimilarPapers and the citations,
		// rendered as HTML.
		{name: pageCall, rest: "http://" + pd.httpAddr + "/papers/" + benchID(o.papers/2)},
		// The daily papers page: today's papers as 30 cards with abstracts,
		// and the previous and next days with papers.
		{name: homePage, rest: "http://" + pd.httpAddr + "/"},
	}
	if o.calls != "" {
		pick, err := regexp.Compile(o.calls)
		if err != nil {
			return res, fmt.Errorf("-calls: %w", err)
		}
		calls = slices.DeleteFunc(calls, func(c catalogCall) bool {
			return !pick.MatchString(c.name) && c.method != "/grpc.health.v1.Health/Check" &&
				c.method != svc+"GetPaper" && c.name != "CatalogService/ListPapers (filter + order, page of 50)"
		})
	}
	// paperd may still be merging its freshly built search index; measure once it
	// is idle, or the baseline pays for that work.
	settled := settle(ctx, o.pid, time.Minute)
	logf("paperd idle after %v", settled.Round(time.Second))
	for i, c := range calls {
		logf("running %s for %v with %d clients", c.name, o.duration, o.concurrency)
		var r result
		if c.rest != "" {
			r, err = runHey(ctx, filepath.Join(bin, "hey"), c.rest, o)
		} else {
			var extra []string
			if c.user {
				extra = []string{"--metadata", `{"authorization": "Bearer ` + userToken + `"}`}
			}
			var file string
			if file, err = writeJSON(tmp, fmt.Sprintf("call-%d.json", i), c.reqs); err == nil {
				r, err = runGhz(ctx, filepath.Join(bin, "ghz"), pd.grpcAddr, strings.TrimPrefix(c.method, "/"), file, o, extra...)
			}
		}
		if err != nil {
			return res, fmt.Errorf("%s: %w", c.name, err)
		}
		if c.h2 != nil && h2.path != "" {
			logf("running %s with h2load for %v", c.name, o.duration)
			if r.H2loadRPS, err = h2.run(ctx, tmp, c.method, *c.h2); err != nil {
				return res, fmt.Errorf("%s (h2load): %w", c.name, err)
			}
		}
		if c.rest == "" {
			logf("running %s with the raw client for %v", c.name, o.duration)
			reqs := c.rawReqs
			if reqs == nil {
				reqs = c.reqs
			}
			call, err := rawRequests(c.method, reqs, c.msg)
			if err != nil {
				return res, err
			}
			if c.user {
				call.md = metadata.Pairs("authorization", "Bearer "+rawUserToken)
			}
			before := cpuTime(o.pid)
			rr, err := runRaw(ctx, pd.grpcAddr, *call, o)
			if err != nil {
				return res, fmt.Errorf("%s (raw client): %w", c.name, err)
			}
			rr.ServerCPUus = perRequest(cpuTime(o.pid)-before, rr.Count)
			r.Raw = &rr
		}
		r.Name = c.name
		res.calls = append(res.calls, r)
	}
	res.rss, err = peakRSS(o.pid)
	return res, err
}

// pageCall is the row of a paper's page.
const pageCall = "page GET /papers/{paper}"

// print prints the calls' table and figures, with the import section's, and
// returns the ratios the JSON line holds.
func (c catalogResult) print(out io.Writer, imp importResult) map[string]float64 {
	byName := map[string]result{}
	for _, r := range c.calls {
		byName[r.Name] = r
	}
	base, get, list, rest := c.calls[0], c.calls[1], c.calls[2], byName["REST GET /v1/papers/{paper}"]
	tw := newTable(out)
	_, _ = fmt.Fprintln(tw, "call\tghz req/s\tp50 ms\tp99 ms\terrors\tcut at end\tvs baseline\th2load req/s\tvs baseline\traw req/s\tp50 ms\tp99 ms\tvs baseline\tpaperd CPU µs/req\t")
	for _, r := range c.calls {
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
	_, _ = fmt.Fprintf(out, "ghz/hey req/s: GetPaper %.2fx baseline (target >= 0.6), ListPapers %.2fx baseline (target >= 0.2), REST GetPaper %.2fx gRPC GetPaper (target >= 0.6); peak RSS %.0f MiB (target < 1024)\n",
		ratios["get_vs_baseline"], ratios["list_vs_baseline"], ratios["rest_get_vs_get"], float64(c.rss)/(1<<20))
	for _, page := range []struct{ key, name, what string }{
		{"paper_page_vs_rest_get", pageCall, "the paper page"},
		{"home_page_vs_rest_get", homePage, "the daily papers page /"},
	} {
		if r, ok := byName[page.name]; ok && rest.RPS > 0 {
			ratios[page.key] = r.RPS / rest.RPS
			_, _ = fmt.Fprintf(out, "hey req/s: %s %.2fx REST GetPaper (target >= 0.3)\n", page.what, ratios[page.key])
		}
	}
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
	if imp.Papers > 0 {
		imp.print(out)
	}
	_, _ = fmt.Fprintf(out, "ready after: first start %.1fs, restart with catalog and index %.1fs (target <= 15), restart with the index deleted %.1fs; peak RSS %.0f MiB (target < 1536)\n",
		c.firstStart.Seconds(), c.startup.Seconds(), c.rebuildStart.Seconds(), float64(c.rss)/(1<<20))
	return ratios
}

// measured runs a load tool for a two-second warm-up, then for o.duration
// (run(d) runs it for d), and returns the output of the second run and the CPU
// time paperd used during it.
func measured(o options, run func(d time.Duration) ([]byte, error)) ([]byte, time.Duration, error) {
	if _, err := run(2 * time.Second); err != nil {
		return nil, 0, err
	}
	cpu0 := cpuTime(o.pid)
	out, err := run(o.duration)
	return out, cpuTime(o.pid) - cpu0, err
}

// runGhz measures the gRPC call (package.Service/Method) with ghz, cycling
// through the requests in the JSON file data.
func runGhz(ctx context.Context, ghz, addr, call, data string, o options, extra ...string) (result, error) {
	args := append([]string{"--insecure", "--call", call, "-D", data, "-c", strconv.Itoa(o.concurrency),
		"--connections", "2", "-O", "json"}, extra...)
	raw, cpu, err := measured(o, func(d time.Duration) ([]byte, error) {
		return output(ctx, ghz, append(args, "-z", d.String(), addr)...)
	})
	if err != nil {
		return result{}, err
	}
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
		res.addError(msg, n)
	}
	return res, nil
}

var (
	heyRPS    = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	heyPct    = regexp.MustCompile(`(?m)^\s+(50|99)%%? in ([0-9.]+) secs`)
	heyStatus = regexp.MustCompile(`(?m)^\s+\[(\d+)\]\s+(\d+) responses`)
)

// runHey measures GET url with hey.
func runHey(ctx context.Context, hey, url string, o options) (result, error) {
	raw, cpu, err := measured(o, func(d time.Duration) ([]byte, error) {
		return output(ctx, hey, "-z", d.String(), "-c", strconv.Itoa(o.concurrency), url)
	})
	if err != nil {
		return result{}, err
	}
	var res result
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
	for _, s := range heyStatus.FindAllStringSubmatch(text, -1) {
		n, _ := strconv.ParseInt(s[2], 10, 64)
		res.Count += n
		if s[1] != "200" {
			res.addError(s[1], n)
		}
	}
	res.ServerCPUus = perRequest(cpu, res.Count)
	return res, nil
}

// h2loader measures a gRPC call with h2load (nghttp2), an HTTP/2 load generator in
// C that sends a fixed, pre-framed request and does not decode responses. It checks
// that every response had exactly the size of a correct answer, which an error
// status (trailers only, no message) would not have.
type h2loader struct {
	path string
	addr string
	o    options
	conn *grpc.ClientConn // for the reference call
}

// h2Call is the request h2load repeats, and a message of its answer's type.
type h2Call struct{ req, resp proto.Message }

var (
	h2Finished = regexp.MustCompile(`finished in [0-9.]+s, ([0-9.]+) req/s`)
	h2Requests = regexp.MustCompile(`requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded`)
	h2Data     = regexp.MustCompile(`\((\d+)\) data`)
)

// run makes call once over h.conn for the size of a correct answer, then
// measures it with h2load and returns its requests per second.
func (h *h2loader) run(ctx context.Context, dir, method string, call h2Call) (float64, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err := h.conn.Invoke(cctx, method, call.req, call.resp)
	cancel()
	if err != nil {
		return 0, fmt.Errorf("reference call: %w", err)
	}
	body, err := proto.Marshal(call.req)
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
	if list, ok := call.resp.(*catalogv1.ListPapersResponse); ok && len(list.GetPapers()) != 50 {
		return 0, fmt.Errorf("the reference listing has %d papers, want a full page of 50", len(list.GetPapers()))
	}
	wantBytes := int64(5 + proto.Size(call.resp))
	streams := max(1, h.o.concurrency/4)
	args := []string{"-c", "4", "-m", strconv.Itoa(streams), "-t", "1",
		"-H", "content-type: application/grpc", "-H", "te: trailers", "-d", file,
		"http://" + h.addr + method}
	raw, _, err := measured(h.o, func(d time.Duration) ([]byte, error) {
		return output(ctx, h.path, append([]string{"-D", strconv.Itoa(int(d.Seconds()))}, args...)...)
	})
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
