package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/papercatalog/papers/auth"
	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	"github.com/papercatalog/papers/server"
)

const (
	// sample is the README's sample: 20 records of arXiv's metadata snapshot.
	sample     = "../../testdata/sample-arxiv.jsonl"
	adminToken = "paperctl-test-token"
)

// startServer starts paperd in-process on the embedded database, with the
// configuration changed by each of opts.
func startServer(t *testing.T, opts ...func(*server.Config)) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := server.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", DataDir: t.TempDir(), MongoDatabase: "papers",
		AdminTokens: []string{adminToken}, SyncInterval: time.Second, ShutdownTimeout: 10 * time.Second,
		LogFormat: "text", LogLevel: "warn"}
	for _, o := range opts {
		o(&cfg)
	}
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
		t.Fatal(err)
	}
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}

func TestImportTwiceThenRead(t *testing.T) {
	t.Parallel()
	addr := startServer(t)
	code, out, errOut := paperctl(t, "", "import", sample, "--server", addr, "--token", adminToken)
	if code != 0 || !strings.Contains(out, "20 records sent") || !strings.Contains(out, "20 created, 0 updated, 0 unchanged, 0 rejected by paperd, 0 unreadable") {
		t.Fatalf("first import: %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = paperctl(t, "", "import", "--server", addr, "--token", adminToken, sample)
	if code != 0 || !strings.Contains(out, "0 created, 0 updated, 20 unchanged") {
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
	// math.CO: 0704.0002, 0704.0004 and 0704.0010.
	code, out, _ = paperctl(t, "", "list", "--server", addr, "--filter", `categories:"math.CO"`, "--page-size", "2")
	if code != 0 || strings.Count(out, "\n") != 4 || !strings.Contains(out, "next page: --page-token ") {
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
	// Some records imported, others not: status 3.
	code, out, errOut := paperctl(t, gz.String(), "import", "-", "--server", addr, "--token", adminToken)
	if code != 3 || !strings.Contains(out, "standard input: 18 records sent") || !strings.Contains(out, "17 created, 0 updated, 0 unchanged, 1 rejected by paperd, 2 unreadable") {
		t.Fatalf("import: %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"line 2:", "line 5:", "position 10 (0704.0010): rejected: paper.title: is required",
		"paperctl: partial import of standard input: 1 record rejected by paperd, 2 records unreadable"} {
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
	p.read.Store(25500)
	p.sent.Store(25000)
	p.draw()
	bar := out.String()
	for _, want := range []string{"\r", "[=======", " 25% ", "50.0 MiB read", "25500 records read, 25000 sent", "records/s", "ETA 30s"} {
		if !strings.Contains(bar, want) {
			t.Errorf("bar %q lacks %q", bar, want)
		}
	}
	out.Reset()
	p.printf("line %d: bad", 7)
	if got := out.String(); got != "\r\033[Kline 7: bad\n" {
		t.Errorf("a message over the bar: %q", got)
	}

	// Standard input: no size, so no percentage or ETA, but the records read and
	// sent so far, and a spinner that turns at each redraw.
	out.Reset()
	p.size = -1
	p.draw()
	first := out.String()
	out.Reset()
	p.draw()
	second := out.String()
	for _, got := range []string{first, second} {
		if !strings.Contains(got, "25500 records read, 25000 sent") || strings.Contains(got, "%") || strings.Contains(got, "ETA") || strings.Contains(got, "] ") {
			t.Errorf("bar of standard input: %q", got)
		}
	}
	if first[4] == second[4] || !strings.ContainsRune(`|/-\`, rune(first[4])) {
		t.Errorf("the spinner does not turn: %q, then %q", first, second)
	}

	out.Reset()
	p.mode = "lines"
	p.draw()
	if got := out.String(); !strings.HasPrefix(got, "import: 50.0 MiB read, 25500 records read, 25000 sent, ") || strings.Contains(got, "ETA") || strings.Contains(got, "\r") {
		t.Errorf("a progress line: %q", got)
	}

	// Once the input is read, the bar says what it waits for instead of ETA 0s.
	out.Reset()
	p.mode, p.size = "bar", 50<<20
	p.sent.Store(25500)
	p.waitingSince = time.Now().Add(-3 * time.Second)
	p.draw()
	if got := out.String(); !strings.Contains(got, "100% 50.0 MiB read, 25500 records sent; waiting for paperd to finish storing them (3s)") || strings.Contains(got, "ETA") {
		t.Errorf("bar after the input: %q", got)
	}
}

// TestProgressLinesSayWhenPaperdIsStillStoring checks that a progress shown as
// lines (a log, a pipe) says, a second after the input is read, that paperd is
// still at work, and says nothing when paperd answers sooner.
func TestProgressLinesSayWhenPaperdIsStillStoring(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		var out bytes.Buffer
		p := &progressView{out: &out, mode: "lines", size: -1, bytes: &n, began: time.Now()}
		p.start()
		n.Store(3 << 20)
		p.read.Store(1200)
		p.sent.Store(1200)
		p.inputDone()
		written := func() string {
			synctest.Wait()
			p.mu.Lock()
			defer p.mu.Unlock()
			return out.String()
		}
		time.Sleep(waitNotice / 2)
		if got := written(); got != "" {
			t.Errorf("printed before the notice was due: %q", got)
		}
		time.Sleep(waitNotice)
		p.stop()
		if got := written(); got != "import: 3.0 MiB read, 1200 records sent; waiting for paperd to finish storing them (1s)\n" {
			t.Errorf("the notice: %q", got)
		}
	})
}

func TestImportOfATruncatedGzipIsPartial(t *testing.T) {
	t.Parallel()
	addr := startServer(t)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(strings.Join(sampleLines(t), "\n") + "\n"))
	_ = zw.Close()
	cut := filepath.Join(t.TempDir(), "cut.jsonl.gz")
	if err := os.WriteFile(cut, gz.Bytes()[:gz.Len()*2/3], 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := paperctl(t, "", "import", cut, "--server", addr, "--token", adminToken)
	if code != 3 || strings.Contains(out, " 0 created") || strings.Contains(out, "20 created") {
		t.Fatalf("a truncated .gz: status %d, want 3 with some papers created\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"reading stopped early: read line ", "unexpected EOF", "paperctl: partial import of " + cut + ": the input ended early"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	// The whole file after the cut one: all of it imported, status 0.
	whole := filepath.Join(t.TempDir(), "whole.jsonl.gz")
	if err := os.WriteFile(whole, gz.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := paperctl(t, "", "import", whole, "--server", addr, "--token", adminToken); code != 0 || !strings.Contains(out, "20 records sent") {
		t.Errorf("the whole .gz: status %d\n%s\n%s", code, out, errOut)
	}
}

func TestRefusalsListEveryFieldViolation(t *testing.T) {
	t.Parallel()
	addr := startServer(t)
	// Three violations: date and week both set (each named, and month), a bad date.
	code, _, errOut := paperctl(t, "", "daily", "--server", addr, "--date", "2024-13-01", "--week", "2024-W99")
	if code != 1 || !strings.HasPrefix(errOut, "paperctl: InvalidArgument: ") {
		t.Fatalf("status %d:\n%s", code, errOut)
	}
	var fields []string
	for _, line := range strings.Split(strings.TrimSpace(errOut), "\n")[1:] {
		field, _, ok := strings.Cut(strings.TrimPrefix(line, "  "), ": ")
		if !strings.HasPrefix(line, "  ") || !ok {
			t.Errorf("not a violation line: %q", line)
		}
		fields = append(fields, field)
	}
	if len(fields) < 3 || !slices.Contains(fields, "date") || !slices.Contains(fields, "week") || !slices.Contains(fields, "month") {
		t.Errorf("violations of fields %v, want date, week and month among them:\n%s", fields, errOut)
	}
	// One violation: the message alone.
	code, _, errOut = paperctl(t, "", "list", "--server", addr, "--order-by", "bogus desc")
	if code != 1 || !strings.HasPrefix(errOut, "paperctl: InvalidArgument: ") || strings.Count(strings.TrimSpace(errOut), "\n") > 1 {
		t.Errorf("one violation: status %d:\n%s", code, errOut)
	}
}

func TestUserTokenIsAcceptedByPaperd(t *testing.T) {
	t.Parallel()
	const secret = "a-secret-of-at-least-32-bytes-for-tests"
	addr := startServer(t, func(cfg *server.Config) {
		cfg.JWT = auth.UsersConfig{Secret: secret, Audience: "papers-test", Issuer: "https://id.test"}
	})
	if code, out, errOut := paperctl(t, "", "import", sample, "--server", addr, "--token", adminToken, "--progress", "none"); code != 0 {
		t.Fatalf("import: %d\n%s\n%s", code, out, errOut)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	client := catalogv1.NewCatalogServiceClient(conn)
	upvote := func(token string) (*catalogv1.Paper, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
		return client.UpvotePaper(ctx, &catalogv1.UpvotePaperRequest{Name: "papers/0704.0001"})
	}
	for _, tc := range []struct {
		name  string
		args  []string
		votes int64
		code  codes.Code
	}{
		{"a token with the audience and issuer paperd requires is accepted", []string{"--user", "alice", "--secret", secret, "--audience", "papers-test", "--issuer", "https://id.test"}, 1, codes.OK},
		{"a second user's vote counts too", []string{"--user", "bob", "--secret", secret, "--audience", "papers-test", "--issuer", "https://id.test", "--ttl", "5m"}, 2, codes.OK},
		{"a token without the audience is refused", []string{"--user", "carol", "--secret", secret, "--issuer", "https://id.test"}, 0, codes.Unauthenticated},
		{"a token signed with another secret is refused", []string{"--user", "dave", "--secret", strings.Repeat("x", 32), "--audience", "papers-test", "--issuer", "https://id.test"}, 0, codes.Unauthenticated},
	} {
		code, out, errOut := paperctl(t, "", append([]string{"user-token"}, tc.args...)...)
		if code != 0 || strings.Count(out, ".") != 2 || !strings.HasSuffix(out, "\n") {
			t.Fatalf("%s: user-token: %d %q %s", tc.name, code, out, errOut)
		}
		p, err := upvote(strings.TrimSpace(out))
		if status.Code(err) != tc.code || (err == nil && p.GetUpvotes() != tc.votes) {
			t.Errorf("%s: upvote: %v, %d upvotes, want %v and %d", tc.name, err, p.GetUpvotes(), tc.code, tc.votes)
		}
	}
	// Mistakes: status 2, and no token printed.
	for _, args := range [][]string{
		{"user-token", "--secret", secret},
		{"user-token", "--user", "alice", "--secret", "too short"},
		{"user-token", "--user", "alice", "--secret", secret, "--ttl", "-1h"},
		{"user-token", "alice", "--secret", secret},
	} {
		if code, out, _ := paperctl(t, "", args...); code != 2 || out != "" {
			t.Errorf("%v: status %d, output %q; want 2 and nothing", args, code, out)
		}
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		args      []string
		want, not []string
	}{
		{"import --help is import's own help, with examples and exit statuses", []string{"import", "--help"},
			[]string{"paperctl import: ", "Usage:\n  paperctl import FILE|- [flags]", "--format FORMAT", "--progress DISPLAY", "Examples:\n  paperctl import ", "  3  import only: a partial import"},
			[]string{"Commands:", "--filter", "--timeout"}},
		{"-h works as --help", []string{"list", "-h"},
			[]string{"paperctl list: ", "--filter FILTER", "--page-size INT", "default 20", "Examples:\n  paperctl list "},
			[]string{"--format", "Commands:", "Exit status"}},
		{"help COMMAND is the command's help", []string{"help", "user-token"},
			[]string{"paperctl user-token: ", "--user", "PAPERD_JWT_SECRET", "Examples:"}, []string{"Commands:"}},
		{"flags after the arguments", []string{"search", "diffusion", "--help"}, []string{"paperctl search: ", "QUERY..."}, nil},
		{"help lists every command and the exit statuses", []string{"help"},
			[]string{"Commands:", "  import ", "  user-token ", "  completion ", "  version ", "Exit status:\n  0 ", "  3 "}, nil},
		{"--help is help", []string{"--help"}, []string{"Commands:"}, nil},
	} {
		code, out, errOut := paperctl(t, "", tc.args...)
		if code != 0 || errOut != "" {
			t.Errorf("%s: status %d, stderr %q", tc.name, code, errOut)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: lacks %q:\n%s", tc.name, w, out)
			}
		}
		for _, w := range tc.not {
			if strings.Contains(out, w) {
				t.Errorf("%s: has %q:\n%s", tc.name, w, out)
			}
		}
	}
	// A mistake names the command's usage and its help, on stderr: status 2.
	code, out, errOut := paperctl(t, "", "list", "--format", "x")
	if code != 2 || out != "" || !strings.Contains(errOut, "paperctl list: flag provided but not defined: -format") ||
		!strings.Contains(errOut, "Run 'paperctl list --help'") {
		t.Errorf("a flag list does not take: %d %q %q", code, out, errOut)
	}
	if code, _, errOut := paperctl(t, "", "help", "frobnicate"); code != 2 || !strings.Contains(errOut, "unknown command") {
		t.Errorf("help of an unknown command: %d %q", code, errOut)
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--version"}, {"version"}, {"-v"}} {
		code, out, _ := paperctl(t, "", args...)
		if code != 0 || !strings.HasPrefix(out, "paperctl ") || !strings.Contains(out, "\ngo       go1.") {
			t.Errorf("%v: %d\n%s", args, code, out)
		}
	}
	bi := &debug.BuildInfo{GoVersion: "go1.26.10", Main: debug.Module{Path: "github.com/papercatalog/papers", Version: "v0.3.1-0.20261130022722-c05429411167"},
		Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "c05429411167f5147f64bee33d41cf456c9cd091"},
			{Key: "vcs.time", Value: "2026-11-30T02:27:22Z"}, {Key: "vcs.modified", Value: "true"}}}
	want := `paperctl v0.3.1-0.20261130022722-c05429411167
module   github.com/papercatalog/papers
revision c05429411167f5147f64bee33d41cf456c9cd091 (committed 2026-11-30T02:27:22Z, with uncommitted changes)
go       go1.26.10 linux/amd64
`
	if got := describeBuild(bi, "", "linux/amd64"); got != want {
		t.Errorf("a build from a checkout:\n%s\nwant\n%s", got, want)
	}
	if got := describeBuild(bi, "v1.2.3", "linux/amd64"); !strings.HasPrefix(got, "paperctl v1.2.3\n") {
		t.Errorf("-ldflags -X main.version=v1.2.3:\n%s", got)
	}
	bi.Main.Version, bi.Settings = "(devel)", nil
	if got := describeBuild(bi, "", "linux/amd64"); !strings.Contains(got, "paperctl (devel)\n") || !strings.Contains(got, "revision unknown") {
		t.Errorf("go run:\n%s", got)
	}
}

func TestCompletion(t *testing.T) {
	t.Parallel()
	scripts := map[string]string{}
	for _, shell := range []string{"bash", "zsh", "fish"} {
		code, out, errOut := paperctl(t, "", "completion", shell)
		if code != 0 || errOut != "" {
			t.Fatalf("completion %s: %d %s", shell, code, errOut)
		}
		for _, c := range commands {
			if !strings.Contains(out, c.name) {
				t.Errorf("the %s script lacks the command %s", shell, c.name)
			}
		}
		for _, w := range []string{"format", "arxiv-oai arxiv-atom hf-daily", "page-token", "bash zsh fish"} {
			if !strings.Contains(out, w) {
				t.Errorf("the %s script lacks %q", shell, w)
			}
		}
		scripts[shell] = out
	}
	if code, _, _ := paperctl(t, "", "completion", "powershell"); code != 2 {
		t.Errorf("completion powershell: status %d, want 2", code)
	}

	// bash completes as a user would see it.
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "papers.jsonl"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ line, want string }{
		{"paperctl im", "import"},
		{"paperctl ", "import get list search daily trending user-token completion version help --help --version"},
		{"paperctl import --fo", "--format"},
		{"paperctl import --format ", "arxiv-oai arxiv-atom hf-daily"},
		{"paperctl import --progress l", "lines"},
		{"paperctl import pap", "papers.jsonl"},
		{"paperctl list --page-", "--page-size --page-token"},
		{"paperctl list --server ", ""},
		{"paperctl completion ", "bash zsh fish"},
		{"paperctl help us", "user-token"},
		{"paperctl user-token --u", "--user"},
	} {
		words := strings.Fields(tc.line)
		if strings.HasSuffix(tc.line, " ") {
			words = append(words, "")
		}
		var quoted []string
		for _, w := range words {
			quoted = append(quoted, "'"+w+"'")
		}
		cmd := exec.Command(bash, "--norc", "--noprofile", "-c", scripts["bash"]+`
COMP_WORDS=(`+strings.Join(quoted, " ")+`); COMP_CWORD=$((${#COMP_WORDS[@]}-1))
_paperctl; echo "${COMPREPLY[*]}"`)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if got := strings.TrimSpace(string(out)); err != nil || got != tc.want {
			t.Errorf("bash completes %q to %q (%v), want %q", tc.line, got, err, tc.want)
		}
	}
	// zsh and fish, where installed, at least parse their scripts.
	for shell, check := range map[string][]string{"zsh": {"-n"}, "fish": {"--no-execute"}} {
		path, err := exec.LookPath(shell)
		if err != nil {
			t.Logf("no %s: its script is not checked", shell)
			continue
		}
		cmd := exec.Command(path, check...)
		cmd.Stdin = strings.NewReader(scripts[shell])
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s %v: %v\n%s", shell, check, err, out)
		}
	}
}
