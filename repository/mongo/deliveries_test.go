package mongo_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/papercatalog/papers/repository"
	"github.com/papercatalog/papers/repository/mongo"
)

func TestDeliveryVersionsHaveOneWriter(t *testing.T) {
	t.Parallel()
	store := mongo.NewDeliveries(openDB(t))
	ctx := ctxT(t)
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	claim := func(sub, owner string, version int64) *repository.Delivery {
		return &repository.Delivery{SubscriptionID: sub, Edition: "2026-11-03", State: repository.DeliveryClaimed,
			Owner: owner, ClaimTime: t0, Version: version}
	}
	stored, err := store.Insert(ctx, []*repository.Delivery{claim("s1", "a", 1), claim("s2", "a", 1)})
	if err != nil || !stored[0] || !stored[1] {
		t.Fatalf("first claims: %v %v", stored, err)
	}
	// b comes second for s1 and first for s3: only s3 is b's.
	stored, err = store.Insert(ctx, []*repository.Delivery{claim("s1", "b", 1), claim("s3", "b", 1)})
	if err != nil || stored[0] || !stored[1] {
		t.Fatalf("b's claims: %v %v, want [false true]", stored, err)
	}
	sent := claim("s1", "a", 2)
	sent.State, sent.DoneTime = repository.DeliverySent, t0.Add(time.Second)
	if stored, err := store.Insert(ctx, []*repository.Delivery{sent}); err != nil || !stored[0] {
		t.Fatalf("a's outcome: %v %v", stored, err)
	}
	if stored, err := store.Insert(ctx, []*repository.Delivery{claim("s1", "c", 2)}); err != nil || stored[0] {
		t.Errorf("a second version 2 stored: %v %v", stored, err)
	}
	if _, err := store.Insert(ctx, []*repository.Delivery{claim("s4", "c", 0)}); err == nil {
		t.Error("a version 0 stored")
	}
	records, err := store.Edition(ctx, "2026-11-03")
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != 3 || records["s1"].State != repository.DeliverySent || records["s1"].Owner != "a" ||
		!records["s1"].DoneTime.Equal(t0.Add(time.Second)) || records["s2"].Owner != "a" || records["s3"].Owner != "b" {
		t.Errorf("latest records: %+v", records)
	}
	// Another edition is another delivery.
	if stored, err := store.Insert(ctx, []*repository.Delivery{{SubscriptionID: "s1", Edition: "2026-11-04", Version: 1}}); err != nil || !stored[0] {
		t.Errorf("the next edition: %v %v", stored, err)
	}
}

func TestLeaseHasOneHolder(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	ctx := ctxT(t)
	t0 := time.Now().UTC().Truncate(time.Minute) // the start of a slot
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
	// a stops renewing: b takes the lease in the slot after the one a had taken.
	if ok, _ := db.AcquireLease(ctx, "digests", "b", t0.Add(2*time.Minute), time.Minute); !ok {
		t.Error("b could not take an expired lease")
	}
	if ok, _ := db.AcquireLease(ctx, "digests", "a", t0.Add(2*time.Minute+time.Second), time.Minute); ok {
		t.Error("a took b's lease back")
	}
}

// TestLeaseUnderContention has 12 replicas ask for a free lease at once, in five
// successive slots: each time exactly one holds it. (A conditional ReplaceOne
// let several hold it on FerretDB.)
func TestLeaseUnderContention(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	ctx := ctxT(t)
	t0 := time.Now().UTC().Truncate(time.Minute)
	for slot := range 5 {
		now := t0.Add(time.Duration(3*slot) * time.Minute) // nobody holds it: the last holder's next slot is over
		var held atomic.Int32
		var wg sync.WaitGroup
		for r := range 12 {
			wg.Go(func() {
				ok, err := db.AcquireLease(ctx, "digests", fmt.Sprintf("replica-%d", r), now, time.Minute)
				if err != nil {
					t.Error(err)
				}
				if ok {
					held.Add(1)
				}
			})
		}
		wg.Wait()
		if n := held.Load(); n != 1 {
			t.Errorf("slot %d: %d replicas hold the lease, want 1", slot, n)
		}
	}
}

func TestOldEditionsAreDropped(t *testing.T) {
	t.Parallel()
	store := mongo.NewDeliveries(openDB(t))
	ctx := ctxT(t)
	for _, ed := range []string{"2026-10-01", "2026-11-03"} {
		if stored, err := store.Insert(ctx, []*repository.Delivery{{SubscriptionID: "s1", Edition: ed, Version: 1}}); err != nil || !stored[0] {
			t.Fatal(stored, err)
		}
	}
	if err := store.DropEditionsBefore(ctx, "2026-11-01"); err != nil {
		t.Fatal(err)
	}
	for ed, want := range map[string]int{"2026-10-01": 0, "2026-11-03": 1} {
		if records, err := store.Edition(ctx, ed); err != nil || len(records) != want {
			t.Errorf("edition %s holds %d records (%v), want %d", ed, len(records), err, want)
		}
	}
}
