package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	subscriptionv1 "github.com/papercatalog/papers/gen/papers/subscription/v1"
)

// chromium is Debian's Chromium, which .ci/run installs.
const chromium = "/usr/bin/chromium"

// newBrowser starts headless Chromium. Without it the test is skipped, unless
// PAPERS_BROWSER_TEST=required (as .ci/run sets), when it fails.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("PAPERS_BROWSER_TEST") == "required" {
			t.Fatalf("chromium is required: %v", err)
		}
		t.Skip("chromium not installed (Debian package chromium)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-component-update", true))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // the browser lives as long as ctx
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// TestBrowserSubscribeAndConfirm is the start of the walk-through as a new
// user, in a real browser: subscribe on the home page, open the mailed link (which
// changes nothing) and press Confirm, then open the manage page. The digest and
// the one-click unsubscribe are TestDigestIsSentOnceToConfirmedSubscribers and
// TestPagesConfirmAndOneClickUnsubscribe.
func TestBrowserSubscribeAndConfirm(t *testing.T) {
	t.Parallel()
	ts, smtp, _ := startWithSMTP(t, nil)
	browser := newBrowser(t)
	ctx, cancel := context.WithTimeout(browser, time.Minute)
	defer cancel()

	if err := chromedp.Do(ctx, chromedp.Navigate(ts.base+"/"),
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "ada@example.org")); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.ID("subscribe"))); err != nil {
		t.Fatal(err)
	}
	if title, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("title"))); err != nil || title != "Check your inbox" {
		t.Fatalf("after subscribing: %q %v", title, err)
	}
	links, _, _ := mailLinks(t, smtp, "ada@example.org")
	confirmURL := ts.base + "/subscriptions/confirm?token=" + links["/subscriptions/confirm"]
	if err := chromedp.Do(ctx, chromedp.Navigate(confirmURL)); err != nil {
		t.Fatal(err)
	}
	sc := subscriptionv1.NewSubscriptionServiceClient(ts.conn)
	state := func() subscriptionv1.Subscription_State {
		list, err := sc.ListSubscriptions(admin(testCtx(t)), &subscriptionv1.ListSubscriptionsRequest{})
		if err != nil || len(list.GetSubscriptions()) != 1 {
			t.Fatalf("list: %v %v", list, err)
		}
		return list.GetSubscriptions()[0].GetState()
	}
	if s := state(); s != subscriptionv1.Subscription_STATE_PENDING {
		t.Fatalf("opening the link changed the state to %v", s)
	}
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.ID("confirm"))); err != nil {
		t.Fatal(err)
	}
	if title, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("title"))); err != nil || title != "Subscription confirmed" {
		t.Fatalf("after Confirm: %q %v", title, err)
	}
	if s := state(); s != subscriptionv1.Subscription_STATE_ACTIVE {
		t.Fatalf("state after Confirm: %v", s)
	}
	// The manage page in the browser shows the preferences.
	if err := chromedp.Do(ctx, chromedp.Navigate(ts.base+"/subscriptions/manage?token="+links["/subscriptions/manage"])); err != nil {
		t.Fatal(err)
	}
	if msg, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("message"))); err != nil || !strings.Contains(msg, "ada@example.org") {
		t.Errorf("manage page: %q %v", msg, err)
	}
}

// TestBrowserDailyPapers reads the daily papers of a seeded catalog in
// Chromium: today's cards with every field, previous and next across empty
// days, the week and month views, the time zone select (kept in a cookie), a
// card's title that opens the paper's page, a bad search that says why, and
// axe-core on each kind of list page.
func TestBrowserDailyPapers(t *testing.T) {
	t.Parallel()
	ts := startServer(t, testConfig(t))
	c := seedPages(t, ts)
	browser := newBrowser(t)
	ctx, cancel := context.WithTimeout(browser, 2*time.Minute)
	defer cancel()
	day := func(t time.Time) string { return t.Format(time.DateOnly) }
	// Each step gives up after a while: a missing element would make it
	// wait for the whole test's time.
	step := func() context.Context {
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		t.Cleanup(cancel)
		return sctx
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(step(), chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	location := func() string {
		t.Helper()
		u, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	click := func(sel string) {
		t.Helper()
		if _, err := chromedp.RunResponse(step(), chromedp.Click(chromedp.CSS(sel))); err != nil {
			t.Fatalf("click %s: %v", sel, err)
		}
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(ts.base+"/")); err != nil {
		t.Fatal(err)
	}
	// The cards as the browser built them, each field by its element.
	type shown struct {
		Title, Href, Abstract, Authors, Org, OrgHref, OrgName, Submitted, Upvotes, Github, Stars, Arxiv, PDF string
	}
	cards, err := chromedp.Run(ctx, chromedp.Evaluate[[]shown](`[...document.querySelectorAll("#daily > li.card")].map(li => {
		const q = s => li.querySelector(s), txt = s => q(s) ? q(s).textContent.trim() : "", href = s => q(s) ? q(s).href : "";
		return {Title: txt("h3 a"), Href: href("h3 a"), Abstract: txt(".abstract"), Authors: txt(".authors"), Org: txt(".org"),
			OrgHref: href(".org"), OrgName: txt(".org-name"), Submitted: q("time") ? q("time").dateTime : "", Upvotes: txt(".upvotes"),
			Github: href(".github"), Stars: txt(".stars"), Arxiv: href(".arxiv"), PDF: href(".pdf")};
	})`))
	if err != nil || len(cards) != 3 {
		t.Fatalf("today's cards: %+v %v", cards, err)
	}
	// PAPERS_SCREENSHOTS=dir keeps a picture of the page (docs/screenshots
	// holds one).
	if dir := os.Getenv("PAPERS_SCREENSHOTS"); dir != "" {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, "daily.png"), png, 0o644)
		}
		if err != nil {
			t.Errorf("screenshot: %v", err)
		}
	}
	top := cards[0]
	want := shown{Title: "Rethinking zeppelins for vision", Href: ts.base + "/papers/2401.00001",
		Authors: "5 authors: Ada Lovelace, Alan Turing, Grace Hopper and others", Org: "naver-ai", OrgHref: ts.base + "/organizations/naver-ai",
		OrgName: "NAVER AI Lab", Submitted: c.today.Add(time.Minute).Format(time.RFC3339), Upvotes: "▲ 50 upvotes",
		Github: "https://github.com/naver-ai/zeppelin", Stars: "★ 1,234 stars", Arxiv: "https://arxiv.org/abs/2401.00001", PDF: "https://arxiv.org/pdf/2401.00001"}
	want.Abstract = top.Abstract
	if top != want || !strings.HasPrefix(top.Abstract, "We study zeppelins.") || !strings.HasSuffix(top.Abstract, "…") {
		t.Errorf("the first card shows\n%+v\nwant\n%+v", top, want)
	}
	if cards[1].Title != "Small zeppelins" || cards[2].Org != "" || cards[2].Github != "" {
		t.Errorf("the other cards: %+v", cards[1:])
	}

	// Previous skips the two empty days; next comes back.
	click("#prev")
	if u := location(); u != ts.base+"/daily/"+day(c.threeAgo) || text("#period") != c.threeAgo.Format("Monday, January 2, 2006") ||
		text("#daily h3") != "Zeppelins of three days ago" {
		t.Errorf("previous: %s %q", u, text("#period"))
	}
	click("#next")
	if u := location(); u != ts.base+"/daily/"+day(c.today) {
		t.Errorf("next: %s", u)
	}
	click("#view-week")
	if u := location(); u != ts.base+"/daily/week/"+weekOf(c.today) || !strings.HasPrefix(text("#period"), "Week ") {
		t.Errorf("week: %s %q", u, text("#period"))
	}
	checkAxe(t, ctx, location())
	click("#view-month")
	if u := location(); u != ts.base+"/daily/month/"+c.today.Format("2006-01") || text("#period") != c.today.Format("January 2006") {
		t.Errorf("month: %s %q", u, text("#period"))
	}

	// A card's title opens the paper's page.
	if err := chromedp.Do(ctx, chromedp.Navigate(ts.base+"/")); err != nil {
		t.Fatal(err)
	}
	click("#daily li:first-child h3 a")
	if u := location(); u != ts.base+"/papers/2401.00001" {
		t.Errorf("the title opened %s", u)
	}

	// The time zone select; the cookie keeps the zone for the next visit.
	if err := chromedp.Do(ctx, chromedp.Navigate(ts.base+"/"), chromedp.SetValue(chromedp.ID("tz"), "Asia/Tokyo")); err != nil {
		t.Fatal(err)
	}
	click("#set-tz")
	if err := chromedp.Do(ctx, chromedp.Navigate(ts.base+"/")); err != nil {
		t.Fatal(err)
	}
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	if zone, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID("tz"))); err != nil || zone != "Asia/Tokyo" ||
		!strings.HasSuffix(text("#period"), testClock(t).Now().In(tokyo).Format("January 2, 2006")) {
		t.Errorf("after choosing Asia/Tokyo: %q %v, %q", zone, err, text("#period"))
	}

	// A search that cannot run says why, and not that nothing matches.
	if err := chromedp.Do(ctx, chromedp.Navigate(ts.base+"/search"), chromedp.SendKeys(chromedp.ID("q"), `"zeppelins of`)); err != nil {
		t.Fatal(err)
	}
	click("#search")
	if msg := text("#search-error"); !strings.Contains(msg, "quoted phrase is not closed") {
		t.Errorf("a bad search says %q", msg)
	}

	for _, path := range []string{"/", "/trending", "/search?q=zeppelins", "/search?q=zeppelins&organization=naver-ai", "/organizations/naver-ai"} {
		checkAxe(t, ctx, ts.base+path)
	}
}
