package subscribe

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/papercatalog/papers/clock"
	"github.com/papercatalog/papers/clock/clocktest"
	"github.com/papercatalog/papers/delivery"
	"github.com/papercatalog/papers/repository"
	"github.com/papercatalog/papers/repository/mongo"
	"github.com/papercatalog/papers/repository/mongo/mongotest"
)

// newBook returns a Book over a real (embedded) database opened as paperd
// opens it (its only client, whose conditional writes are made atomic in the
// process: FerretDB does not apply a filter's condition atomically), with a
// fake clock.
func newBook(t *testing.T) (*Book, *clock.Fake) {
	t.Helper()
	db := mongotest.Open(t, mongo.Exclusive(), mongo.InProcess())
	clk := clocktest.New(t)
	return &Book{Store: mongo.NewSubscriptions(db), Clock: clk}, clk
}

// pending stores a pending subscription of addr and returns it with its
// confirmation and manage tokens.
func pending(t *testing.T, b *Book, id, addr string) (sub *repository.Subscription, confirm, manage string) {
	t.Helper()
	confirm, confirmHash := delivery.NewToken()
	manage, manageHash := delivery.NewToken()
	now := b.now()
	sub = &repository.Subscription{ID: id, Email: addr, State: repository.SubscriptionPending, Frequency: "daily",
		SendHour: 8, TimeZone: "UTC", MaxPapers: 10, CreateTime: now, UpdateTime: now,
		ConfirmHash: confirmHash, ConfirmExpires: now.Add(7 * 24 * time.Hour), ManageHash: manageHash, Version: 1}
	if err := b.Store.Create(context.Background(), sub); err != nil {
		t.Fatal(err)
	}
	return sub, confirm, manage
}

func TestConfirmWorksOnceAndNotAfterItExpires(t *testing.T) {
	t.Parallel()
	b, clk := newBook(t)
	ctx := context.Background()
	_, confirm, manage := pending(t, b, "ada", "ada@example.org")
	_, late, _ := pending(t, b, "bob", "bob@example.org")

	if _, err := b.Confirm(ctx, manage); !errors.Is(err, ErrTokenUnknown) {
		t.Errorf("confirm with the manage token: %v, want ErrTokenUnknown", err)
	}
	sub, err := b.Confirm(ctx, confirm)
	if err != nil || sub.State != repository.SubscriptionActive || sub.ConfirmTime.IsZero() || sub.Version != 2 {
		t.Fatalf("confirm: %+v, %v; want active, confirmed, version 2", sub, err)
	}
	if _, err := b.Confirm(ctx, confirm); !errors.Is(err, ErrTokenUnknown) {
		t.Errorf("a second confirm: %v, want ErrTokenUnknown", err)
	}
	// The used link still tells whose subscription it confirmed.
	if got, err := b.ByConfirmToken(ctx, confirm); err != nil || got.State != repository.SubscriptionActive || got.Email != "ada@example.org" {
		t.Errorf("ByConfirmToken of the used link: %+v, %v; want ada's, active", got, err)
	}
	if got, err := b.ByConfirmToken(ctx, late); err != nil || got.State != repository.SubscriptionPending {
		t.Errorf("ByConfirmToken of an unused link: %+v, %v; want pending", got, err)
	}
	if _, err := b.ByConfirmToken(ctx, manage); !errors.Is(err, ErrTokenUnknown) {
		t.Errorf("ByConfirmToken of a manage token: %v, want ErrTokenUnknown", err)
	}
	clk.Advance(7*24*time.Hour + time.Second)
	if _, err := b.Confirm(ctx, late); !errors.Is(err, ErrTokenUnknown) {
		t.Errorf("confirm after 7 days: %v, want ErrTokenUnknown", err)
	}
	if _, err := b.ByConfirmToken(ctx, late); !errors.Is(err, ErrTokenUnknown) {
		t.Errorf("ByConfirmToken after 7 days, unused: %v, want ErrTokenUnknown", err)
	}
	if _, err := b.ByConfirmToken(ctx, confirm); err != nil {
		t.Errorf("ByConfirmToken of a used link after 7 days: %v", err)
	}
	for _, tok := range []string{"", "nope", string(make([]byte, 201))} {
		if _, err := b.ByManageToken(ctx, tok); !errors.Is(err, ErrTokenUnknown) {
			t.Errorf("ByManageToken(%.10q): %v, want ErrTokenUnknown", tok, err)
		}
	}
}

func TestOwnedNeedsThisSubscriptionsManageToken(t *testing.T) {
	t.Parallel()
	b, _ := newBook(t)
	ctx := context.Background()
	_, _, adaManage := pending(t, b, "ada", "ada@example.org")
	_, bobConfirm, _ := pending(t, b, "bob", "bob@example.org")

	if sub, err := b.Owned(ctx, "ada", adaManage); err != nil || sub.ID != "ada" {
		t.Errorf("ada with her token: %v, %v", sub, err)
	}
	if _, err := b.Owned(ctx, "bob", adaManage); !errors.Is(err, ErrNotOwner) {
		t.Errorf("bob with ada's token: %v, want ErrNotOwner", err)
	}
	if _, err := b.Owned(ctx, "bob", bobConfirm); !errors.Is(err, ErrNotOwner) {
		t.Errorf("bob with his confirmation token: %v, want ErrNotOwner", err)
	}
	if sub, err := b.Owned(ctx, "bob", ""); err != nil || sub.ID != "bob" {
		t.Errorf("bob for an admin: %v, %v", sub, err)
	}
	if _, err := b.Owned(ctx, "nobody", ""); !errors.Is(err, repository.ErrNotFound) {
		t.Errorf("nobody for an admin: %v, want ErrNotFound", err)
	}
}

func TestUpdateIsRefusedWhenTheSubscriptionChangedMeanwhile(t *testing.T) {
	t.Parallel()
	b, _ := newBook(t)
	ctx := context.Background()
	sub, _, _ := pending(t, b, "ada", "ada@example.org")

	first, second := *sub, *sub
	first.MaxPapers, second.MaxPapers = 20, 30
	if err := b.Update(ctx, sub, &first); err != nil || first.Version != 2 {
		t.Fatalf("first update: %v, version %d", err, first.Version)
	}
	if err := b.Update(ctx, sub, &second); !errors.Is(err, repository.ErrConflict) {
		t.Errorf("an update of the old version: %v, want ErrConflict", err)
	}
	if got, err := b.Store.Get(ctx, "ada"); err != nil || got.MaxPapers != 20 {
		t.Errorf("stored %+v, %v; want the first update's 20 papers", got, err)
	}
}

func TestUnsubscribeEndsOnceAndKeepsTheLinkWorking(t *testing.T) {
	t.Parallel()
	b, _ := newBook(t)
	ctx := context.Background()
	_, _, manage := pending(t, b, "ada", "ada@example.org")

	for i := range 2 {
		sub, err := b.Unsubscribe(ctx, manage)
		if err != nil || sub.Email != "ada@example.org" {
			t.Fatalf("unsubscribe %d: %v, %v", i, sub, err)
		}
	}
	got, err := b.Store.Get(ctx, "ada")
	if err != nil || got.State != repository.SubscriptionUnsubscribed || got.Version != 2 {
		t.Errorf("stored %+v, %v; want unsubscribed once (version 2)", got, err)
	}
	if err := b.Delete(ctx, got); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Unsubscribe(ctx, manage); !errors.Is(err, ErrTokenUnknown) {
		t.Errorf("unsubscribe after delete: %v, want ErrTokenUnknown", err)
	}
}

// TestConcurrentConfirmsWinOnce: the confirmation link opened and pressed
// from several places at once (a mail scanner, two devices) confirms the
// subscription exactly once: one call wins the compare-and-set on the
// version, the others get ErrTokenUnknown, and the stored subscription is
// active at the version the winner wrote.
func TestConcurrentConfirmsWinOnce(t *testing.T) {
	t.Parallel()
	b, _ := newBook(t)
	ctx := context.Background()
	_, confirm, manage := pending(t, b, "ada", "ada@example.org")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := b.Confirm(ctx, confirm)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	won := 0
	for err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, ErrTokenUnknown):
			t.Errorf("a losing confirm: %v, want ErrTokenUnknown", err)
		}
	}
	if won != 1 {
		t.Errorf("%d confirms won, want 1", won)
	}
	sub, err := b.ByManageToken(ctx, manage)
	if err != nil || sub.State != repository.SubscriptionActive || sub.Version != 2 {
		t.Errorf("stored after the race: %+v, %v; want active at version 2", sub, err)
	}
}
