package server_test

import (
	"context"
	"os"
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
