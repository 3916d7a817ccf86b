package server_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/papercatalog/papers/clock/clocktest"
	"github.com/papercatalog/papers/embedded"
	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	subscriptionv1 "github.com/papercatalog/papers/gen/papers/subscription/v1"
	"github.com/papercatalog/papers/mailer/smtptest"
	"github.com/papercatalog/papers/server"
)

// cutProxy is a TCP proxy in front of a database that the test can cut (every
// connection closed, new ones reset at once) and restore on the same address,
// or hang (connections stay open and new ones are accepted, but nothing goes
// through: what clients see of a database stopped with SIGSTOP).
//
// It keeps listening on its address from start to end, so that no other test
// can take the port while the proxy is down.
type cutProxy struct {
	addr, target string
	lis          net.Listener

	mu     sync.Mutex
	cut    bool
	conns  map[net.Conn]bool
	hung   bool
	resume *sync.Cond // on mu: hung turned false
}

// newCutProxy starts a proxy to target on a loopback port of its own; it is
// down until up is called.
func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{addr: lis.Addr().String(), lis: lis, target: target, cut: true, conns: map[net.Conn]bool{}}
	p.resume = sync.NewCond(&p.mu)
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			cut := p.cut
			p.mu.Unlock()
			if cut {
				reset(c)
				continue
			}
			go p.serve(c)
		}
	}()
	t.Cleanup(func() {
		p.down()
		_ = lis.Close()
	})
	return p
}

// reset closes c with a TCP reset, the nearest a listener comes to refusing
// a connection.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// up passes connections through again.
func (p *cutProxy) up(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
}

func (p *cutProxy) serve(c net.Conn) {
	d, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = c.Close()
		return
	}
	p.mu.Lock()
	if p.cut { // cut meanwhile
		p.mu.Unlock()
		_, _ = c.Close(), d.Close()
		return
	}
	p.conns[c], p.conns[d] = true, true
	p.mu.Unlock()
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				p.mu.Lock()
				for p.hung {
					p.resume.Wait()
				}
				p.mu.Unlock()
				if _, err := dst.Write(buf[:n]); err != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		_, _ = dst.Close(), src.Close()
	}
	go pipe(d, c)
	pipe(c, d)
}

// hang stops passing bytes until unhang, leaving connections open.
func (p *cutProxy) hang() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hung = true
}

// unhang passes bytes again.
func (p *cutProxy) unhang() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hung = false
	p.resume.Broadcast()
}

// down closes every connection through the proxy, and resets new ones.
func (p *cutProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hung = false
	p.resume.Broadcast()
	p.cut = true
	for c := range p.conns {
		_ = c.Close()
		delete(p.conns, c)
	}
}

// standaloneDB starts a FerretDB of its own (the embedded one, outside any
// paperd) and returns a proxy to it, down.
func standaloneDB(t *testing.T) (*cutProxy, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := embedded.StartTCP(ctx, t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	target := strings.TrimSuffix(strings.TrimPrefix(db.URI, "mongodb://"), "/")
	if i := strings.IndexAny(target, "/?"); i >= 0 {
		target = target[:i]
	}
	p := newCutProxy(t, target)
	return p, strings.Replace(db.URI, target, p.addr, 1)
}

func getJSONStatus(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestDatabaseUnreachableAtStart: with MongoDB unreachable, paperd keeps trying
// with backoff; meanwhile it answers health checks (alive, not ready, gRPC
// NOT_SERVING) and refuses calls with UNAVAILABLE (503); once the database is
// there it serves, without a restart.
func TestDatabaseUnreachableAtStart(t *testing.T) {
	t.Parallel()
	proxy, uri := standaloneDB(t)
	cfg := testConfig(t)
	cfg.MongoURI = uri
	// paperd listens on free ports (127.0.0.1:0) and logs which, before it
	// waits for the database.
	logs := &logBuffer{}
	type started struct {
		srv *server.Server
		err error
	}
	done := make(chan started, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		srv, err := server.Start(ctx, cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
		done <- started{srv, err}
	}()
	var grpcAddr, base string
	listening := regexp.MustCompile(`msg="paperd listening; opening the database" grpc=(\S+) http=(\S+)`)
	eventually(t, "paperd listening", func() bool {
		m := listening.FindStringSubmatch(logs.String())
		if m != nil {
			grpcAddr, base = m[1], "http://"+m[2]
		}
		return m != nil
	})
	eventually(t, "the HTTP port answering", func() bool {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			_ = resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	})
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	ctx := testCtx(t)
	// Several tries go by while the database stays away (each waits up to 5 s
	// for a server).
	eventually30(t, "two retries logged", func() bool { return strings.Count(logs.String(), "database not ready; retrying") >= 2 })
	select {
	case s := <-done:
		t.Fatalf("Start returned while the database was away: %v", s.err)
	default:
	}
	if code, body := getJSONStatus(t, base+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "waiting for the database") {
		t.Errorf("readyz while waiting: %d %s", code, body)
	}
	h, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || h.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("gRPC health while waiting: %v %v", h, err)
	}
	client := catalogv1.NewCatalogServiceClient(conn)
	if _, err := client.ListPapers(ctx, &catalogv1.ListPapersRequest{}); status.Code(err) != codes.Unavailable {
		t.Errorf("ListPapers while waiting: %v, want UNAVAILABLE", err)
	}
	if resp, err := http.Get(base + "/v1/papers"); err != nil {
		t.Errorf("GET /v1/papers while waiting: %v", err)
	} else {
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "5" {
			t.Errorf("GET /v1/papers while waiting: %d, Retry-After %q; want 503, 5", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	if code, _ := getJSONStatus(t, base+"/metrics"); code != http.StatusOK {
		t.Errorf("/metrics while waiting: %d", code)
	}

	proxy.up(t)
	var s started
	select {
	case s = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("paperd did not start within 60 s of the database coming back")
	}
	if s.err != nil {
		t.Fatalf("Start: %v", s.err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = s.srv.Shutdown(ctx)
	})
	if code, body := getJSONStatus(t, base+"/readyz"); code != http.StatusOK {
		t.Errorf("readyz once started: %d %s", code, body)
	}
	h, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || h.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("gRPC health once started: %v %v", h, err)
	}
	if _, err := client.CreatePaper(admin(ctx), &catalogv1.CreatePaperRequest{PaperId: paperID(1), Paper: newPaper(1)}); err != nil {
		t.Errorf("write once started: %v", err)
	}
}

// TestDatabaseLostWhileRunning: while MongoDB is away, reads are served from
// the read model, and writes fail with UNAVAILABLE (503) within their deadline;
// when it is back, writes succeed again by themselves, and every write that was
// acknowledged, before, during or after the outage, is in the database.
func TestDatabaseLostWhileRunning(t *testing.T) {
	t.Parallel()
	proxy, uri := standaloneDB(t)
	proxy.up(t)
	cfg := userConfig(t)
	cfg.MongoURI = uri
	cfg.WriteRateLimit = mustLimit(t, "off")
	cfg.UpvoteRateLimit = mustLimit(t, "off")
	ts := startServer(t, cfg)
	ctx := longCtx(t)
	for i := range 20 {
		if _, err := ts.client.CreatePaper(admin(ctx), &catalogv1.CreatePaperRequest{PaperId: paperID(i), Paper: newPaper(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ts.client.UpvotePaper(asUser(ctx, userToken(t, "ada")), &catalogv1.UpvotePaperRequest{Name: "papers/" + paperID(0)}); err != nil {
		t.Fatal(err)
	}

	// A writer keeps writing through the outage; it remembers what was acknowledged.
	var mu sync.Mutex
	acked := map[string]bool{}
	for i := range 20 {
		acked[paperID(i)] = true
	}
	stopWriter := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for i := 100; ; i++ {
			select {
			case <-stopWriter:
				return
			default:
			}
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_, err := ts.client.CreatePaper(admin(cctx), &catalogv1.CreatePaperRequest{PaperId: paperID(i), Paper: newPaper(i)})
			cancel()
			if err == nil {
				mu.Lock()
				acked[paperID(i)] = true
				mu.Unlock()
			} else if c := status.Code(err); c != codes.Unavailable {
				t.Errorf("write %d: %v, want OK or UNAVAILABLE", i, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	acks := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}
	eventually(t, "the writer's first writes", func() bool { return acks() >= 23 })

	proxy.down()
	// Reads are served from the read model.
	for _, name := range []string{paperID(0), paperID(19)} {
		p, err := ts.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: "papers/" + name})
		if err != nil {
			t.Fatalf("GetPaper during the outage: %v", err)
		}
		if name == paperID(0) && p.GetUpvotes() != 1 {
			t.Errorf("paper 0 has %d upvotes during the outage, want 1", p.GetUpvotes())
		}
	}
	if resp, err := ts.client.ListPapers(ctx, &catalogv1.ListPapersRequest{PageSize: 5}); err != nil || len(resp.GetPapers()) != 5 {
		t.Errorf("ListPapers during the outage: %v", err)
	}
	if _, err := ts.client.ListTrendingPapers(ctx, &catalogv1.ListTrendingPapersRequest{}); err != nil {
		t.Errorf("trending during the outage: %v", err)
	}
	if _, err := ts.client.SearchPapers(ctx, &catalogv1.SearchPapersRequest{Query: "transformers"}); err != nil {
		t.Errorf("search during the outage: %v", err)
	}
	if r := ts.rest(t, "GET", "/v1/papers/"+paperID(3), "", nil); r.Status != http.StatusOK {
		t.Errorf("REST read during the outage: %d %s", r.Status, r.Raw)
	}
	if r := ts.rest(t, "GET", "/readyz", "", nil); r.Status != http.StatusOK || r.Body["database"] != "unreachable" {
		t.Errorf("readyz during the outage: %d %s", r.Status, r.Raw)
	}
	// Writes fail with UNAVAILABLE / 503, fast: paperd knows the database is
	// away and does not wait out the driver's 5 s server selection.
	const deadline, fast = 10 * time.Second, 3 * time.Second
	timed := func(what string, call func(context.Context) error) {
		t.Helper()
		cctx, cancel := context.WithTimeout(ctx, deadline)
		defer cancel()
		began := time.Now()
		err := call(cctx)
		took := time.Since(began)
		t.Logf("%s during the outage: %s after %s", what, status.Code(err), took.Round(time.Millisecond))
		if status.Code(err) != codes.Unavailable || took >= fast {
			t.Errorf("%s during the outage: %v after %s, want UNAVAILABLE within %s", what, err, took.Round(time.Millisecond), fast)
		}
	}
	timed("CreatePaper", func(ctx context.Context) error {
		_, err := ts.client.CreatePaper(admin(ctx), &catalogv1.CreatePaperRequest{PaperId: paperID(50), Paper: newPaper(50)})
		return err
	})
	timed("UpvotePaper", func(ctx context.Context) error {
		_, err := ts.client.UpvotePaper(asUser(ctx, userToken(t, "bob")), &catalogv1.UpvotePaperRequest{Name: "papers/" + paperID(1)})
		return err
	})
	timed("CreateSubscription", func(ctx context.Context) error {
		_, err := subscriptionv1.NewSubscriptionServiceClient(ts.conn).CreateSubscription(ctx, &subscriptionv1.CreateSubscriptionRequest{
			Subscription: &subscriptionv1.Subscription{Email: "ada@example.org"}})
		return err
	})
	began := time.Now()
	r := ts.rest(t, "POST", "/v1/papers?paper_id="+paperID(51), adminToken, map[string]any{"title": "T", "abstract": "A"})
	if took := time.Since(began); r.Status != http.StatusServiceUnavailable || took >= fast {
		t.Errorf("REST write during the outage: %d after %s, %s", r.Status, took, r.Raw)
	}
	// A write refused during the outage is not served afterwards.
	if _, err := ts.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: "papers/" + paperID(50)}); status.Code(err) != codes.NotFound {
		t.Errorf("the refused paper: %v, want NOT_FOUND", err)
	}

	proxy.up(t)
	eventually30(t, "a write succeeding after the database came back", func() bool {
		_, err := ts.client.CreatePaper(admin(ctx), &catalogv1.CreatePaperRequest{PaperId: paperID(52), Paper: newPaper(52)})
		return err == nil || status.Code(err) == codes.AlreadyExists
	})
	mu.Lock()
	acked[paperID(52)] = true
	mu.Unlock()
	if _, err := ts.client.UpvotePaper(asUser(ctx, userToken(t, "bob")), &catalogv1.UpvotePaperRequest{Name: "papers/" + paperID(1)}); err != nil {
		t.Errorf("upvote after the outage: %v", err)
	}
	afterOutage := acks()
	eventually30(t, "the writer's writes after the outage", func() bool { return acks() >= afterOutage+3 })
	close(stopWriter)
	<-writerDone

	// A second replica, reading only the database, has every acknowledged write.
	cfg2 := userConfig(t)
	cfg2.MongoURI = uri
	replica := startServer(t, cfg2)
	mu.Lock()
	defer mu.Unlock()
	if len(acked) < 25 {
		t.Errorf("only %d writes acknowledged; the writer did not get through", len(acked))
	}
	names := make([]string, 0, len(acked))
	for id := range acked {
		names = append(names, "papers/"+id)
	}
	for i := 0; i < len(names); i += 100 {
		resp, err := replica.client.BatchGetPapers(ctx, &catalogv1.BatchGetPapersRequest{Names: names[i:min(i+100, len(names))]})
		if err != nil {
			t.Fatalf("an acknowledged write is missing from the database: %v", err)
		}
		if len(resp.GetPapers()) != min(100, len(names)-i) {
			t.Fatalf("got %d papers", len(resp.GetPapers()))
		}
	}
	p, err := replica.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: "papers/" + paperID(1)})
	if err != nil || p.GetUpvotes() != 1 {
		t.Errorf("paper 1 in the replica: %d upvotes, %v; want bob's", p.GetUpvotes(), err)
	}
}

// TestSMTPDownDigestsWaitAndAreRetried: with the mail server stopped, the
// scheduler's digests fail as temporary and wait for their retry; once the mail
// server is back, each subscriber gets the edition exactly once, by the
// scheduler alone.
func TestSMTPDownDigestsWaitAndAreRetried(t *testing.T) {
	t.Parallel()
	ts, smtp, _ := startWithSMTP(t, func(c *server.Config) {
		c.DigestInterval = 200 * time.Millisecond
		c.DigestRetry = 500 * time.Millisecond
	})
	ctx := longCtx(t)
	sc := subscriptionv1.NewSubscriptionServiceClient(ts.conn)
	// Today's edition at 00:00 in the subscribers' zone lists the papers of
	// the day before.
	clk, zone := testClock(t), clocktest.Zone(t)
	today := localMidnight(clk.Now(), zone)
	for i := range 3 {
		p := newPaper(i)
		p.SubmitTime = timestamppb.New(today.Add(-time.Duration(6+i) * time.Hour))
		if _, err := ts.client.CreatePaper(admin(ctx), &catalogv1.CreatePaperRequest{PaperId: paperID(i), Paper: p}); err != nil {
			t.Fatal(err)
		}
	}
	addrs := []string{"ada@example.org", "alan@example.org", "grace@example.org"}
	tokens := map[string]string{}
	for _, a := range addrs {
		if _, err := sc.CreateSubscription(ctx, &subscriptionv1.CreateSubscriptionRequest{Subscription: &subscriptionv1.Subscription{
			Email: a, Weekdays: []subscriptionv1.Subscription_Weekday{1, 2, 3, 4, 5, 6, 7}, SendHour: proto.Int32(0), TimeZone: zone.String()}}); err != nil {
			t.Fatal(err)
		}
		links, _, _ := mailLinks(t, smtp, a)
		tokens[a] = links["/subscriptions/confirm"]
	}
	smtp.Close() // the mail server goes away
	for _, a := range addrs {
		if _, err := sc.ConfirmSubscription(ctx, &subscriptionv1.ConfirmSubscriptionRequest{Token: tokens[a]}); err != nil {
			t.Fatal(err)
		}
	}
	// The scheduler tries, fails, and tries again once the backoff has passed.
	failed := func() float64 { return scrape(t, ts, "paperd_digest_deliveries_total", `outcome="failed"`) }
	eventually30(t, "a failed attempt for every subscriber", func() bool { return failed() >= 3 })
	clk.Advance(500 * time.Millisecond)
	eventually30(t, "a second failed attempt for every subscriber", func() bool { return failed() >= 6 })
	if n := scrape(t, ts, "paperd_digest_deliveries_total", `outcome="sent"`); n != 0 {
		t.Fatalf("%v digests counted as sent while the mail server was away", n)
	}

	back, err := smtptest.StartAt(smtp.Addr, "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	clk.Advance(time.Second) // the second backoff is twice the first
	onceEach(t, ts, back, addrs, "")
	r, err := sc.SendDigests(admin(ctx), &subscriptionv1.SendDigestsRequest{Edition: today.Format(time.DateOnly)})
	if err != nil || r.GetSent() != 0 {
		t.Errorf("sending the edition again: %v %v, want nothing sent", r, err)
	}
	if len(back.Messages()) != len(addrs) {
		t.Errorf("the mail server got %d mails, want %d", len(back.Messages()), len(addrs))
	}
}
