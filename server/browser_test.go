package server_test

import (
	"context"
	"fmt"
	"os"
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
