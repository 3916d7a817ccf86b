package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/papercatalog/papers/clock"
	"github.com/papercatalog/papers/clock/clocktest"
	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	"github.com/papercatalog/papers/server"
)

const adminToken = "test-admin-token"

// testServer is a paperd started on free loopback ports with a fresh data directory.
type testServer struct {
	*server.Server
	client catalogv1.CatalogServiceClient
	conn   *grpc.ClientConn
	base   string // http://host:port
}

// clocks holds each running test's clock (*testing.T → *clock.Fake).
var clocks sync.Map

// testClock returns the test's fake clock, which every paperd the test starts
// reads: it stands still (at PAPERS_TEST_NOW, or the time the test began)
// until the test moves it.
func testClock(t *testing.T) *clock.Fake {
	t.Helper()
	if c, ok := clocks.Load(t); ok {
		return c.(*clock.Fake)
	}
	c, loaded := clocks.LoadOrStore(t, clocktest.New(t))
	if !loaded {
		t.Cleanup(func() { clocks.Delete(t) })
	}
	return c.(*clock.Fake)
}

// localMidnight is the start of the day of at in loc.
func localMidnight(at time.Time, loc *time.Location) time.Time {
	y, m, d := at.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

func testConfig(t *testing.T) server.Config {
	t.Helper()
	return server.Config{
		Clock:           testClock(t),
		GRPCAddr:        "127.0.0.1:0",
		HTTPAddr:        "127.0.0.1:0",
		DataDir:         t.TempDir(),
		MongoDatabase:   "papers",
		AdminTokens:     []string{adminToken},
		SyncInterval:    200 * time.Millisecond,
		ShutdownTimeout: 10 * time.Second,
		LogFormat:       "text",
		LogLevel:        "warn",
	}
}

func startServer(t *testing.T, cfg server.Config) *testServer {
	t.Helper()
	return startLogging(t, cfg, slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})))
}

// startLogging starts paperd as startServer does, logging to log.
func startLogging(t *testing.T, cfg server.Config, log *slog.Logger) *testServer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv, err := server.Start(ctx, cfg, log)
	if err != nil {
		t.Fatalf("start server: %v", err)
	}
	conn, err := grpc.NewClient(srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	ts := &testServer{Server: srv, client: catalogv1.NewCatalogServiceClient(conn), conn: conn, base: "http://" + srv.HTTPAddr()}
	t.Cleanup(func() {
		_ = conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return ts
}

// testWriter sends server logs to the test log, shown for failing tests.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

func admin(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+adminToken)
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// longCtx is for tests that write hundreds of papers, which takes a while under
// the race detector with other tests running.
func longCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// restResponse is a decoded REST response.
type restResponse struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    []byte
}

// rest sends a JSON request to the gateway; token "" sends no authorization.
func (ts *testServer) rest(t *testing.T, method, path, token string, body any) restResponse {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(testCtx(t), method, ts.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := restResponse{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	if len(raw) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &out.Body); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, path, raw, err)
		}
	}
	return out
}

func newPaper(i int) *catalogv1.Paper {
	return &catalogv1.Paper{
		Title:      fmt.Sprintf("Paper number %d", i),
		Abstract:   "An abstract about transformers and diffusion.",
		Authors:    []*catalogv1.Author{{Name: "Ada Lovelace"}, {Name: "Alan Turing", Affiliation: "Bletchley"}},
		Categories: []string{"cs.LG"},
	}
}

func paperID(i int) string { return fmt.Sprintf("2401.%05d", i) }

// eventually polls cond until it holds, and fails the test if it does not within
// 5 s: replicas and the search index follow writes within moments.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	eventuallyWithin(t, 5*time.Second, what, cond)
}

// eventually30 is eventually with 30 s, for what waits on a backoff, a restart
// or a reconnection.
func eventually30(t *testing.T, what string, cond func() bool) {
	t.Helper()
	eventuallyWithin(t, 30*time.Second, what, cond)
}

// eventuallyWithin polls cond until it holds, and fails the test if it does
// not within limit.
func eventuallyWithin(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(limit); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen within %s", what, limit)
		}
	}
}

// schedulerRounds is how many rounds ts's digest scheduler has finished,
// holding the lease or not.
func schedulerRounds(t *testing.T, ts *testServer) float64 {
	t.Helper()
	return scrape(t, ts, "paperd_digest_scheduler_rounds_total", `lease="held"`) +
		scrape(t, ts, "paperd_digest_scheduler_rounds_total", `lease="elsewhere"`)
}

// awaitSchedulerRounds waits until the digest scheduler of each server has run
// n whole rounds that began after the call: whatever those rounds were to
// send, they have sent, and their outcomes are stored.
func awaitSchedulerRounds(t *testing.T, n int, servers ...*testServer) {
	t.Helper()
	for _, ts := range servers {
		// The round running now may have begun before: one more.
		want := schedulerRounds(t, ts) + float64(n) + 1
		eventually30(t, fmt.Sprintf("%d rounds of the digest scheduler", n), func() bool { return schedulerRounds(t, ts) >= want })
	}
}

// logBuffer collects everything a logger writes.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// formRequest sends a request with a form or no body and returns status, body and header.
func formRequest(t *testing.T, method, rawURL, form string, header map[string]string) (int, string, http.Header) {
	t.Helper()
	var body io.Reader
	if form != "" {
		body = strings.NewReader(form)
	}
	req, err := http.NewRequestWithContext(testCtx(t), method, rawURL, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b), resp.Header
}
