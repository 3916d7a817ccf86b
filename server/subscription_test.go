package server_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/papercatalog/papers/clock/clocktest"
	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	subscriptionv1 "github.com/papercatalog/papers/gen/papers/subscription/v1"
	"github.com/papercatalog/papers/mailer/smtptest"
	"github.com/papercatalog/papers/server"
)

// TestSubscribeWithoutSMTPWritesTheOutbox is the README's promise: with no
// SMTP_URL, a curl subscribe leaves the confirmation mail as an .eml file.
func TestSubscribeWithoutSMTPWritesTheOutbox(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	ts := startServer(t, cfg)
	r := ts.rest(t, "POST", "/v1/subscriptions", "", map[string]any{"email": "ada@example.org", "query": "diffusion"})
	if r.Status != 200 || !strings.Contains(string(r.Raw), "confirmation link") {
		t.Fatalf("subscribe: %d %s", r.Status, r.Raw)
	}
	var files []string
	eventually(t, "an .eml in the outbox", func() bool {
		files, _ = filepath.Glob(filepath.Join(cfg.DataDir, "outbox", "*.eml"))
		return len(files) == 1
	})
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	mail := string(b)
	for _, want := range []string{"To: <ada@example.org>", "Subject: Confirm your trending-papers subscription",
		ts.base + "/subscriptions/confirm?token=3D"} {
		if !strings.Contains(strings.ReplaceAll(mail, "=\r\n", ""), want) {
			t.Errorf("the mail lacks %q:\n%s", want, mail)
		}
	}
	// The same answer for a known address, and no second mail within 10 minutes.
	// A mail goes out within the call that sends it: once the call has answered,
	// the outbox holds whatever it sent.
	r2 := ts.rest(t, "POST", "/v1/subscriptions", "", map[string]any{"email": "ada@example.org"})
	files2, _ := filepath.Glob(filepath.Join(cfg.DataDir, "outbox", "*.eml"))
	if r2.Status != 200 || string(r2.Raw) != string(r.Raw) || len(files2) != 1 {
		t.Errorf("again: %d %s, %d files", r2.Status, r2.Raw, len(files2))
	}
}

// mailLinks decodes the last message to addr and returns its links' tokens by
// path, the decoded subject and the raw message, and the decoded body.
func mailLinks(t *testing.T, smtp *smtptest.Server, addr string) (map[string]string, string, string) {
	t.Helper()
	msgs := smtp.Messages()
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].To[0] != addr {
			continue
		}
		m, err := msgs[i].Decode()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, l := range regexp.MustCompile(`(/[a-z/]+)\?token=([A-Za-z0-9_-]+)`).FindAllStringSubmatch(m.Body, -1) {
			out[l[1]] = l[2]
		}
		return out, "Subject: " + m.Subject + "\n" + string(msgs[i].Data), m.Body
	}
	t.Fatalf("no mail to %s", addr)
	return nil, "", ""
}

// TestDigestIsSentOnceToConfirmedSubscribers subscribes, confirms with the mailed
// token, sends an edition (with papers of the day) and checks the digest and its
// RFC 8058 headers; a rerun sends nothing more; an unsubscribed address, a
// pending one and a sender that died after claiming are handled.
func TestDigestIsSentOnceToConfirmedSubscribers(t *testing.T) {
	t.Parallel()
	ts, smtp, _ := startWithSMTP(t, func(c *server.Config) {
		c.PublicURL = "https://papers.example"
		c.DeliveryClaimTimeout = time.Second
	})
	ctx := testCtx(t)
	sc := subscriptionv1.NewSubscriptionServiceClient(ts.conn)

	// Yesterday's edition in the subscriber's zone, due at the default send
	// hour (08:00 there), lists the papers of the day before it: these were
	// submitted at 07:00, 06:00 and 05:00 that morning.
	zone := clocktest.Zone(t)
	day := localMidnight(testClock(t).Now(), zone).AddDate(0, 0, -1)
	for i, title := range []string{"Diffusion models for <script>alert(1)</script> images", "Graph networks", "More diffusion"} {
		p := newPaper(i)
		p.Title = title
		if i == 1 {
			p.Abstract = "Message passing on graphs."
		}
		p.SubmitTime = timestamppb.New(time.Date(day.Year(), day.Month(), day.Day(), 7-i, 0, 0, 0, zone))
		if _, err := ts.client.CreatePaper(admin(ctx), &catalogv1.CreatePaperRequest{PaperId: paperID(i), Paper: p}); err != nil {
			t.Fatal(err)
		}
	}
	all := []subscriptionv1.Subscription_Weekday{1, 2, 3, 4, 5, 6, 7}
	for _, email := range []string{"ada@example.org", "pending@example.org"} {
		if _, err := sc.CreateSubscription(ctx, &subscriptionv1.CreateSubscriptionRequest{Subscription: &subscriptionv1.Subscription{
			Email: email, Query: "diffusion", Weekdays: all, TimeZone: zone.String()}}); err != nil {
			t.Fatal(err)
		}
	}
	links, _, _ := mailLinks(t, smtp, "ada@example.org")
	if _, err := sc.ConfirmSubscription(ctx, &subscriptionv1.ConfirmSubscriptionRequest{Token: links["/subscriptions/confirm"]}); err != nil {
		t.Fatal(err)
	}
	edition := day.Format(time.DateOnly)
	send := func() *subscriptionv1.SendDigestsResponse {
		t.Helper()
		var resp *subscriptionv1.SendDigestsResponse
		eventually(t, "the index has the papers", func() bool {
			var err error
			resp, err = sc.SendDigests(admin(ctx), &subscriptionv1.SendDigestsRequest{Edition: edition})
			return err == nil
		})
		return resp
	}
	// The search index follows the writes within moments.
	eventually(t, "the papers in the search index", func() bool {
		r, err := ts.client.SearchPapers(ctx, &catalogv1.SearchPapersRequest{Query: "diffusion"})
		return err == nil && len(r.GetResults()) == 2
	})
	if r := send(); r.GetSent() != 1 || r.GetFailed() != 0 {
		t.Fatalf("first send: %v", r)
	}
	digestLinks, raw, body := mailLinks(t, smtp, "ada@example.org")
	for _, want := range []string{"Subject: Trending papers", "List-Unsubscribe: <https://papers.example/unsubscribe?token=",
		"List-Unsubscribe-Post: List-Unsubscribe=One-Click", "Message-ID: <digest." + edition + "."} {
		if !strings.Contains(raw, want) {
			t.Errorf("the digest lacks %q:\n%s", want, raw)
		}
	}
	// The hostile title is plain text in the text part and escaped in the HTML part.
	if strings.Count(body, "<script>alert(1)</script>") != 1 || !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") ||
		strings.Contains(body, "Graph networks") || !strings.Contains(body, "More diffusion") {
		t.Errorf("the digest's papers or escaping:\n%s", body)
	}
	// Each paper links to its page (TestPaperPage), not to the API's JSON.
	if !strings.Contains(body, "https://papers.example/papers/"+paperID(0)) || strings.Contains(body, "/v1/") {
		t.Errorf("the digest's papers do not link to their pages:\n%s", body)
	}
	for _, m := range smtp.Messages() {
		if m.To[0] == "pending@example.org" && strings.Contains(string(m.Data), "Trending papers") {
			t.Error("an unconfirmed address got a digest")
		}
	}
	// Again: nothing more.
	n := len(smtp.Messages())
	if r := send(); r.GetSent() != 0 || len(smtp.Messages()) != n {
		t.Errorf("second send: %v, %d mails (was %d)", r, len(smtp.Messages()), n)
	}
	// Unsubscribed with the digest's own link: the next edition sends nothing.
	if _, err := sc.Unsubscribe(ctx, &subscriptionv1.UnsubscribeRequest{Token: digestLinks["/unsubscribe"]}); err != nil {
		t.Fatal(err)
	}
	edition = day.AddDate(0, 0, 1).Format(time.DateOnly)
	if r := send(); r.GetSent() != 0 || len(smtp.Messages()) != n {
		t.Errorf("after unsubscribe: %v", r)
	}
}

// TestPagesConfirmAndOneClickUnsubscribe drives the pages over plain HTTP: GET
// changes nothing, the button's POST confirms, a cross-site POST is refused, and
// the RFC 8058 one-click POST unsubscribes.
func TestPagesConfirmAndOneClickUnsubscribe(t *testing.T) {
	t.Parallel()
	ts, smtp, _ := startWithSMTP(t, nil)
	ctx := testCtx(t)
	sc := subscriptionv1.NewSubscriptionServiceClient(ts.conn)
	if _, err := sc.CreateSubscription(ctx, &subscriptionv1.CreateSubscriptionRequest{Subscription: &subscriptionv1.Subscription{
		Email: "ada@example.org"}}); err != nil {
		t.Fatal(err)
	}
	links, _, _ := mailLinks(t, smtp, "ada@example.org")
	confirm, manage := links["/subscriptions/confirm"], links["/subscriptions/manage"]
	do := func(method, path string, body string, header map[string]string) (int, string, http.Header) {
		t.Helper()
		return formRequest(t, method, ts.base+path, body, header)
	}
	state := func() subscriptionv1.Subscription_State {
		t.Helper()
		list, err := sc.ListSubscriptions(admin(ctx), &subscriptionv1.ListSubscriptionsRequest{})
		if err != nil || len(list.GetSubscriptions()) != 1 {
			t.Fatalf("list: %v %v", list, err)
		}
		return list.GetSubscriptions()[0].GetState()
	}
	code, html, hdr := do("GET", "/subscriptions/confirm?token="+confirm, "", nil)
	if code != 200 || !strings.Contains(html, `<button type="submit" name="action" value="confirm"`) || state() != subscriptionv1.Subscription_STATE_PENDING {
		t.Fatalf("GET confirm: %d, state %v\n%s", code, state(), html)
	}
	if hdr.Get("Content-Security-Policy") == "" || hdr.Get("X-Content-Type-Options") != "nosniff" || hdr.Get("X-Frame-Options") != "DENY" {
		t.Errorf("security headers: %v", hdr)
	}
	code, _, _ = do("POST", "/subscriptions/confirm", "token="+confirm, map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
	if code != http.StatusForbidden || state() != subscriptionv1.Subscription_STATE_PENDING {
		t.Errorf("a cross-site POST: %d, state %v", code, state())
	}
	code, html, _ = do("POST", "/subscriptions/confirm", "token="+confirm, map[string]string{"Sec-Fetch-Site": "same-origin"})
	if code != 200 || !strings.Contains(html, "Subscription confirmed") || state() != subscriptionv1.Subscription_STATE_ACTIVE {
		t.Fatalf("POST confirm: %d, state %v\n%s", code, state(), html)
	}
	code, html, _ = do("GET", "/subscriptions/manage?token="+manage, "", nil)
	if code != 200 || !strings.Contains(html, "ada@example.org") {
		t.Errorf("manage page: %d\n%s", code, html)
	}
	code, _, _ = do("POST", "/unsubscribe?token="+manage, "List-Unsubscribe=One-Click", nil)
	if code != 200 || state() != subscriptionv1.Subscription_STATE_UNSUBSCRIBED {
		t.Errorf("one-click: %d, state %v", code, state())
	}
	if code, _, _ := do("GET", "/unsubscribe?token=nope", "", nil); code != 200 {
		t.Errorf("GET unsubscribe with a bad token still shows the page: %d", code)
	}
	if code, _, _ := do("POST", "/unsubscribe?token=nope", "List-Unsubscribe=One-Click", nil); code != 404 {
		t.Errorf("one-click with a bad token: %d", code)
	}
}

// TestSchedulerSendsOnceAcrossReplicas runs two replicas on one database, each
// with the scheduler on; a subscriber whose hour has come gets exactly one
// digest, however many rounds both schedulers run after it, and while the
// lease goes from slot to slot.
func TestSchedulerSendsOnceAcrossReplicas(t *testing.T) {
	t.Parallel()
	first, smtp, cfg := startWithSMTP(t, func(c *server.Config) { c.DigestInterval = 100 * time.Millisecond })
	cfg2 := testConfig(t)
	cfg2.SMTPURL, cfg2.DigestInterval, cfg2.MongoURI = cfg.SMTPURL, cfg.DigestInterval, first.DatabaseURI()
	second := startServer(t, cfg2)
	ctx := testCtx(t)
	clk, zone := testClock(t), clocktest.Zone(t)
	// The edition sent at hour 0 in the subscriber's zone covers the day before.
	p := newPaper(1)
	p.SubmitTime = timestamppb.New(localMidnight(clk.Now(), zone).Add(-time.Hour))
	if _, err := first.client.CreatePaper(admin(ctx), &catalogv1.CreatePaperRequest{PaperId: paperID(1), Paper: p}); err != nil {
		t.Fatal(err)
	}
	sc := subscriptionv1.NewSubscriptionServiceClient(second.conn)
	hour := int32(0)
	if _, err := sc.CreateSubscription(ctx, &subscriptionv1.CreateSubscriptionRequest{Subscription: &subscriptionv1.Subscription{
		Email: "ada@example.org", SendHour: &hour, Weekdays: []subscriptionv1.Subscription_Weekday{1, 2, 3, 4, 5, 6, 7},
		TimeZone: zone.String()}}); err != nil {
		t.Fatal(err)
	}
	links, _, _ := mailLinks(t, smtp, "ada@example.org")
	if _, err := sc.ConfirmSubscription(ctx, &subscriptionv1.ConfirmSubscriptionRequest{Token: links["/subscriptions/confirm"]}); err != nil {
		t.Fatal(err)
	}
	digests := func() int {
		n := 0
		for _, m := range smtp.Messages() {
			if strings.Contains(string(m.Data), "Message-ID: <digest.") {
				n++
			}
		}
		return n
	}
	eventually(t, "a scheduled digest", func() bool { return digests() >= 1 })
	// Both schedulers run rounds after it, the clock moving on by an interval
	// before each, so that the lease (slots of three intervals) changes slot
	// twice.
	for range 6 {
		clk.Advance(cfg.DigestInterval)
		awaitSchedulerRounds(t, 1, first, second)
	}
	if n := digests(); n != 1 {
		t.Errorf("%d digests, want exactly 1", n)
	}
}

// TestHomePage shows today's papers (escaped), the search page its results,
// and the subscribe form mails a confirmation.
func TestHomePage(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	ts := startServer(t, cfg)
	ctx := testCtx(t)
	p := newPaper(1)
	p.Title = `Zeppelins <script>alert("x")</script> fly`
	p.SubmitTime = timestamppb.New(testClock(t).Now())
	if _, err := ts.client.CreatePaper(admin(ctx), &catalogv1.CreatePaperRequest{PaperId: paperID(1), Paper: p}); err != nil {
		t.Fatal(err)
	}
	get := func(path string) string {
		t.Helper()
		resp, err := http.Get(ts.base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Security-Policy") == "" {
			t.Fatalf("%s: %d %v", path, resp.StatusCode, resp.Header)
		}
		return string(b)
	}
	home := get("/")
	if !strings.Contains(home, `id="daily"`) || !strings.Contains(home, "Zeppelins &lt;script&gt;") || strings.Contains(home, "<script>") ||
		!strings.Contains(home, `action="/subscribe"`) {
		t.Errorf("home:\n%s", home)
	}
	eventually(t, "search on the search page", func() bool {
		return strings.Contains(get("/search?q=zeppelins"), `<a href="/papers/`+paperID(1)+`">`)
	})
	// The home page's old search links go to the search page.
	if page := get("/?q=zeppelins"); !strings.Contains(page, `<a href="/papers/`+paperID(1)+`">`) || !strings.Contains(page, `id="results"`) {
		t.Errorf("/?q=zeppelins:\n%s", page)
	}
	resp, err := http.PostForm(ts.base+"/subscribe", map[string][]string{"email": {"ada@example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "Check your inbox") {
		t.Fatalf("subscribe form: %d %s", resp.StatusCode, b)
	}
	eventually(t, "the confirmation in the outbox", func() bool {
		files, _ := filepath.Glob(filepath.Join(cfg.DataDir, "outbox", "*.eml"))
		return len(files) == 1
	})
}

// TestSubscribeFloodGets429WithRetryAfter floods subscribe from one client, over
// the API and then with the home page's form: 429 with Retry-After on both.
func TestSubscribeFloodGets429WithRetryAfter(t *testing.T) {
	t.Parallel()
	ts := startServer(t, testConfig(t))
	var last restResponse
	for i := range 7 {
		last = ts.rest(t, "POST", "/v1/subscriptions", "", map[string]any{"email": fmt.Sprintf("u%d@example.org", i)})
	}
	if last.Status != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" {
		t.Errorf("the 7th subscribe from one client: %d, Retry-After %q, %s", last.Status, last.Header.Get("Retry-After"), last.Raw)
	}
	// The home page's form, from the same client: the same 429, with a number
	// of seconds to wait.
	code, html, hdr := formRequest(t, "POST", ts.base+"/subscribe", "email=u9%40example.org", nil)
	if secs, err := strconv.Atoi(hdr.Get("Retry-After")); code != http.StatusTooManyRequests || err != nil || secs < 1 {
		t.Errorf("the form after the flood: %d, Retry-After %q\n%s", code, hdr.Get("Retry-After"), html)
	}
}

// startWithSMTP starts paperd sending mail to a test SMTP server; edit changes
// the configuration first.
func startWithSMTP(t *testing.T, edit func(*server.Config)) (*testServer, *smtptest.Server, server.Config) {
	t.Helper()
	smtp := smtptest.New(t)
	cfg := testConfig(t)
	cfg.SMTPURL = smtp.URL()
	if edit != nil {
		edit(&cfg)
	}
	return startServer(t, cfg), smtp, cfg
}
