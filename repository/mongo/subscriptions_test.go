package mongo_test

import (
	"errors"
	"testing"
	"time"

	"github.com/papercatalog/papers/repository"
	"github.com/papercatalog/papers/repository/mongo"
)

func TestSubscriptionsByIDAddressAndToken(t *testing.T) {
	t.Parallel()
	store := mongo.NewSubscriptions(openDB(t))
	ctx := ctxT(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	s := &repository.Subscription{ID: "s1", Email: "Ada@Example.org", State: repository.SubscriptionPending, Frequency: "daily",
		Weekdays: []time.Weekday{time.Monday, time.Friday}, SendHour: 8, TimeZone: "Europe/Paris", Query: "diffusion",
		MaxPapers: 10, CreateTime: now, UpdateTime: now, ConfirmHash: "c1", ConfirmExpires: now.Add(7 * 24 * time.Hour),
		ManageHash: "m1", Version: 1}
	if err := store.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	dup := *s
	dup.ID, dup.Email = "s2", " ada@EXAMPLE.org "
	if err := store.Create(ctx, &dup); !errors.Is(err, repository.ErrAlreadyExists) {
		t.Errorf("a second subscription of the same address: %v", err)
	}
	got, err := store.ByEmail(ctx, "ADA@example.org")
	if err != nil || got.ID != "s1" || got.Weekdays[1] != time.Friday || !got.ConfirmExpires.Equal(s.ConfirmExpires) {
		t.Fatalf("by email: %+v %v", got, err)
	}
	if got, confirm, err := store.ByToken(ctx, "c1"); err != nil || !confirm || got.ID != "s1" {
		t.Errorf("by confirm token: %v %v %v", got, confirm, err)
	}
	if got, confirm, err := store.ByToken(ctx, "m1"); err != nil || confirm || got.ID != "s1" {
		t.Errorf("by manage token: %v %v %v", got, confirm, err)
	}
	// Confirming: the confirm token is spent, the manage token replaced.
	next := *got
	next.State, next.ConfirmHash, next.ManageHash, next.ConfirmTime, next.Version = repository.SubscriptionActive, "", "m2", now, 2
	if err := store.Update(ctx, &next, got); err != nil {
		t.Fatal(err)
	}
	if err := store.Update(ctx, &next, got); !errors.Is(err, repository.ErrConflict) {
		t.Errorf("an update on a stale version: %v", err)
	}
	for _, h := range []string{"c1", "m1"} {
		if _, _, err := store.ByToken(ctx, h); !errors.Is(err, repository.ErrNotFound) {
			t.Errorf("a spent token %s: %v", h, err)
		}
	}
	if got, _, err := store.ByToken(ctx, "m2"); err != nil || got.State != repository.SubscriptionActive {
		t.Errorf("the new manage token: %v %v", got, err)
	}
	n := 0
	if err := store.All(ctx, func(*repository.Subscription) error { n++; return nil }); err != nil || n != 1 {
		t.Errorf("all: %d %v", n, err)
	}
	if err := store.Delete(ctx, &next); err != nil {
		t.Fatal(err)
	}
	if _, err := store.ByEmail(ctx, "ada@example.org"); !errors.Is(err, repository.ErrNotFound) {
		t.Errorf("after delete: %v", err)
	}
	if _, _, err := store.ByToken(ctx, "m2"); !errors.Is(err, repository.ErrNotFound) {
		t.Errorf("a deleted subscription's token: %v", err)
	}
	// The address is free again.
	if err := store.Create(ctx, &dup); err != nil {
		t.Errorf("subscribing again after delete: %v", err)
	}
}
