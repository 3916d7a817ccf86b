package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/papercatalog/papers/server"
)

const (
	sample     = "../../../shared/data/arxiv/arxiv-metadata-oai-snapshot.sample.jsonl"
	adminToken = "paperctl-test-token"
)

// startServer starts paperd in-process on the embedded database.
func startServer(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := server.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", DataDir: t.TempDir(), MongoDatabase: "papers",
		AdminTokens: []string{adminToken}, SyncInterval: time.Second, ShutdownTimeout: 10 * time.Second,
		LogFormat: "text", LogLevel: "warn"}
	srv, err := server.Start(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return srv.GRPCAddr()
}

// paperctl runs the command in-process and returns its exit status and output.
func paperctl(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	code := run(ctx, args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func sampleLines(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(sample)
	if err != nil {
		t.Skipf("arXiv sample not available: %v", err)
	}
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}

func TestImportTwiceThenRead(t *testing.T) {
	t.Parallel()
	addr := startServer(t)
	sampleLines(t)
	code, out, errOut := paperctl(t, "", "import", sample, "--server", addr, "--token", adminToken)
	if code != 0 || !strings.Contains(out, "200 records sent") || !strings.Contains(out, "200 created, 0 updated, 0 unchanged, 0 rejected by paperd, 0 unreadable") {
		t.Fatalf("first import: %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = paperctl(t, "", "import", "--server", addr, "--token", adminToken, sample)
	if code != 0 || !strings.Contains(out, "0 created, 0 updated, 200 unchanged") {
		t.Fatalf("second import: %d\n%s\n%s", code, out, errOut)
	}

	code, out, _ = paperctl(t, "", "get", "0704.0001", "--server", addr)
	if code != 0 || !strings.Contains(out, "Calculation of prompt diphoton production") || !strings.Contains(out, "C. Balázs") {
		t.Errorf("get: %d\n%s", code, out)
	}
	// The search index follows writes within moments.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		code, out, _ = paperctl(t, "", "search", "diphoton", "production", "--server", addr)
		if strings.Contains(out, "0704.0001") || time.Now().After(deadline) {
			break
		}
	}
	if code != 0 || !strings.Contains(out, "0704.0001") || !strings.Contains(out, "SCORE") {
		t.Errorf("search: %d\n%s", code, out)
	}
	code, out, _ = paperctl(t, "", "list", "--server", addr, "--filter", `categories:"hep-ph"`, "--page-size", "3")
	if code != 0 || strings.Count(out, "\n") != 5 || !strings.Contains(out, "next page: --page-token ") {
		t.Errorf("list: %d\n%s", code, out)
	}
	code, out, _ = paperctl(t, "", "daily", "--server", addr, "--month", "2007-04", "--json")
	if code != 0 || !strings.Contains(out, `"period_start"`) || !strings.Contains(out, `"papers"`) {
		t.Errorf("daily --json: %d\n%s", code, out)
	}
	code, out, _ = paperctl(t, "", "trending", "--server", addr, "--window", "24h")
	if code != 0 || !strings.Contains(out, "no papers") {
		t.Errorf("trending (nothing recent): %d\n%s", code, out)
	}
	code, _, errOut = paperctl(t, "", "get", "0000.00000", "--server", addr)
	if code != 1 || !strings.Contains(errOut, "NotFound") {
		t.Errorf("get a missing paper: %d %s", code, errOut)
	}
}

func TestImportReportsBadLinesAndImportsTheRest(t *testing.T) {
	t.Parallel()
	addr := startServer(t)
	lines := sampleLines(t)[:20]
	lines[1] = `{"id": "0704.0002", "title": "cut short`
	lines[4] = `not json at all`
	lines[9] = `{"id": "0704.0010", "abstract": "no title"}`
	dir := t.TempDir()
	// Gzip-compressed, read from standard input.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(strings.Join(lines, "\n") + "\n"))
	_ = zw.Close()
	code, out, errOut := paperctl(t, gz.String(), "import", "-", "--server", addr, "--token", adminToken)
	if code != 0 || !strings.Contains(out, "17 created, 0 updated, 0 unchanged, 1 rejected by paperd, 2 unreadable") {
		t.Fatalf("import: %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"line 2:", "line 5:", "position 10 (0704.0010): rejected: paper.title: is required"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr does not report %q:\n%s", want, errOut)
		}
	}
	// Nothing importable: status 1.
	bad := filepath.Join(dir, "bad.jsonl")
	if err := os.WriteFile(bad, []byte("{\"id\": 1}\n{\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := paperctl(t, "", "import", bad, "--server", addr, "--token", adminToken); code != 1 || !strings.Contains(errOut, "nothing imported") {
		t.Errorf("nothing importable: %d\n%s\n%s", code, out, errOut)
	}
	// No token: refused, status 1.
	if code, _, errOut := paperctl(t, "", "import", sample, "--server", addr); code != 1 || !strings.Contains(errOut, "Unauthenticated") {
		t.Errorf("without a token: %d %s", code, errOut)
	}
	// Usage mistakes: status 2.
	for _, args := range [][]string{{"import"}, {"import", sample, "--format", "csv"}, {"frobnicate"}, {"get"}} {
		if code, _, _ := paperctl(t, "", args...); code != 2 {
			t.Errorf("%v: status %d, want 2", args, code)
		}
	}
}

func TestUnreachableServer(t *testing.T) {
	t.Parallel()
	sampleLines(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	code, _, errOut := paperctl(t, "", "import", sample, "--server", addr, "--token", adminToken, "--progress", "none")
	if code != 1 || !strings.Contains(errOut, "cannot reach paperd at "+addr) {
		t.Errorf("import: %d %s", code, errOut)
	}
	code, _, errOut = paperctl(t, "", "list", "--server", addr)
	if code != 1 || !strings.Contains(errOut, "cannot reach paperd") {
		t.Errorf("list: %d %s", code, errOut)
	}
}

func TestProgressDisplay(t *testing.T) {
	var n atomic.Int64
	n.Store(50 << 20)
	var out bytes.Buffer
	p := &progressView{out: &out, mode: "bar", size: 200 << 20, bytes: &n, began: time.Now().Add(-10 * time.Second)}
	p.records.Store(25000)
	p.draw()
	bar := out.String()
	for _, want := range []string{"\r", "[=======", " 25% ", "50.0 MiB read", "25000 records", "records/s", "ETA 30s"} {
		if !strings.Contains(bar, want) {
			t.Errorf("bar %q lacks %q", bar, want)
		}
	}
	out.Reset()
	p.printf("line %d: bad", 7)
	if got := out.String(); got != "\r\033[Kline 7: bad\n" {
		t.Errorf("a message over the bar: %q", got)
	}
	out.Reset()
	p.mode, p.size = "lines", -1
	p.draw()
	if got := out.String(); !strings.HasPrefix(got, "import: 50.0 MiB read, 25000 records, ") || strings.Contains(got, "ETA") || strings.Contains(got, "\r") {
		t.Errorf("a progress line: %q", got)
	}
}
