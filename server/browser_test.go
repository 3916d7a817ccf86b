package server_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
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

// TestBrowserSubscribeConfirmManageUnsubscribe is the subscriber's whole
// walk, in a real browser, with the real mails on a loopback SMTP server:
// subscribe on the subscribe page (a bad time zone first: the page says why
// in a sentence next to the field and keeps what was typed); the manage page
// before confirming says it is not confirmed; open the mailed link (which
// changes nothing) and press Confirm; the link then says it is confirmed
// already; on the manage page set every preference, save, reload and see
// them kept, and read them back through the API; a bad value is refused in a
// sentence; Unsubscribe ends it. The one-click unsubscribe of mail clients is
// TestPagesConfirmAndOneClickUnsubscribe.
func TestBrowserSubscribeConfirmManageUnsubscribe(t *testing.T) {
	t.Parallel()
	ts, smtp, _ := startWithSMTP(t, nil)
	browser := newBrowser(t)
	ctx, cancel := context.WithTimeout(browser, 2*time.Minute)
	defer cancel()
	// A missing element fails in seconds, not at the test's deadline.
	quick := func() context.Context {
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		t.Cleanup(cancel)
		return c
	}
	text := func(id string) string {
		t.Helper()
		s, err := chromedp.Run(quick(), chromedp.Text(chromedp.ID(id)))
		if err != nil {
			t.Fatalf("text of #%s: %v", id, err)
		}
		return s
	}
	value := func(id string) string {
		t.Helper()
		s, err := chromedp.Run(quick(), chromedp.Value(chromedp.ID(id)))
		if err != nil {
			t.Fatalf("value of #%s: %v", id, err)
		}
		return s
	}
	checked := func(id string) bool {
		t.Helper()
		on, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById(`+strconv.Quote(id)+`).checked`))
		if err != nil {
			t.Fatalf("checked of #%s: %v", id, err)
		}
		return on
	}
	press := func(id string) {
		t.Helper()
		if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.ID(id))); err != nil {
			t.Fatalf("press #%s: %v", id, err)
		}
	}
	navigate := func(u string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(u)); err != nil {
			t.Fatal(err)
		}
	}

	// The subscribe box leads to the page with every choice.
	navigate(ts.base + "/")
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.ID("subscribe-more"))); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("email"), "ada@example.org"),
		chromedp.SetValue(chromedp.ID("time_zone"), "Mars/Olympus")); err != nil {
		t.Fatal(err)
	}
	press("save")
	if got := text("time_zone-error"); got != `The time zone: "Mars/Olympus" is not an IANA time zone such as Europe/Paris.` {
		t.Errorf("the time zone's sentence: %q", got)
	}
	if p := text("problem"); !strings.Contains(p, "One value needs a change") {
		t.Errorf("the form's summary: %q", p)
	}
	if value("email") != "ada@example.org" || value("time_zone") != "Mars/Olympus" {
		t.Errorf("the refused form lost what was typed: %q, %q", value("email"), value("time_zone"))
	}
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("time_zone"), "Europe/Paris")); err != nil {
		t.Fatal(err)
	}
	press("save")
	if title := text("title"); title != "Check your inbox" {
		t.Fatalf("after subscribing: %q", title)
	}
	links, _, _ := mailLinks(t, smtp, "ada@example.org")
	confirmURL := ts.base + "/subscriptions/confirm?token=" + links["/subscriptions/confirm"]
	manageURL := ts.base + "/subscriptions/manage?token=" + links["/subscriptions/manage"]
	sc := subscriptionv1.NewSubscriptionServiceClient(ts.conn)
	stored := func() *subscriptionv1.Subscription {
		t.Helper()
		list, err := sc.ListSubscriptions(admin(testCtx(t)), &subscriptionv1.ListSubscriptionsRequest{})
		if err != nil || len(list.GetSubscriptions()) != 1 {
			t.Fatalf("list: %v %v", list, err)
		}
		return list.GetSubscriptions()[0]
	}
	if tz := stored().GetTimeZone(); tz != "Europe/Paris" {
		t.Errorf("subscribed with time zone %q", tz)
	}

	// The subscription pages, each as a reader gets it, pass axe-core: the
	// full form, the manage page of a pending subscription, the confirm page,
	// the unsubscribe page and the page of a refusal (an unknown link).
	for _, u := range []string{ts.base + "/subscribe", manageURL, confirmURL,
		ts.base + "/unsubscribe?token=" + links["/subscriptions/manage"], ts.base + "/subscriptions/manage?token=unknown"} {
		checkAxe(t, ctx, u)
	}

	// Before confirming, the manage page says so.
	navigate(manageURL)
	if n := text("notice"); !strings.Contains(n, "not confirmed yet") || !strings.Contains(n, "ada@example.org") {
		t.Errorf("manage page of a pending subscription: %q", n)
	}
	navigate(confirmURL)
	if s := stored().GetState(); s != subscriptionv1.Subscription_STATE_PENDING {
		t.Fatalf("opening the link changed the state to %v", s)
	}
	press("confirm")
	if title := text("title"); title != "Subscription confirmed" {
		t.Fatalf("after Confirm: %q", title)
	}
	if s := stored().GetState(); s != subscriptionv1.Subscription_STATE_ACTIVE {
		t.Fatalf("state after Confirm: %v", s)
	}
	navigate(confirmURL)
	if title, msg := text("title"), text("message"); title != "Already confirmed" || !strings.Contains(msg, "ada@example.org") {
		t.Errorf("the used link: %q, %q", title, msg)
	}

	// Every preference, set on the manage page.
	navigate(manageURL)
	if n := text("notice"); n != "Digests go to ada@example.org." {
		t.Errorf("manage page of an active subscription: %q", n)
	}
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("query"), `diffusion -audio`),
		chromedp.SetValue(chromedp.ID("categories"), "cs.LG, cs.CV"),
		chromedp.SetValue(chromedp.ID("organizations"), "naver-ai"),
		chromedp.SetValue(chromedp.ID("min_upvotes"), "5"),
		chromedp.Click(chromedp.ID("frequency-weekly")),
		chromedp.Click(chromedp.ID("day-1")), // Monday off
		chromedp.Click(chromedp.ID("day-3")), // Wednesday off
		chromedp.Click(chromedp.ID("day-4")), // Thursday off
		chromedp.Click(chromedp.ID("day-5")), // Friday off
		chromedp.Click(chromedp.ID("day-6")), // Saturday on
		chromedp.SetValue(chromedp.ID("send_hour"), "17"),
		chromedp.SetValue(chromedp.ID("time_zone"), "Asia/Tokyo"),
		chromedp.SetValue(chromedp.ID("max_papers"), "25"),
	); err != nil {
		t.Fatal(err)
	}
	press("save")
	if msg := text("message"); !strings.HasPrefix(msg, "Saved.") {
		t.Fatalf("after Save: %q", msg)
	}
	navigate(manageURL)
	wantValues := map[string]string{"query": "diffusion -audio", "categories": "cs.LG, cs.CV", "organizations": "naver-ai",
		"min_upvotes": "5", "send_hour": "17", "time_zone": "Asia/Tokyo", "max_papers": "25"}
	for id, want := range wantValues {
		if got := value(id); got != want {
			t.Errorf("after reloading, %s is %q, want %q", id, got, want)
		}
	}
	wantChecked := map[string]bool{"frequency-weekly": true, "frequency-daily": false, "day-1": false, "day-2": true,
		"day-3": false, "day-4": false, "day-5": false, "day-6": true, "day-7": false}
	for id, want := range wantChecked {
		if got := checked(id); got != want {
			t.Errorf("after reloading, #%s checked: %v, want %v", id, got, want)
		}
	}
	sub := stored()
	if sub.GetQuery() != "diffusion -audio" || strings.Join(sub.GetCategories(), ",") != "cs.LG,cs.CV" ||
		strings.Join(sub.GetOrganizations(), ",") != "naver-ai" || sub.GetMinUpvotes() != 5 ||
		sub.GetFrequency() != subscriptionv1.Subscription_FREQUENCY_WEEKLY || sub.GetSendHour() != 17 ||
		sub.GetTimeZone() != "Asia/Tokyo" || sub.GetMaxPapers() != 25 || sub.GetEmail() != "ada@example.org" ||
		fmt.Sprint(sub.GetWeekdays()) != fmt.Sprint([]subscriptionv1.Subscription_Weekday{
			subscriptionv1.Subscription_WEEKDAY_TUESDAY, subscriptionv1.Subscription_WEEKDAY_SATURDAY}) {
		t.Errorf("stored after Save: %v", sub)
	}

	// A bad value: a sentence next to the field, the value kept, nothing stored.
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("max_papers"), "99"),
		chromedp.SetValue(chromedp.ID("query"), "zeppelins")); err != nil {
		t.Fatal(err)
	}
	press("save")
	if got := text("max_papers-error"); got != "The most papers a mail lists must be from 1 to 50." {
		t.Errorf("the refusal of 99 papers: %q", got)
	}
	if value("max_papers") != "99" || value("query") != "zeppelins" {
		t.Errorf("the refused form lost what was typed: %q, %q", value("max_papers"), value("query"))
	}
	if sub := stored(); sub.GetMaxPapers() != 25 || sub.GetQuery() != "diffusion -audio" {
		t.Errorf("a refused save changed the subscription: %v", sub)
	}

	press("unsubscribe")
	if title := text("title"); title != "Unsubscribed" {
		t.Errorf("after Unsubscribe: %q", title)
	}
	if s := stored().GetState(); s != subscriptionv1.Subscription_STATE_UNSUBSCRIBED {
		t.Errorf("state after Unsubscribe: %v", s)
	}
	navigate(manageURL)
	if n := text("notice"); !strings.Contains(n, "This subscription is ended") {
		t.Errorf("manage page of an ended subscription: %q", n)
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
