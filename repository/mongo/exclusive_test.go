package mongo_test

import (
	"errors"
	"fmt"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/papercatalog/papers/repository"
	"github.com/papercatalog/papers/repository/mongo"
)

// openExclusive opens the test's database as its only client (mongo.Exclusive).
func openExclusive(t *testing.T) *mongo.DB {
	t.Helper()
	openDB(t) // a fresh, migrated database, dropped when the test passes
	db, err := mongo.Open(uri, regexp.MustCompile(`[^A-Za-z0-9_]`).ReplaceAllString(t.Name(), "_"), mongo.Exclusive())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close(ctxT(t)) })
	return db
}

// TestConditionalWritesHaveOneWinner has 12 writers update one paper, and one
// subscription, from the same version at once, on the store with and without
// Exclusive: exactly one wins each time. Without Exclusive the condition goes
// into the filter, which FerretDB does not apply atomically; the test shows
// the store that paperd uses on its embedded database.
func TestConditionalWritesHaveOneWinner(t *testing.T) {
	t.Parallel()
	db := openExclusive(t)
	ctx := ctxT(t)
	papers, subs := mongo.NewPapers(db), mongo.NewSubscriptions(db)
	now := time.Now().UTC().Truncate(time.Millisecond)
	p := &repository.Paper{ID: "2401.00001", Title: "t", SubmitTime: now, CreateTime: now, UpdateTime: now, Version: 1}
	if err := papers.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	s := &repository.Subscription{ID: "s1", Email: "ada@example.org", State: repository.SubscriptionActive, Frequency: "daily",
		TimeZone: "UTC", CreateTime: now, UpdateTime: now, ManageHash: "m1", Version: 1}
	if err := subs.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		var paperWins, subWins atomic.Int32
		var wg sync.WaitGroup
		for i := range 12 {
			wg.Go(func() {
				next := *p
				next.Title, next.Version = fmt.Sprintf("round %d writer %d", round, i), p.Version+1+int64(i)
				switch err := papers.Update(ctx, &next, p.Version); {
				case err == nil:
					paperWins.Add(1)
				case !isConflict(err):
					t.Error(err)
				}
				ns := *s
				ns.Query, ns.Version = fmt.Sprintf("writer %d", i), s.Version+1
				switch err := subs.Update(ctx, &ns, s); {
				case err == nil:
					subWins.Add(1)
				case !isConflict(err):
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if paperWins.Load() != 1 || subWins.Load() != 1 {
			t.Fatalf("round %d: %d paper writers and %d subscription writers won, want 1 each", round, paperWins.Load(), subWins.Load())
		}
		var err error
		if p, err = papers.Get(ctx, p.ID); err != nil {
			t.Fatal(err)
		}
		if s, err = subs.Get(ctx, s.ID); err != nil {
			t.Fatal(err)
		}
	}
	// A delete conditional on a version that moved is refused; on the current one
	// it goes through.
	if err := papers.Delete(ctx, p.ID, p.Version-1); !isConflict(err) {
		t.Errorf("delete at a stale version: %v, want a conflict", err)
	}
	if err := papers.Delete(ctx, p.ID, p.Version); err != nil {
		t.Errorf("delete at the current version: %v", err)
	}
}

func isConflict(err error) bool { return err != nil && errors.Is(err, repository.ErrConflict) }
