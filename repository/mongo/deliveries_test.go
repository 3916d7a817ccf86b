package mongo_test

import (
	"testing"
	"time"

	"github.com/papercatalog/papers/repository"
	"github.com/papercatalog/papers/repository/mongo"
)

func TestDeliveryClaims(t *testing.T) {
	t.Parallel()
	store := mongo.NewDeliveries(openDB(t))
	ctx := ctxT(t)
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	stale := time.Minute
	d, mine, err := store.Claim(ctx, "s1", "2026-11-03", "a", t0, stale)
	if err != nil || !mine || d.Owner != "a" {
		t.Fatalf("first claim: %+v %v %v", d, mine, err)
	}
	// While a's claim is fresh, nobody else takes it (a may be sending now).
	if d2, mine, err := store.Claim(ctx, "s1", "2026-11-03", "b", t0.Add(30*time.Second), stale); err != nil || mine || d2.Owner != "a" {
		t.Errorf("a fresh claim taken over: %+v %v %v", d2, mine, err)
	}
	// a died: after the stale time b takes over, and only b.
	d3, mine, err := store.Claim(ctx, "s1", "2026-11-03", "b", t0.Add(2*time.Minute), stale)
	if err != nil || !mine || d3.Owner != "b" {
		t.Fatalf("takeover of a stale claim: %+v %v %v", d3, mine, err)
	}
	if _, mine, _ := store.Claim(ctx, "s1", "2026-11-03", "c", t0.Add(2*time.Minute), stale); mine {
		t.Error("two senders hold the same delivery")
	}
	// Retry due later: nobody before, anyone after.
	retry := *d3
	retry.State, retry.NextAttempt, retry.Version = repository.DeliveryRetry, t0.Add(10*time.Minute), d3.Version+1
	if err := store.Save(ctx, &retry, d3.Version); err != nil {
		t.Fatal(err)
	}
	if _, mine, _ := store.Claim(ctx, "s1", "2026-11-03", "c", t0.Add(5*time.Minute), stale); mine {
		t.Error("a retry claimed before it is due")
	}
	d4, mine, err := store.Claim(ctx, "s1", "2026-11-03", "c", t0.Add(11*time.Minute), stale)
	if err != nil || !mine {
		t.Fatalf("a due retry: %+v %v %v", d4, mine, err)
	}
	// Sent: never claimed again.
	sent := *d4
	sent.State, sent.Version = repository.DeliverySent, d4.Version+1
	if err := store.Save(ctx, &sent, d4.Version); err != nil {
		t.Fatal(err)
	}
	if err := store.Save(ctx, &sent, d4.Version); err == nil {
		t.Error("a save on a stale version succeeded")
	}
	if _, mine, _ := store.Claim(ctx, "s1", "2026-11-03", "d", t0.Add(24*time.Hour), stale); mine {
		t.Error("a sent delivery claimed again")
	}
	// Another edition is another delivery.
	if _, mine, _ := store.Claim(ctx, "s1", "2026-11-04", "d", t0, stale); !mine {
		t.Error("the next edition not claimable")
	}
}

func TestLeaseHasOneHolder(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	ctx := ctxT(t)
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	if ok, err := db.AcquireLease(ctx, "digests", "a", t0, time.Minute); err != nil || !ok {
		t.Fatalf("first: %v %v", ok, err)
	}
	if ok, _ := db.AcquireLease(ctx, "digests", "b", t0.Add(30*time.Second), time.Minute); ok {
		t.Error("b took a held lease")
	}
	if ok, _ := db.AcquireLease(ctx, "digests", "a", t0.Add(50*time.Second), time.Minute); !ok {
		t.Error("a could not renew")
	}
	if ok, _ := db.AcquireLease(ctx, "digests", "b", t0.Add(90*time.Second), time.Minute); ok {
		t.Error("b took the renewed lease before it expired")
	}
	if ok, _ := db.AcquireLease(ctx, "digests", "b", t0.Add(2*time.Minute), time.Minute); !ok {
		t.Error("b could not take an expired lease")
	}
	if ok, _ := db.AcquireLease(ctx, "digests", "a", t0.Add(2*time.Minute), time.Minute); ok {
		t.Error("a took b's lease back")
	}
}

func TestOldEditionsAreDropped(t *testing.T) {
	t.Parallel()
	store := mongo.NewDeliveries(openDB(t))
	ctx := ctxT(t)
	for _, ed := range []string{"2026-10-01", "2026-11-03"} {
		if _, mine, err := store.Claim(ctx, "s1", ed, "a", time.Now(), time.Minute); err != nil || !mine {
			t.Fatal(mine, err)
		}
	}
	if err := store.DropEditionsBefore(ctx, "2026-11-01"); err != nil {
		t.Fatal(err)
	}
	if _, mine, _ := store.Claim(ctx, "s1", "2026-10-01", "b", time.Now(), time.Minute); !mine {
		t.Error("the dropped edition's record is still there")
	}
	if _, mine, _ := store.Claim(ctx, "s1", "2026-11-03", "b", time.Now(), time.Minute); mine {
		t.Error("a kept edition's fresh claim was taken")
	}
}
