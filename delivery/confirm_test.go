package delivery

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/papercatalog/papers/repository"
)

// TestConfirmationMailRefusedIsSentOnTheNextRequest: a confirmation the mail
// server refused returns ErrNotSent and takes its stamp back, so that the next
// request sends it at once; after that, one mail per address every 10
// minutes, and the manage link follows the same rule.
func TestConfirmationMailRefusedIsSentOnTheNextRequest(t *testing.T) {
	s, srv := newSender(t)
	m := &Mails{Subscriptions: s.Subscriptions, Mailer: s.Mailer, Log: s.Log, Links: s.Links, From: s.From, Clock: s.Clock}
	ctx := context.Background()
	srv.RefuseTemporarily("ada@example.org", true)
	if err := m.Subscribe(ctx, &repository.Subscription{Email: "ada@example.org"}); !errors.Is(err, ErrNotSent) {
		t.Fatalf("a refused confirmation: %v, want ErrNotSent", err)
	}
	srv.RefuseTemporarily("ada@example.org", false)
	if err := m.Subscribe(ctx, &repository.Subscription{Email: "ada@example.org"}); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Fatalf("%d mails after the second request, want the confirmation", n)
	}
	sub, err := s.Subscriptions.ByEmail(ctx, "ada@example.org")
	if err != nil || sub.State != repository.SubscriptionPending || sub.ManageHash != HashToken(m.Links.ManageToken(sub.ID, 0)) {
		t.Fatalf("stored %+v, %v; want pending, with the hash of its manage token", sub, err)
	}
	for _, send := range []func() error{
		func() error { return m.Subscribe(ctx, &repository.Subscription{Email: "ada@example.org"}) },
		func() error { return m.SendManageLink(ctx, "ada@example.org") },
	} {
		if err := send(); err != nil || len(srv.Messages()) != 1 {
			t.Errorf("within 10 minutes: %v, %d mails; want no new mail", err, len(srv.Messages()))
		}
	}
	fakeClock(s).Advance(11 * time.Minute)
	if err := m.SendManageLink(ctx, "ADA@example.org"); err != nil || len(srv.Messages()) != 2 {
		t.Errorf("the manage link 11 minutes later: %v, %d mails; want 2", err, len(srv.Messages()))
	}
}
