package server_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
)

// scrape returns the value of the series of /metrics whose line starts with
// name{ and holds every label given, or -1 if there is none.
func scrape(t *testing.T, ts *testServer, name string, labels ...string) float64 {
	t.Helper()
	resp, err := http.Get(ts.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d %v", resp.StatusCode, err)
	}
	line := regexp.MustCompile(`^` + regexp.QuoteMeta(name) + `(\{.*\})? (\S+)$`)
	for l := range strings.SplitSeq(string(raw), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		all := true
		for _, want := range labels {
			all = all && strings.Contains(m[1], want)
		}
		if all {
			v, err := strconv.ParseFloat(m[2], 64)
			if err != nil {
				t.Fatalf("%s: %v", l, err)
			}
			return v
		}
	}
	return -1
}

// TestMetricsCountCallsAndState: /metrics counts gRPC calls (by method and code)
// and REST calls (by route template, method and code) with latency histograms,
// and shows the read model, the search index, imports, digests and the MongoDB
// pool.
func TestMetricsCountCallsAndState(t *testing.T) {
	t.Parallel()
	ts := startServer(t, testConfig(t))
	ctx := testCtx(t)
	if _, err := ts.client.CreatePaper(admin(ctx), &catalogv1.CreatePaperRequest{PaperId: paperID(1), Paper: newPaper(1)}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := ts.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: "papers/" + paperID(1)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ts.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: "papers/" + paperID(2)}); status.Code(err) != codes.NotFound {
		t.Fatalf("a missing paper: %v", err)
	}
	if r := ts.rest(t, "GET", "/v1/papers/"+paperID(1), "", nil); r.Status != 200 {
		t.Fatalf("REST get: %d", r.Status)
	}
	if r := ts.rest(t, "GET", "/v1/papers/"+paperID(9), "", nil); r.Status != 404 {
		t.Fatalf("REST get of a missing paper: %d", r.Status)
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"grpc_server_handled_total", []string{`grpc_method="GetPaper"`, `grpc_code="OK"`}, 3},
		{"grpc_server_handled_total", []string{`grpc_method="GetPaper"`, `grpc_code="NotFound"`}, 1},
		{"grpc_server_handled_total", []string{`grpc_method="CreatePaper"`, `grpc_code="OK"`}, 1},
		{"grpc_server_handling_seconds_count", []string{`grpc_method="GetPaper"`}, 4},
		{"paperd_http_requests_total", []string{`route="/v1/{name=papers/*}"`, `method="get"`, `code="200"`}, 1},
		{"paperd_http_requests_total", []string{`route="/v1/{name=papers/*}"`, `method="get"`, `code="404"`}, 1},
		{"paperd_http_request_duration_seconds_count", []string{`route="/v1/{name=papers/*}"`, `code="200"`}, 1},
		{"paperd_read_model_papers", nil, 1},
		{"paperd_import_records_total", []string{`outcome="created"`}, 0},
		{"paperd_digest_deliveries_total", []string{`outcome="sent"`}, 0},
	} {
		if got := scrape(t, ts, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	eventually(t, "the search index counts the paper", func() bool { return scrape(t, ts, "paperd_search_index_documents") == 1 })
	if lag := scrape(t, ts, "paperd_read_model_lag_seconds"); lag < 0 || lag > 60 {
		t.Errorf("read model lag %v s", lag)
	}
	if open := scrape(t, ts, "paperd_mongodb_pool_connections_open"); open < 1 {
		t.Errorf("open MongoDB connections %v, want at least 1", open)
	}
	if inUse := scrape(t, ts, "paperd_mongodb_pool_connections_in_use"); inUse < 0 {
		t.Errorf("MongoDB connections in use %v", inUse)
	}
}

// TestCallsWithoutDeadlineGetTheDefault: a write whose caller set no deadline
// ends at PAPERD_REQUEST_TIMEOUT, over gRPC (DEADLINE_EXCEEDED) and REST (504);
// a caller's own deadline still counts.
func TestCallsWithoutDeadlineGetTheDefault(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.RequestTimeout = time.Nanosecond
	ts := startServer(t, cfg)
	ctx := context.Background()
	_, err := ts.client.CreatePaper(admin(ctx), &catalogv1.CreatePaperRequest{PaperId: paperID(1), Paper: newPaper(1)})
	if status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("gRPC write without a deadline: %v, want DEADLINE_EXCEEDED", err)
	}
	if r := ts.rest(t, "POST", "/v1/papers?paper_id="+paperID(2), adminToken, newPaperJSON(2)); r.Status != http.StatusGatewayTimeout {
		t.Errorf("REST write without a deadline: %d %s, want 504", r.Status, r.Raw)
	}
	own, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := ts.client.CreatePaper(admin(own), &catalogv1.CreatePaperRequest{PaperId: paperID(3), Paper: newPaper(3)}); err != nil {
		t.Errorf("gRPC write with its own deadline: %v", err)
	}
}

func newPaperJSON(i int) map[string]any {
	return map[string]any{"title": newPaper(i).GetTitle(), "abstract": newPaper(i).GetAbstract(),
		"authors": []map[string]string{{"name": "Ada Lovelace"}}}
}

// TestCORSIsOffByDefaultAndFollowsTheConfiguredOrigins.
func TestCORSIsOffByDefaultAndFollowsTheConfiguredOrigins(t *testing.T) {
	t.Parallel()
	preflight := func(ts *testServer, origin string) (int, http.Header) {
		req, _ := http.NewRequestWithContext(testCtx(t), http.MethodOptions, ts.base+"/v1/papers", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "GET")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
	get := func(ts *testServer, origin string) (int, http.Header) {
		req, _ := http.NewRequestWithContext(testCtx(t), http.MethodGet, ts.base+"/v1/papers", nil)
		req.Header.Set("Origin", origin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
	off := startServer(t, testConfig(t))
	if code, h := get(off, "https://app.example"); code != http.StatusOK || h.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("CORS off: %d, allow-origin %q", code, h.Get("Access-Control-Allow-Origin"))
	}
	if _, h := preflight(off, "https://app.example"); h.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("CORS off: a preflight got allow-origin %q", h.Get("Access-Control-Allow-Origin"))
	}
	cfg := testConfig(t)
	cfg.CORSOrigins = []string{"https://app.example"}
	on := startServer(t, cfg)
	code, h := preflight(on, "https://app.example")
	if code != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("preflight from the allowed origin: %d %v", code, h)
	}
	if code, h := get(on, "https://app.example"); code != http.StatusOK || h.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Errorf("GET from the allowed origin: %d %v", code, h)
	}
	if _, h := get(on, "https://evil.example"); h.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("GET from another origin got allow-origin %q", h.Get("Access-Control-Allow-Origin"))
	}
}

// TestKeepaliveAbuseIsCutOff: a client that pings more often than every 10 s
// gets a GOAWAY (ENHANCE_YOUR_CALM, "too_many_pings") and loses its connection.
// grpc-go clients cannot ping that often, so this speaks HTTP/2 itself.
func TestKeepaliveAbuseIsCutOff(t *testing.T) {
	t.Parallel()
	ts := startServer(t, testConfig(t))
	conn, err := net.DialTimeout("tcp", ts.GRPCAddr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := conn.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	go func() {
		for i := range 20 {
			if fr.WritePing(false, [8]byte{byte(i)}) != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("connection ended without a GOAWAY: %v", err)
		}
		if ga, ok := f.(*http2.GoAwayFrame); ok {
			if ga.ErrCode != http2.ErrCodeEnhanceYourCalm || string(ga.DebugData()) != "too_many_pings" {
				t.Errorf("GOAWAY %v %q, want ENHANCE_YOUR_CALM too_many_pings", ga.ErrCode, ga.DebugData())
			}
			return
		}
	}
}
