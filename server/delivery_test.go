package server_test

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/papercatalog/papers/clock/clocktest"
	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	subscriptionv1 "github.com/papercatalog/papers/gen/papers/subscription/v1"
	"github.com/papercatalog/papers/mailer/smtptest"
	"github.com/papercatalog/papers/server"
)

// TestFailedDigestOfAnEarlierEditionIsRetried has an admin send yesterday's
// edition while the mail server is away: once it is back, the scheduler sends
// it, once to each subscriber, though it is not today's edition.
func TestFailedDigestOfAnEarlierEditionIsRetried(t *testing.T) {
	t.Parallel()
	ts, smtp, _ := startWithSMTP(t, func(c *server.Config) {
		c.DigestInterval = 200 * time.Millisecond
		c.DigestRetry = 500 * time.Millisecond
	})
	ctx := longCtx(t)
	sc := subscriptionv1.NewSubscriptionServiceClient(ts.conn)
	clk, zone := testClock(t), clocktest.Zone(t)
	today := localMidnight(clk.Now(), zone)
	yesterday := today.AddDate(0, 0, -1)
	p := newPaper(1)
	p.SubmitTime = timestamppb.New(yesterday.Add(-6 * time.Hour)) // yesterday's edition lists the day before
	if _, err := ts.client.CreatePaper(admin(ctx), &catalogv1.CreatePaperRequest{PaperId: paperID(1), Paper: p}); err != nil {
		t.Fatal(err)
	}
	// Every weekday but today's, so that the scheduler has nothing of its own
	// to send today.
	var days []subscriptionv1.Subscription_Weekday
	for d := time.Sunday; d <= time.Saturday; d++ {
		if d != today.Weekday() {
			days = append(days, subscriptionv1.Subscription_Weekday((int(d)+6)%7+1))
		}
	}
	addrs := []string{"ada@example.org", "alan@example.org"}
	tokens := map[string]string{}
	for _, a := range addrs {
		if _, err := sc.CreateSubscription(ctx, &subscriptionv1.CreateSubscriptionRequest{Subscription: &subscriptionv1.Subscription{
			Email: a, Weekdays: days, SendHour: proto.Int32(0), TimeZone: zone.String()}}); err != nil {
			t.Fatal(err)
		}
		links, _, _ := mailLinks(t, smtp, a)
		tokens[a] = links["/subscriptions/confirm"]
	}
	for _, a := range addrs {
		if _, err := sc.ConfirmSubscription(ctx, &subscriptionv1.ConfirmSubscriptionRequest{Token: tokens[a]}); err != nil {
			t.Fatal(err)
		}
	}
	smtp.Close() // the mail server goes away
	r, err := sc.SendDigests(admin(ctx), &subscriptionv1.SendDigestsRequest{Edition: yesterday.Format(time.DateOnly)})
	if err != nil || r.GetFailed() != int64(len(addrs)) {
		t.Fatalf("sending yesterday's edition with the mail server away: %v %v; want %d failed", r, err, len(addrs))
	}
	back, err := smtptest.StartAt(smtp.Addr, "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	clk.Advance(500 * time.Millisecond) // the first retry is due
	onceEach(t, ts, back, addrs, yesterday.Format(time.DateOnly))
	if len(back.Messages()) != len(addrs) {
		t.Errorf("the mail server got %d mails, want %d", len(back.Messages()), len(addrs))
	}
}

// onceEach waits until the mail server holds a digest of edition ("": any) for
// each address, waits for three more rounds of ts's digest scheduler, and
// checks that each got exactly one.
func onceEach(t *testing.T, ts *testServer, srv *smtptest.Server, addrs []string, edition string) {
	t.Helper()
	digests := func(a string) int {
		n := 0
		for _, m := range srv.Messages() {
			if m.To[0] == a && strings.Contains(string(m.Data), "Message-ID: <digest."+edition) {
				n++
			}
		}
		return n
	}
	eventually30(t, "a digest for every subscriber", func() bool {
		for _, a := range addrs {
			if digests(a) == 0 {
				return false
			}
		}
		return true
	})
	awaitSchedulerRounds(t, 3, ts)
	for _, a := range addrs {
		if n := digests(a); n != 1 {
			t.Errorf("%s got %d digests of edition %q, want 1", a, n, edition)
		}
	}
}
