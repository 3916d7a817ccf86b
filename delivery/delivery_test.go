package delivery

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/papercatalog/papers/clock"
	"github.com/papercatalog/papers/clock/clocktest"
	"github.com/papercatalog/papers/mailer"
	"github.com/papercatalog/papers/mailer/smtptest"
	"github.com/papercatalog/papers/repository"
	"github.com/papercatalog/papers/repository/mongo"
	"github.com/papercatalog/papers/repository/mongo/mongotest"
)

// newSender returns a Sender over a database of its own and a real SMTP
// server on loopback, on a fake clock; its digests hold no paper until the
// test sets Papers.
func newSender(t *testing.T) (*Sender, *smtptest.Server) {
	t.Helper()
	db := mongotest.Open(t)
	smtp := smtptest.New(t)
	m, err := mailer.NewSMTP(smtp.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return &Sender{Subscriptions: mongo.NewSubscriptions(db), Deliveries: mongo.NewDeliveries(db), Mailer: m,
		Log: slog.New(slog.DiscardHandler), From: "Papers <digest@papers.example>",
		Links:    Links{PublicURL: "https://papers.example", TokenKey: []byte("0123456789abcdef0123456789abcdef")},
		Papers:   func(*repository.Subscription, time.Time) ([]*repository.Paper, error) { return nil, nil },
		PaperURL: func(p *repository.Paper) string { return "https://papers.example/papers/" + p.ID },
		Owner:    "sender-1", ClaimTimeout: time.Minute, JournalPath: filepath.Join(t.TempDir(), "digest-outcomes.journal"),
		Clock: clocktest.New(t)}, smtp
}

// fakeClock is the clock newSender gave s.
func fakeClock(s *Sender) *clock.Fake { return s.Clock.(*clock.Fake) }

// subscriber stores a subscription of addr in state, with every weekday, in
// the test's zone (PAPERS_TEST_ZONE, default UTC).
func subscriber(t *testing.T, s *Sender, addr string, state repository.SubscriptionState) *repository.Subscription {
	t.Helper()
	now := s.now()
	sub := &repository.Subscription{ID: strings.ReplaceAll(addr, "@", "-"), Email: addr, State: state, Frequency: "daily",
		Weekdays: []time.Weekday{0, 1, 2, 3, 4, 5, 6}, TimeZone: clocktest.Zone(t).String(), MaxPapers: 10,
		CreateTime: now, UpdateTime: now, ConfirmExpires: now.Add(confirmValidity), Version: 1}
	if state == repository.SubscriptionActive {
		sub.ConfirmTime, sub.ConfirmExpires = now, time.Time{}
	}
	if err := s.Subscriptions.Create(context.Background(), sub); err != nil {
		t.Fatal(err)
	}
	return sub
}

func digestsTo(srv *smtptest.Server, addr string) int {
	n := 0
	for _, m := range srv.Messages() {
		if m.To[0] == addr && strings.Contains(string(m.Data), "Message-ID: <digest.") {
			n++
		}
	}
	return n
}

// TestDigestSurvivesASenderThatDiedAndAMailServerThatRefuses: a delivery claimed
// by a sender that died before sending is taken over once its claim is stale and
// sent exactly once; a mail server refusing for a while delays the digest
// without losing or doubling it.
func TestDigestSurvivesASenderThatDiedAndAMailServerThatRefuses(t *testing.T) {
	s, srv := newSender(t)
	ctx := context.Background()
	paper := &repository.Paper{ID: "2401.00001", Title: "A paper", Authors: []repository.Author{{Name: "Ada"}}}
	s.Papers = func(*repository.Subscription, time.Time) ([]*repository.Paper, error) {
		return []*repository.Paper{paper}, nil
	}
	s.Owner, s.ClaimTimeout = "sender-2", 200*time.Millisecond
	clk := fakeClock(s)
	ada := subscriber(t, s, "ada@example.org", repository.SubscriptionActive)
	busy := subscriber(t, s, "busy@example.org", repository.SubscriptionActive)
	// Today's edition in the subscribers' zone.
	y, m, d := clk.Now().In(clocktest.Zone(t)).Date()
	day := time.Date(y, m, d, 0, 0, 0, 0, clocktest.Zone(t))
	edition := day.Format(time.DateOnly)
	// Sender 1 claimed ada's delivery, then died before sending.
	claim := &repository.Delivery{SubscriptionID: ada.ID, Edition: edition, State: repository.DeliveryClaimed,
		Owner: "sender-1", ClaimTime: clk.Now().UTC(), Version: 1}
	if stored, err := s.Deliveries.Insert(ctx, []*repository.Delivery{claim}); err != nil || !stored[0] {
		t.Fatalf("sender 1's claim: %v %v", stored, err)
	}
	srv.RefuseTemporarily("busy@example.org", true)
	r, err := s.Send(ctx, day, false, nil)
	if err != nil || r.Sent != 0 || r.Skipped != 1 || r.Failed != 1 {
		t.Fatalf("while sender 1's claim is fresh and busy refuses: %+v %v", r, err)
	}
	clk.Advance(300 * time.Millisecond) // sender 1's claim is stale now
	srv.RefuseTemporarily("busy@example.org", false)
	if r, err := s.Send(ctx, day, false, nil); err != nil || r.Sent != 1 {
		t.Fatalf("after the claim went stale: %+v %v", r, err)
	}
	if n := digestsTo(srv, "ada@example.org"); n != 1 {
		t.Errorf("ada got %d digests, want 1", n)
	}
	// busy's retry is due after its backoff (a minute): not yet, not even for
	// the scheduler (whatever it finds due now, in today's edition).
	if n := digestsTo(srv, "busy@example.org"); n != 0 {
		t.Errorf("busy got %d digests before its retry was due", n)
	}
	r, err = s.SendDue(ctx, clk.Now())
	if err != nil || digestsTo(srv, "busy@example.org") != 0 || digestsTo(srv, "ada@example.org") != 1 {
		t.Errorf("before the backoff ended: %+v %v", r, err)
	}
	records, err := s.Deliveries.Edition(ctx, edition)
	if err != nil {
		t.Fatal(err)
	}
	if d := records[busy.ID]; d == nil || d.State != repository.DeliveryRetry || d.Attempts != 1 || !d.NextAttempt.Equal(d.DoneTime.Add(time.Minute)) {
		t.Fatalf("busy's delivery: %+v, want a retry a minute after its attempt", d)
	}
	// A minute later, the retry goes out, once; nothing more for anyone.
	clk.Advance(time.Minute)
	if r, err := s.Send(ctx, day, false, nil); err != nil || r.Sent != 1 || digestsTo(srv, "busy@example.org") != 1 {
		t.Fatalf("the retry: %+v %v", r, err)
	}
	if r, err := s.Send(ctx, day, false, nil); err != nil || r.Sent != 0 || digestsTo(srv, "ada@example.org") != 1 || digestsTo(srv, "busy@example.org") != 1 {
		t.Errorf("a rerun: %+v %v", r, err)
	}
	if s.Stats.Sent.Load() != 2 || s.Stats.Failed.Load() != 1 {
		t.Errorf("stats: %d sent, %d failed; want 2, 1", s.Stats.Sent.Load(), s.Stats.Failed.Load())
	}
}

// TestDryRunSendsNothing: a dry run counts the digests due without sending
// or recording any.
func TestDryRunSendsNothing(t *testing.T) {
	s, srv := newSender(t)
	ctx := context.Background()
	s.Papers = func(*repository.Subscription, time.Time) ([]*repository.Paper, error) {
		return []*repository.Paper{{ID: "2401.00001", Title: "A paper"}}, nil
	}
	subscriber(t, s, "ada@example.org", repository.SubscriptionActive)
	subscriber(t, s, "pending@example.org", repository.SubscriptionPending)
	day := localDay(&repository.Subscription{TimeZone: clocktest.Zone(t).String()}, fakeClock(s).Now())
	r, err := s.Send(ctx, day, true, nil)
	if err != nil || r.Sent != 1 || r.Failed != 0 {
		t.Errorf("dry run: %+v %v, want one digest counted", r, err)
	}
	records, err := s.Deliveries.Edition(ctx, day.Format(time.DateOnly))
	if n := len(srv.Messages()); n != 0 || err != nil || len(records) != 0 {
		t.Errorf("after a dry run: %d mails, %d records (%v); want none", n, len(records), err)
	}
}

func TestPendingSubscriptionsLapse(t *testing.T) {
	s, _ := newSender(t)
	ctx := context.Background()
	subscriber(t, s, "late@example.org", repository.SubscriptionPending)
	now := fakeClock(s).Now()
	if _, err := s.SendDue(ctx, now.Add(6*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Subscriptions.ByEmail(ctx, "late@example.org"); err != nil {
		t.Fatalf("lapsed too early: %v", err)
	}
	if _, err := s.SendDue(ctx, now.Add(8*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Subscriptions.ByEmail(ctx, "late@example.org"); !errors.Is(err, repository.ErrNotFound) {
		t.Errorf("after 8 days: %v", err)
	}
}

func TestClaimable(t *testing.T) {
	now := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)
	stale := 5 * time.Minute
	for _, c := range []struct {
		name string
		cur  *repository.Delivery
		want bool
	}{
		{"no record yet", nil, true},
		{"a fresh claim (its sender may be sending now)", &repository.Delivery{State: repository.DeliveryClaimed, ClaimTime: now.Add(-time.Minute)}, false},
		{"a claim whose sender went away", &repository.Delivery{State: repository.DeliveryClaimed, ClaimTime: now.Add(-6 * time.Minute)}, true},
		{"a retry not due yet", &repository.Delivery{State: repository.DeliveryRetry, NextAttempt: now.Add(time.Second)}, false},
		{"a retry due", &repository.Delivery{State: repository.DeliveryRetry, NextAttempt: now}, true},
		{"sent", &repository.Delivery{State: repository.DeliverySent, ClaimTime: now.Add(-24 * time.Hour)}, false},
		{"failed for good", &repository.Delivery{State: repository.DeliveryFailed, ClaimTime: now.Add(-24 * time.Hour)}, false},
		{"nothing to send", &repository.Delivery{State: repository.DeliveryEmpty, ClaimTime: now.Add(-24 * time.Hour)}, false},
	} {
		if got := claimable(c.cur, now, stale); got != c.want {
			t.Errorf("%s: claimable %v, want %v", c.name, got, c.want)
		}
	}
}
