package server_test

import (
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/papercatalog/papers/auth"
	"github.com/papercatalog/papers/clock/clocktest"
	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	subscriptionv1 "github.com/papercatalog/papers/gen/papers/subscription/v1"
	"github.com/papercatalog/papers/mailer/smtptest"
	"github.com/papercatalog/papers/server"
)

// mailsTo counts the accepted messages to addr whose data contains part.
func mailsTo(smtp *smtptest.Server, addr, part string) int {
	n := 0
	for _, m := range smtp.Messages() {
		if m.To[0] == addr && strings.Contains(string(m.Data), part) {
			n++
		}
	}
	return n
}

// TestDeliveredLinksSurviveANewManageLink delivers a digest, then has someone
// ask for a new manage link for the address (anyone can): the manage link of
// the confirmation mail and of the digest, and the digest's RFC 8058 one-click
// unsubscribe, still work.
func TestDeliveredLinksSurviveANewManageLink(t *testing.T) {
	t.Parallel()
	ts, smtp, _ := startWithSMTP(t, nil)
	ctx := testCtx(t)
	sc := subscriptionv1.NewSubscriptionServiceClient(ts.conn)
	clk, zone := testClock(t), clocktest.Zone(t)
	// Yesterday's edition (at 08:00 in the subscriber's zone) lists this paper.
	day := localMidnight(clk.Now(), zone).AddDate(0, 0, -1)
	p := newPaper(1)
	p.SubmitTime = timestamppb.New(time.Date(day.Year(), day.Month(), day.Day(), 7, 0, 0, 0, zone))
	if _, err := ts.client.CreatePaper(admin(ctx), &catalogv1.CreatePaperRequest{PaperId: paperID(1), Paper: p}); err != nil {
		t.Fatal(err)
	}
	const ada = "ada@example.org"
	if _, err := sc.CreateSubscription(ctx, &subscriptionv1.CreateSubscriptionRequest{Subscription: &subscriptionv1.Subscription{
		Email: ada, Weekdays: []subscriptionv1.Subscription_Weekday{1, 2, 3, 4, 5, 6, 7}, TimeZone: zone.String()}}); err != nil {
		t.Fatal(err)
	}
	confirmation, _, _ := mailLinks(t, smtp, ada)
	if _, err := sc.ConfirmSubscription(ctx, &subscriptionv1.ConfirmSubscriptionRequest{Token: confirmation["/subscriptions/confirm"]}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the digest", func() bool {
		r, err := sc.SendDigests(admin(ctx), &subscriptionv1.SendDigestsRequest{Edition: day.Format(time.DateOnly)})
		return err == nil && r.GetSent() == 1
	})
	digest, raw, _ := mailLinks(t, smtp, ada)
	_, header, ok := strings.Cut(raw, "List-Unsubscribe: <")
	oneClick, _, _ := strings.Cut(header, ">")
	u, err := url.Parse(oneClick)
	if !ok || err != nil || u.Query().Get("token") == "" || digest["/subscriptions/manage"] == "" {
		t.Fatalf("the digest's links: %q %v %v", oneClick, digest, err)
	}

	// Ten minutes on, a stranger asks for a manage link for the address.
	clk.Advance(11 * time.Minute)
	before := len(smtp.Messages())
	if _, err := sc.SendManageLink(ctx, &subscriptionv1.SendManageLinkRequest{Email: ada}); err != nil {
		t.Fatal(err)
	}
	if n := len(smtp.Messages()); n != before+1 {
		t.Fatalf("%d mails after SendManageLink, want %d", n, before+1)
	}
	fresh, _, _ := mailLinks(t, smtp, ada)
	for what, tok := range map[string]string{"the confirmation mail's": confirmation["/subscriptions/manage"],
		"the digest's": digest["/subscriptions/manage"], "the new mail's": fresh["/subscriptions/manage"]} {
		if code, html, _ := formRequest(t, "GET", ts.base+"/subscriptions/manage?token="+url.QueryEscape(tok), "", nil); code != 200 || !strings.Contains(html, ada) {
			t.Errorf("%s manage link: %d\n%s", what, code, html)
		}
	}
	// The mail client's one-click POST (RFC 8058), to the digest's own URL.
	if code, html, _ := formRequest(t, "POST", ts.base+u.RequestURI(), "List-Unsubscribe=One-Click", nil); code != 200 || !strings.Contains(html, "Unsubscribed") {
		t.Fatalf("one-click unsubscribe of the digest: %d\n%s", code, html)
	}
	list, err := sc.ListSubscriptions(admin(ctx), &subscriptionv1.ListSubscriptionsRequest{})
	if err != nil || len(list.GetSubscriptions()) != 1 || list.GetSubscriptions()[0].GetState() != subscriptionv1.Subscription_STATE_UNSUBSCRIBED {
		t.Errorf("after the one-click: %v %v", list, err)
	}
}

// TestConfirmationMailAfterSMTPOutage subscribes while the mail server is down
// (503), and again once it is back, within the 10 minutes one mail per address
// allows: the confirmation mail goes out then. The same for a manage link.
func TestConfirmationMailAfterSMTPOutage(t *testing.T) {
	t.Parallel()
	ts, smtp, _ := startWithSMTP(t, func(c *server.Config) { c.SubscribeRateLimit = auth.RateLimit{Off: true} })
	ctx := testCtx(t)
	sc := subscriptionv1.NewSubscriptionServiceClient(ts.conn)
	const ada, alan = "ada@example.org", "alan@example.org"
	subscribe := func(email string) error {
		_, err := sc.CreateSubscription(ctx, &subscriptionv1.CreateSubscriptionRequest{Subscription: &subscriptionv1.Subscription{Email: email}})
		return err
	}
	if err := subscribe(alan); err != nil { // an address with a subscription, for the manage link
		t.Fatal(err)
	}
	testClock(t).Advance(11 * time.Minute) // alan may be mailed again
	smtp.Close()
	if err := subscribe(ada); status.Code(err) != codes.Unavailable {
		t.Fatalf("subscribe with the mail server down: %v, want Unavailable", err)
	}
	if _, err := sc.SendManageLink(ctx, &subscriptionv1.SendManageLinkRequest{Email: alan}); status.Code(err) != codes.Unavailable {
		t.Fatalf("a manage link with the mail server down: %v, want Unavailable", err)
	}
	back, err := smtptest.StartAt(smtp.Addr, "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	if err := subscribe(ada); err != nil {
		t.Fatal(err)
	}
	if n := mailsTo(back, ada, "Subject: Confirm your trending-papers subscription"); n != 1 {
		t.Errorf("%d confirmation mails after the mail server came back, want 1", n)
	}
	links, _, _ := mailLinks(t, back, ada)
	if _, err := sc.ConfirmSubscription(ctx, &subscriptionv1.ConfirmSubscriptionRequest{Token: links["/subscriptions/confirm"]}); err != nil {
		t.Errorf("the mailed confirmation link: %v", err)
	}
	if _, err := sc.SendManageLink(ctx, &subscriptionv1.SendManageLinkRequest{Email: alan}); err != nil {
		t.Fatal(err)
	}
	if n := mailsTo(back, alan, "Subject: Your link to manage"); n != 1 {
		t.Errorf("%d manage-link mails after the mail server came back, want 1", n)
	}
}

// TestConcurrentSubscribesOfOneAddressMailOnce sends 12 subscribes of one
// address at once: exactly one confirmation mail; the same ten minutes later,
// when the pending subscription's confirmation is renewed. Then 12 at once for another
// address whose first mail the server refuses: the mail is not lost, one of
// the others sends it, and every call answers either 503 (the refused one) or
// 200.
func TestConcurrentSubscribesOfOneAddressMailOnce(t *testing.T) {
	t.Parallel()
	ts, smtp, _ := startWithSMTP(t, func(c *server.Config) { c.SubscribeRateLimit = auth.RateLimit{Off: true} })
	ctx := testCtx(t)
	sc := subscriptionv1.NewSubscriptionServiceClient(ts.conn)
	const clients = 12
	subscribeAll := func(email string) []codes.Code {
		t.Helper()
		var wg sync.WaitGroup
		start := make(chan struct{})
		out := make([]codes.Code, clients)
		for i := range clients {
			wg.Go(func() {
				<-start
				_, err := sc.CreateSubscription(ctx, &subscriptionv1.CreateSubscriptionRequest{Subscription: &subscriptionv1.Subscription{Email: email}})
				out[i] = status.Code(err)
			})
		}
		close(start)
		wg.Wait()
		return out
	}
	const confirm = "Subject: Confirm your trending-papers subscription"
	// A new address, then (eleven minutes on) the same pending address again.
	for round := 1; round <= 2; round++ {
		for i, c := range subscribeAll("ada@example.org") {
			if c != codes.OK {
				t.Errorf("round %d, call %d: %v", round, i, c)
			}
		}
		if n := mailsTo(smtp, "ada@example.org", confirm); n != round {
			t.Fatalf("%d confirmation mails after round %d of 12 concurrent subscribes, want %d", n, round, round)
		}
		testClock(t).Advance(11 * time.Minute)
	}

	// The server keeps each confirmation mail waiting: it refuses the first and
	// takes the second.
	held := smtp.Hold(func(data []byte) bool { return strings.Contains(string(data), confirm) })
	done := make(chan []codes.Code, 1)
	go func() { done <- subscribeAll("alan@example.org") }()
	for _, accept := range []bool{false, true} {
		select {
		case <-held:
			smtp.Release(accept)
		case <-ctx.Done():
			t.Fatalf("no mail came to be accepted=%v: a caller was told a mail is on its way while none was", accept)
		}
	}
	codesSeen := map[codes.Code]int{}
	for _, c := range <-done {
		codesSeen[c]++
	}
	if codesSeen[codes.Unavailable] != 1 || codesSeen[codes.OK] != clients-1 {
		t.Errorf("answers %v, want one Unavailable and %d OK", codesSeen, clients-1)
	}
	if n := mailsTo(smtp, "alan@example.org", confirm); n != 1 {
		t.Errorf("%d confirmation mails, want 1", n)
	}
}
