package mongo_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/papercatalog/papers/repository"
	"github.com/papercatalog/papers/repository/mongo"
)

// TestChangeHeadersLiveInPeriodsAndOldOnesStillCount: a change's header goes
// into the collection of its five-minute period, which pruning drops whole; a
// header written before headers had periods (into one collection) is still
// listed, loaded and pruned. Not parallel: WriteLegacyHeaders changes what
// every RecordChange writes.
func TestChangeHeadersLiveInPeriodsAndOldOnesStillCount(t *testing.T) {
	papers := mongo.NewPapers(openDB(t))
	ctx := ctxT(t)
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	record := func(id string, at time.Time) {
		t.Helper()
		if _, err := papers.RecordChange(ctx, repository.Change{PaperID: id, Version: 1, Paper: testPaper(id, 1), Time: at}); err != nil {
			t.Fatal(err)
		}
	}
	record("a", t0.Add(-20*time.Minute))
	record("b", t0.Add(-7*time.Minute))
	record("c", t0)
	restore := mongo.WriteLegacyHeaders()
	record("legacy", t0.Add(-6*time.Minute))
	restore()

	names, err := mongo.CollectionNames(ctx, papers)
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Duration{-20 * time.Minute, -7 * time.Minute, 0} {
		name := fmt.Sprintf("change_headers_%d", mongo.Period(t0.Add(at)))
		if !slices.Contains(names, name) {
			t.Errorf("no collection %s among %v", name, names)
		}
	}
	ids := func(since time.Time) []string {
		t.Helper()
		refs, err := papers.ChangesSince(ctx, since)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, ref := range refs {
			c, err := papers.LoadChange(ctx, ref)
			if err != nil {
				t.Fatalf("load %s: %v", ref.ID, err)
			}
			out = append(out, c.PaperID)
		}
		return out
	}
	if got, want := ids(t0.Add(-time.Hour)), []string{"a", "b", "legacy", "c"}; !slices.Equal(got, want) {
		t.Errorf("changes since an hour ago: %v, want %v (in time order)", got, want)
	}
	if got, want := ids(t0.Add(-6*time.Minute)), []string{"legacy", "c"}; !slices.Equal(got, want) {
		t.Errorf("changes since 6 minutes ago: %v, want %v", got, want)
	}

	if err := papers.PruneChanges(ctx, t0.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, want := ids(time.Time{}), []string{"c"}; !slices.Equal(got, want) {
		t.Errorf("after pruning what is older than a minute: %v, want %v", got, want)
	}
	if names, err = mongo.CollectionNames(ctx, papers); err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Duration{-20 * time.Minute, -7 * time.Minute} {
		for _, prefix := range []string{"change_headers_", "change_payloads_"} {
			if name := fmt.Sprintf("%s%d", prefix, mongo.Period(t0.Add(at))); slices.Contains(names, name) {
				t.Errorf("collection %s is left after pruning", name)
			}
		}
	}
}

// TestPruneRecordsTheLatestTime: PrunedBefore knows nothing until a prune, then
// returns the latest time PruneChanges was called with, also when replicas
// prune at once; the records do not pile up.
func TestPruneRecordsTheLatestTime(t *testing.T) {
	t.Parallel()
	papers := mongo.NewPapers(openDB(t))
	ctx := ctxT(t)
	if _, ok, err := papers.PrunedBefore(ctx); err != nil || ok {
		t.Fatalf("before any prune: known %v, %v", ok, err)
	}
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if err := papers.PruneChanges(ctx, t0.Add(time.Duration(i)*time.Second)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	want := t0.Add(7 * time.Second)
	if got, ok, err := papers.PrunedBefore(ctx); err != nil || !ok || !got.Equal(want) {
		t.Errorf("after concurrent prunes: %v, %v, %v; want %v", got, ok, err, want)
	}
	if err := papers.PruneChanges(ctx, t0); err != nil {
		t.Fatal(err)
	}
	if got, _, err := papers.PrunedBefore(ctx); err != nil || !got.Equal(want) {
		t.Errorf("after an earlier prune: %v, %v; want %v still", got, err, want)
	}
	// Each prune removes the records before its own: the latest, and those
	// that came later than the prune that made it, stay.
	if err := papers.PruneChanges(ctx, want.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if n, err := mongo.PruneRecords(ctx, papers); err != nil || n != 1 {
		t.Errorf("%d records of prunes (%v), want 1", n, err)
	}
}
