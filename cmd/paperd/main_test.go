package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/papercatalog/papers/auth/authtest"
	"github.com/papercatalog/papers/embedded"
	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	subscriptionv1 "github.com/papercatalog/papers/gen/papers/subscription/v1"
	"github.com/papercatalog/papers/mailer/smtptest"
	"github.com/papercatalog/papers/repository"
	"github.com/papercatalog/papers/repository/mongo"
)

func TestHelpListsEverySetting(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	err := run(context.Background(), []string{"--help"}, func(string) string { return "" }, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("run --help: %v", err)
	}
	for _, want := range []string{"PAPERD_GRPC_ADDR", "\":9090\"", "PAPERD_HTTP_ADDR", "\":8080\"", "PAPERD_DATA_DIR",
		"MONGODB_URI", "MONGODB_DATABASE", "PAPERD_ADMIN_TOKENS", "PAPERD_ADMIN_TOKENS_FILE", "PAPERD_SYNC_INTERVAL",
		"PAPERD_LOG_FORMAT", "PAPERD_LOG_LEVEL", "PAPERD_SHUTDOWN_TIMEOUT"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help does not mention %s:\n%s", want, out.String())
		}
	}
}

func TestBadConfigurationIsRefused(t *testing.T) {
	t.Parallel()
	env := map[string]string{"PAPERD_SYNC_INTERVAL": "soon", "PAPERD_LOG_FORMAT": "xml", "PAPERD_UPVOTE_RATE_LIMIT": "lots"}
	err := run(context.Background(), nil, func(k string) string { return env[k] }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "sync-interval") || !strings.Contains(err.Error(), "log-format") ||
		!strings.Contains(err.Error(), "upvote-rate-limit") {
		t.Fatalf("got %v, want errors naming sync-interval, log-format and upvote-rate-limit", err)
	}
}

// buildPaperd builds the paperd binary into a temporary directory.
func buildPaperd(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "paperd")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// paperd runs the paperd binary for a test, as often as the test starts it,
// with the same environment. Every start listens on ports the system picks
// (127.0.0.1:0), which paperd logs: no port is chosen free and taken later,
// when another test may have it. The client connection of conn follows paperd
// from start to start.
type paperd struct {
	t   *testing.T
	bin string
	env []string

	mu         sync.Mutex
	grpc, http string // the running paperd's addresses ("" while none is known)
}

func newPaperd(t *testing.T, bin string, env ...string) *paperd {
	return &paperd{t: t, bin: bin, env: env}
}

// listening matches paperd's log line with its addresses, in text or JSON.
var listening = regexp.MustCompile(`paperd listening; opening the database"[ ,]"?grpc"?[=:]"?([0-9.:]+)"?[ ,]"?http"?[=:]"?([0-9.:]+)`)

// start runs paperd and waits until it listens and /readyz answers 200; logs,
// if not nil, receives its output.
func (p *paperd) start(logs io.Writer) *exec.Cmd {
	t := p.t
	t.Helper()
	p.setAddrs("", "")
	out := &lockedWriter{}
	if logs != nil {
		out.also = logs
	}
	cmd := exec.Command(p.bin)
	// Info-level logs carry the addresses.
	cmd.Env = append(append(os.Environ(), p.env...), "PAPERD_GRPC_ADDR=127.0.0.1:0", "PAPERD_HTTP_ADDR=127.0.0.1:0", "PAPERD_LOG_LEVEL=info")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// A test that fails before stopping it must not leave it running.
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	for began := time.Now(); ; time.Sleep(50 * time.Millisecond) {
		if m := listening.FindStringSubmatch(out.String()); m != nil {
			if resp, err := http.Get("http://" + m[2] + "/readyz"); err == nil {
				_ = resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					t.Logf("ready after %v", time.Since(began).Round(time.Millisecond))
					p.setAddrs(m[1], m[2])
					return cmd
				}
			}
		}
		if time.Since(began) > 60*time.Second {
			_ = cmd.Process.Kill()
			t.Fatalf("not ready after 60s:\n%s", out.String())
		}
	}
}

// kill kills cmd, a paperd p started, with SIGKILL.
func (p *paperd) kill(cmd *exec.Cmd) {
	p.t.Helper()
	if err := cmd.Process.Kill(); err != nil {
		p.t.Fatal(err)
	}
	_ = cmd.Wait()
	p.setAddrs("", "")
}

func (p *paperd) setAddrs(grpc, http string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.grpc, p.http = grpc, http
}

// addrs returns the running paperd's gRPC and HTTP addresses.
func (p *paperd) addrs() (grpc, http string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.grpc, p.http
}

// httpURL is the running paperd's base URL, http://host:port.
func (p *paperd) httpURL() string {
	_, h := p.addrs()
	return "http://" + h
}

// conn returns a gRPC client connection to the paperd running at the time of
// each dial; it closes at the end of the test.
func (p *paperd) conn() *grpc.ClientConn {
	p.t.Helper()
	conn, err := grpc.NewClient("passthrough:///paperd", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			addr, _ := p.addrs()
			if addr == "" {
				return nil, errors.New("paperd is not running")
			}
			return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		}))
	if err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// asUser is ctx carrying the HS256 user token of user-u, signed with secret.
func asUser(t *testing.T, ctx context.Context, secret string, u int) context.Context {
	tok := authtest.Sign(t, jwt.SigningMethodHS256, []byte(secret),
		jwt.MapClaims{"sub": fmt.Sprintf("user-%d", u), "exp": time.Now().Add(time.Hour).Unix()}, "")
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
}

// lockedWriter keeps what a process writes, for reading while it runs, and
// passes it on to also (if not nil).
type lockedWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	also io.Writer
}

func (w *lockedWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(b)
	if w.also != nil {
		return w.also.Write(b)
	}
	return len(b), nil
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// eventually polls cond until it holds, and fails the test if it does not
// within a minute.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen within a minute", what)
		}
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// listeningTCP returns the addresses (IPv4 "a.b.c.d:port") of the TCP sockets
// process pid listens on, sorted, from /proc.
func listeningTCP(t *testing.T, pid int) []string {
	t.Helper()
	inodes := map[string]bool{}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if inode, ok := strings.CutPrefix(link, "socket:["); err == nil && ok {
			inodes[strings.TrimSuffix(inode, "]")] = true
		}
	}
	var out []string
	for _, table := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || f[3] != "0A" || !inodes[f[9]] { // 0A: LISTEN
				continue
			}
			out = append(out, procAddr(t, f[1]))
		}
	}
	slices.Sort(out)
	return out
}

// procAddr turns /proc/net/tcp's "0100007F:1F90" into "127.0.0.1:8080" (IPv6
// addresses are left as /proc writes them, prefixed with the port).
func procAddr(t *testing.T, s string) string {
	t.Helper()
	host, port, _ := strings.Cut(s, ":")
	p, err := strconv.ParseUint(port, 16, 16)
	if err != nil {
		t.Fatal(err)
	}
	if len(host) != 8 {
		return fmt.Sprintf("[%s]:%d", host, p)
	}
	ip, err := strconv.ParseUint(host, 16, 32)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d.%d.%d.%d:%d", ip&0xff, ip>>8&0xff, ip>>16&0xff, ip>>24, p)
}

// TestEndToEnd builds paperd, runs it on free ports with a fresh data directory,
// creates papers over gRPC and REST, stops it with SIGTERM, starts it again on the
// same directory and finds the papers there.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	bin := buildPaperd(t)
	data := filepath.Join(t.TempDir(), "data")
	pd := newPaperd(t, bin, "PAPERD_DATA_DIR="+data, "PAPERD_ADMIN_TOKENS=e2e-token", "PAPERD_LOG_FORMAT=json")
	start := func() (*exec.Cmd, *bytes.Buffer) {
		var logs bytes.Buffer
		cmd := pd.start(&logs)
		return cmd, &logs
	}
	stop := func(cmd *exec.Cmd, logs *bytes.Buffer) {
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("paperd exited with %v; logs:\n%s", err, logs.String())
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatalf("paperd did not stop within 30s of SIGTERM")
		}
		if strings.Contains(logs.String(), "e2e-token") {
			t.Error("the admin token appears in the logs")
		}
	}

	cmd, logs := start()
	// The embedded database is paperd's alone: paperd listens on its two ports and
	// no other, the database on a socket in a directory only its user can enter.
	grpcAddr, httpAddr := pd.addrs()
	if got, want := listeningTCP(t, cmd.Process.Pid), []string{grpcAddr, httpAddr}; !slices.Equal(got, sorted(want)) {
		t.Errorf("paperd listens on TCP %v, want only %v", got, sorted(want))
	}
	for _, dir := range []string{data, filepath.Join(data, "db")} {
		if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v, %v; want a directory with mode 0700", dir, fi.Mode(), err)
		}
	}
	if fi, err := os.Stat(filepath.Join(data, "db", "ferretdb.sock")); err != nil || fi.Mode()&os.ModeSocket == 0 {
		t.Errorf("the database's socket: %v, %v", fi, err)
	}
	client := catalogv1.NewCatalogServiceClient(pd.conn())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	actx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer e2e-token")
	for i := 1; i <= 5; i++ {
		if _, err := client.CreatePaper(actx, &catalogv1.CreatePaperRequest{
			PaperId: fmt.Sprintf("2312.%05d", i), Paper: &catalogv1.Paper{Title: fmt.Sprintf("Paper %d", i)},
		}); err != nil {
			t.Fatalf("create over gRPC: %v", err)
		}
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, pd.httpURL()+"/v1/papers?paper_id=hep-th/9901001",
		strings.NewReader(`{"title": "Created over REST"}`))
	req.Header.Set("Authorization", "Bearer e2e-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("create over REST: %d", resp.StatusCode)
	}
	stop(cmd, logs)

	cmd, logs = start()
	defer stop(cmd, logs)
	list, err := client.ListPapers(ctx, &catalogv1.ListPapersRequest{}, grpc.WaitForReady(true))
	if err != nil {
		t.Fatal(err)
	}
	if list.GetTotalSize() != 6 {
		t.Errorf("after restart: %d papers, want 6", list.GetTotalSize())
	}
	resp, err = http.Get(pd.httpURL() + "/v1/papers/hep-th-9901001")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&got)
	_ = resp.Body.Close()
	if got["title"] != "Created over REST" {
		t.Errorf("after restart, REST get: %v", got)
	}
}

// TestKillDuringWritesLeavesSearchConsistent kills paperd with SIGKILL while papers
// are being written, starts it again, and checks that search finds exactly the
// papers the database has; then it deletes the search index and checks that it is
// rebuilt.
func TestKillDuringWritesLeavesSearchConsistent(t *testing.T) {
	t.Parallel()
	bin := buildPaperd(t)
	data := filepath.Join(t.TempDir(), "data")
	pd := newPaperd(t, bin, "PAPERD_DATA_DIR="+data, "PAPERD_ADMIN_TOKENS=e2e-token")
	start := func() *exec.Cmd { return pd.start(nil) }
	client := catalogv1.NewCatalogServiceClient(pd.conn())
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	actx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer e2e-token")
	// Every paper is submitted at the same time, so that the daily listing of
	// one ISO week holds them all, whenever the test runs.
	submitted := time.Now().UTC().Add(-time.Hour)
	y, wk := submitted.ISOWeek()
	week := fmt.Sprintf("%d-W%02d", y, wk)

	cmd := start()
	var wg sync.WaitGroup
	var mu sync.Mutex
	acked := map[string]bool{}
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				id := fmt.Sprintf("2312.%d%04d", w+1, i)
				_, err := client.CreatePaper(actx, &catalogv1.CreatePaperRequest{PaperId: id,
					Paper: &catalogv1.Paper{Title: "Paper about " + word(id), Abstract: "An abstract.", SubmitTime: timestamppb.New(submitted)}})
				if err != nil {
					return // the server is gone
				}
				mu.Lock()
				acked[id] = true
				mu.Unlock()
			}
		})
	}
	eventually(t, "40 papers written", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) >= 40
	})
	pd.kill(cmd)
	wg.Wait()

	check := func(phase string) {
		t.Helper()
		// The connection may still be backing off from the killed server.
		if _, err := client.ListPapers(ctx, &catalogv1.ListPapersRequest{PageSize: 1}, grpc.WaitForReady(true)); err != nil {
			t.Fatal(err)
		}
		var ids []string
		token := ""
		for {
			resp, err := client.ListPapers(ctx, &catalogv1.ListPapersRequest{PageSize: 1000, PageToken: token})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range resp.GetPapers() {
				ids = append(ids, p.GetArxivId())
			}
			if token = resp.GetNextPageToken(); token == "" {
				break
			}
		}
		stored := map[string]bool{}
		for _, id := range ids {
			stored[id] = true
		}
		mu.Lock()
		for id := range acked {
			if !stored[id] {
				t.Errorf("%s: acknowledged paper %s is lost", phase, id)
			}
		}
		mu.Unlock()
		if len(ids) < 10 {
			t.Fatalf("%s: only %d papers were written before the kill", phase, len(ids))
		}
		// Every stored paper is found by its own word, and only it.
		for _, id := range ids {
			resp, err := client.SearchPapers(ctx, &catalogv1.SearchPapersRequest{Query: word(id)})
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.GetResults()) != 1 || resp.GetResults()[0].GetPaper().GetArxivId() != id {
				t.Fatalf("%s: search for %s (%s) returned %d results", phase, id, word(id), len(resp.GetResults()))
			}
		}
		// All papers together: no ghost of a paper the database does not have.
		resp, err := client.SearchPapers(ctx, &catalogv1.SearchPapersRequest{Query: "abstract", PageSize: 1})
		if err != nil || int(resp.GetTotalSize()) != len(ids) {
			t.Errorf("%s: search matches %d papers, the database has %d (%v)", phase, resp.GetTotalSize(), len(ids), err)
		}
		daily, err := client.ListDailyPapers(ctx, &catalogv1.ListDailyPapersRequest{Week: week})
		if err != nil || int(daily.GetTotalSize()) != len(ids) {
			t.Errorf("%s: this week's daily listing has %d papers, the database %d (%v)", phase, daily.GetTotalSize(), len(ids), err)
		}
		t.Logf("%s: %d papers consistent", phase, len(ids))
	}

	cmd = start()
	check("after SIGKILL")
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if err := os.RemoveAll(filepath.Join(data, "search")); err != nil {
		t.Fatal(err)
	}
	cmd = start()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	check("after deleting the index")
}

// word is a made-up word that only the paper id has: consonants only, so that no
// stemming rule changes it.
func word(id string) string {
	const letters = "bcdfghjklm"
	var b strings.Builder
	b.WriteString("zq")
	for _, r := range id {
		if r >= '0' && r <= '9' {
			b.WriteByte(letters[r-'0'])
		}
	}
	return b.String()
}

// TestKillWhileSendingADigest kills paperd with SIGKILL while the mail server
// holds a digest in DATA (the delivery record is created, the mail not yet
// accepted), starts it again and sends the edition again: the subscriber gets
// exactly one copy.
func TestKillWhileSendingADigest(t *testing.T) {
	t.Parallel()
	bin := buildPaperd(t)
	smtp, err := smtptest.Start("", "")
	if err != nil {
		t.Fatal(err)
	}
	defer smtp.Close()
	held := smtp.Hold(func(data []byte) bool { return bytes.Contains(data, []byte("Message-ID: <digest.")) })
	data := filepath.Join(t.TempDir(), "data")
	pd := newPaperd(t, bin, "PAPERD_DATA_DIR="+data, "PAPERD_ADMIN_TOKENS=e2e-token",
		"SMTP_URL=smtp://"+smtp.Addr+"?tls=none", "PAPERD_DELIVERY_CLAIM_TIMEOUT=1s", "PAPERD_DIGEST_INTERVAL=1h")
	start := func() *exec.Cmd { return pd.start(nil) }
	conn := pd.conn()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	actx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer e2e-token")
	catalog, subs := catalogv1.NewCatalogServiceClient(conn), subscriptionv1.NewSubscriptionServiceClient(conn)
	// Today's edition (at 23:00 UTC) lists the paper submitted an hour ago: the
	// edition and the paper's time come from one reading of the clock, so that
	// midnight cannot fall between them.
	now := time.Now().UTC()
	edition := now.Format(time.DateOnly)

	cmd := start()
	if _, err := catalog.CreatePaper(actx, &catalogv1.CreatePaperRequest{PaperId: "2311.00001", Paper: &catalogv1.Paper{
		Title: "A paper of the day", SubmitTime: timestamppb.New(now.Add(-time.Hour))}}, grpc.WaitForReady(true)); err != nil {
		t.Fatal(err)
	}
	hour := int32(23) // the scheduler stays out of it: the test sends by hand
	if _, err := subs.CreateSubscription(ctx, &subscriptionv1.CreateSubscriptionRequest{Subscription: &subscriptionv1.Subscription{
		Email: "ada@example.org", SendHour: &hour, Weekdays: []subscriptionv1.Subscription_Weekday{1, 2, 3, 4, 5, 6, 7}}}); err != nil {
		t.Fatal(err)
	}
	msgs := smtp.Messages()
	confirmation, err := msgs[0].Decode()
	if err != nil {
		t.Fatal(err)
	}
	token := regexp.MustCompile(`confirm\?token=([A-Za-z0-9_-]+)`).FindStringSubmatch(confirmation.Body)
	if token == nil {
		t.Fatalf("no confirmation link in:\n%s", msgs[0].Data)
	}
	if _, err := subs.ConfirmSubscription(ctx, &subscriptionv1.ConfirmSubscriptionRequest{Token: token[1]}); err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = subs.SendDigests(actx, &subscriptionv1.SendDigestsRequest{Edition: edition}) }()
	select {
	case <-held:
	case <-ctx.Done():
		t.Fatal("the digest never reached the mail server")
	}
	pd.kill(cmd)
	smtp.Release(false) // the connection is gone; the server never accepted it

	cmd = start()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	go func() {
		<-held
		smtp.Release(true)
	}()
	// The dead sender's claim holds the delivery back until it is stale (a
	// second on paperd's clock): until then a send skips it.
	var resp *subscriptionv1.SendDigestsResponse
	eventually(t, "the digest sent after the restart", func() bool {
		resp, err = subs.SendDigests(actx, &subscriptionv1.SendDigestsRequest{Edition: edition}, grpc.WaitForReady(true))
		if err != nil || resp.GetSent() != 0 || resp.GetSkipped() != 1 {
			return true
		}
		time.Sleep(100 * time.Millisecond)
		return false
	})
	if err != nil || resp.GetSent() != 1 {
		t.Fatalf("after the restart: %v %v", resp, err)
	}
	if resp, err := subs.SendDigests(actx, &subscriptionv1.SendDigestsRequest{Edition: edition}); err != nil || resp.GetSent() != 0 {
		t.Errorf("again: %v %v", resp, err)
	}
	n := 0
	for _, m := range smtp.Messages() {
		if bytes.Contains(m.Data, []byte("Message-ID: <digest.")) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d digests accepted, want exactly 1", n)
	}
}

// TestKillDuringADigestSendToManySubscribers kills paperd with SIGKILL while it
// sends an edition to 300 subscribers, starts it again and sends the edition
// again: everyone gets it, and only mails that were in flight at the kill (at
// most one per sending connection) go out twice.
func TestKillDuringADigestSendToManySubscribers(t *testing.T) {
	t.Parallel()
	const subscribers, connections = 300, 4
	bin := buildPaperd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	edb, err := embedded.Start(ctx, filepath.Join(t.TempDir(), "db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer edb.Close()
	// The edition of two days ago, on the only weekday the subscribers get
	// one: paperd's scheduler, which looks at today (or tomorrow, past
	// midnight), never finds it due, at whatever hour the test runs.
	edition := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -2)
	db, err := mongo.Open(edb.URI, "papers")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := mongo.NewPapers(db).Create(ctx, &repository.Paper{ID: "2311.00002", Title: "A paper of the day before",
		SubmitTime: edition.Add(-time.Hour), CreateTime: edition, UpdateTime: edition, Version: 1}); err != nil {
		t.Fatal(err)
	}
	subs := mongo.NewSubscriptions(db)
	for i := range subscribers {
		if err := subs.Create(ctx, &repository.Subscription{
			ID: fmt.Sprintf("sub%03d", i), Email: fmt.Sprintf("reader%03d@example.org", i), State: repository.SubscriptionActive,
			Frequency: "daily", Weekdays: []time.Weekday{edition.Weekday()}, SendHour: 23, TimeZone: "UTC", MaxPapers: 5,
			CreateTime: edition, ConfirmTime: edition, UpdateTime: edition, ManageHash: fmt.Sprintf("hash%d", i), ManageGeneration: 1, Version: 2,
		}); err != nil {
			t.Fatal(err)
		}
	}
	_ = db.Close(ctx)

	sink, err := smtptest.Start("", "")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	data := filepath.Join(t.TempDir(), "data") // the same after the restart, with the digest journal in it
	pd := newPaperd(t, bin, "MONGODB_URI="+edb.URI, "PAPERD_DATA_DIR="+data, "PAPERD_ADMIN_TOKENS=e2e-token",
		fmt.Sprintf("SMTP_URL=smtp://%s?tls=none&connections=%d", sink.Addr, connections),
		"PAPERD_DELIVERY_CLAIM_TIMEOUT=1s", "PAPERD_DIGEST_INTERVAL=1h")
	start := func() *exec.Cmd { return pd.start(nil) }
	actx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer e2e-token")
	client := subscriptionv1.NewSubscriptionServiceClient(pd.conn())
	req := &subscriptionv1.SendDigestsRequest{Edition: edition.Format(time.DateOnly)}

	cmd := start()
	go func() { _, _ = client.SendDigests(actx, req) }()
	for len(sink.Messages()) < subscribers/3 {
		if ctx.Err() != nil {
			t.Fatal("the digests never reached the mail server")
		}
		time.Sleep(time.Millisecond)
	}
	pd.kill(cmd)
	atKill := len(sink.Messages())

	cmd = start()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	// The dead sender's claims hold their deliveries back until they are
	// stale (a second on paperd's clock): sends skip them until then.
	everyone := func() bool {
		seen := map[string]bool{}
		for _, m := range sink.Messages() {
			seen[m.To[0]] = true
		}
		return len(seen) == subscribers
	}
	eventually(t, "the edition sent to everyone after the restart", func() bool {
		if _, err := client.SendDigests(actx, req, grpc.WaitForReady(true)); err != nil {
			t.Fatalf("after the restart: %v", err)
		}
		if everyone() {
			return true
		}
		time.Sleep(100 * time.Millisecond)
		return false
	})
	got := map[string]int{}
	for _, m := range sink.Messages() {
		got[m.To[0]]++
	}
	twice := 0
	for i := range subscribers {
		switch n := got[fmt.Sprintf("reader%03d@example.org", i)]; {
		case n == 0:
			t.Errorf("reader%03d got no digest", i)
		case n == 2:
			twice++
		case n > 2:
			t.Errorf("reader%03d got %d digests", i, n)
		}
	}
	t.Logf("%d mails accepted before the kill, %d subscribers got the edition twice", atKill, twice)
	if twice > connections {
		t.Errorf("%d subscribers got the edition twice; only the mails in flight at the kill may go twice (at most %d)", twice, connections)
	}
}

// TestKillDuringUpdatesAndVotes kills paperd with SIGKILL while clients
// increment papers' GitHub stars (read, then a PATCH with the etag) and toggle
// upvotes, starts it again, and checks every paper and vote against what was
// acknowledged and against the database: an acknowledged change is there, an
// unacknowledged one at most once, and what paperd serves is what the database
// holds.
func TestKillDuringUpdatesAndVotes(t *testing.T) {
	t.Parallel()
	const papers, users, secret = 8, 6, "a-test-secret-that-is-long-enough-for-hs256"
	bin := buildPaperd(t)
	data := filepath.Join(t.TempDir(), "data")
	pd := newPaperd(t, bin, "PAPERD_DATA_DIR="+data, "PAPERD_ADMIN_TOKENS=e2e-token",
		"PAPERD_JWT_SECRET="+secret, "PAPERD_WRITE_RATE_LIMIT=off", "PAPERD_UPVOTE_RATE_LIMIT=off")
	start := func() *exec.Cmd { return pd.start(nil) }
	client := catalogv1.NewCatalogServiceClient(pd.conn())
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	actx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer e2e-token")
	userCtx := func(u int) context.Context { return asUser(t, ctx, secret, u) }
	name := func(p int) string { return fmt.Sprintf("papers/2312.0%04d", p) }

	cmd := start()
	for p := range papers {
		if _, err := client.CreatePaper(actx, &catalogv1.CreatePaperRequest{PaperId: strings.TrimPrefix(name(p), "papers/"),
			Paper: &catalogv1.Paper{Title: "Paper"}}); err != nil {
			t.Fatal(err)
		}
	}
	// What was acknowledged, and what was in flight when the server went.
	var mu sync.Mutex
	stars := make([]int64, papers) // acknowledged increments; one writer a paper, so at most one more in flight
	voted, votePending := map[[2]int]bool{}, map[[2]int]bool{}
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() { // paper w, w+2, …: read, add one, write with the etag
			for i := 0; ; i++ {
				p := w + 2*(i%(papers/2))
				cur, err := client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: name(p)})
				if err != nil {
					return
				}
				_, err = client.UpdatePaper(actx, &catalogv1.UpdatePaperRequest{
					Paper:      &catalogv1.Paper{Name: name(p), Etag: cur.GetEtag(), GithubStars: cur.GetGithubStars() + 1},
					UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"github_stars"}}})
				mu.Lock()
				if err == nil {
					stars[p]++
				}
				mu.Unlock()
				if err != nil && status.Code(err) != codes.Aborted {
					return // the server is gone
				}
			}
		})
		wg.Go(func() { // users w, w+2, …: toggle an upvote
			for i := 0; ; i++ {
				u, p := w+2*(i%(users/2)), (i/users)%papers
				k := [2]int{p, u}
				mu.Lock()
				add := !voted[k]
				votePending[k] = true
				mu.Unlock()
				var err error
				if add {
					_, err = client.UpvotePaper(userCtx(u), &catalogv1.UpvotePaperRequest{Name: name(p)})
				} else {
					_, err = client.RemovePaperUpvote(userCtx(u), &catalogv1.RemovePaperUpvoteRequest{Name: name(p)})
				}
				if err != nil {
					return // the server is gone; the change stays pending
				}
				mu.Lock()
				voted[k], votePending[k] = add, false
				mu.Unlock()
			}
		})
	}
	eventually(t, "updates and votes acknowledged", func() bool {
		mu.Lock()
		defer mu.Unlock()
		var n int64
		for _, s := range stars {
			n += s
		}
		return n >= 20 && len(voted) >= 10
	})
	pd.kill(cmd)
	wg.Wait()

	cmd = start()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	db, err := mongo.Open("mongodb://"+url.PathEscape(filepath.Join(data, "db", "ferretdb.sock"))+"/", "papers")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close(context.Background()) }()
	latest := map[[2]string]repository.VoteRecord{} // the database's latest change of each vote
	if err := mongo.NewVotes(db).AllVotes(ctx, func(r repository.VoteRecord) error {
		if cur, ok := latest[[2]string{r.PaperID, r.User}]; !ok || r.Version > cur.Version {
			latest[[2]string{r.PaperID, r.User}] = r
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var acked, changes int64
	for p := range papers {
		served, err := client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: name(p)}, grpc.WaitForReady(true))
		if err != nil {
			t.Fatal(err)
		}
		stored, err := mongo.NewPapers(db).Get(ctx, strings.TrimPrefix(name(p), "papers/"))
		if err != nil {
			t.Fatal(err)
		}
		if got := served.GetGithubStars(); got < stars[p] || got > stars[p]+1 || got != stored.GithubStars {
			t.Errorf("%s: %d stars served, %d stored; %d increments acknowledged", name(p), got, stored.GithubStars, stars[p])
		}
		acked += stars[p]
		var up int64
		for u := range users {
			k := [2]int{p, u}
			mine, err := client.GetPaper(userCtx(u), &catalogv1.GetPaperRequest{Name: name(p)})
			if err != nil {
				t.Fatal(err)
			}
			r := latest[[2]string{strings.TrimPrefix(name(p), "papers/"), fmt.Sprintf("user-%d", u)}]
			if mine.GetViewerUpvoted() != r.Added {
				t.Errorf("%s, user-%d: served upvoted %v, the database's latest change %+v", name(p), u, mine.GetViewerUpvoted(), r)
			}
			if !votePending[k] && mine.GetViewerUpvoted() != voted[k] {
				t.Errorf("%s, user-%d: upvoted %v, but the last acknowledged change says %v", name(p), u, mine.GetViewerUpvoted(), voted[k])
			}
			if mine.GetViewerUpvoted() {
				up++
			}
			changes++
		}
		if served.GetUpvotes() != up {
			t.Errorf("%s: %d upvotes served, %d users have upvoted it", name(p), served.GetUpvotes(), up)
		}
	}
	if acked < 5 {
		t.Fatalf("only %d increments were acknowledged before the kill", acked)
	}
	t.Logf("%d increments acknowledged before the kill; %d votes checked", acked, changes)
}
