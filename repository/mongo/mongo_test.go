package mongo_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/papercatalog/papers/embedded"
	"github.com/papercatalog/papers/repository"
	"github.com/papercatalog/papers/repository/mongo"
)

var uri string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mongo-test-")
	if err != nil {
		panic(err)
	}
	db, err := embedded.Start(context.Background(), dir, slog.New(slog.DiscardHandler))
	if err != nil {
		panic(err)
	}
	uri = db.URI
	code := m.Run()
	db.Close()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// openDB gives each test its own database, named after it, dropped when the test
// passes and kept for inspection when it fails.
func openDB(t *testing.T) *mongo.DB {
	t.Helper()
	name := regexp.MustCompile(`[^A-Za-z0-9_]`).ReplaceAllString(t.Name(), "_")
	db, err := mongo.Open(uri, name)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	if err := db.Drop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("second Migrate must be a no-op: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if !t.Failed() {
			_ = db.Drop(ctx)
		}
		_ = db.Close(ctx)
	})
	return db
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func testPaper(id string, version int64) *repository.Paper {
	now := time.Now().UTC().Truncate(time.Millisecond)
	return &repository.Paper{
		ID: id, Title: "Title " + id, Abstract: "Abstract", Version: version,
		Authors:      []repository.Author{{Name: "A", Affiliation: "X"}},
		Categories:   []string{"cs.LG"},
		Organization: repository.Organization{ID: "org", DisplayName: "Org"},
		SubmitTime:   now, CreateTime: now, UpdateTime: now,
		PublishedTime: now.Add(-time.Hour),
	}
}

func TestPapersRoundTripAndErrors(t *testing.T) {
	t.Parallel()
	papers := mongo.NewPapers(openDB(t))
	ctx := ctxT(t)
	p := testPaper("2111.13056", 10)
	if err := papers.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := papers.Create(ctx, testPaper("2111.13056", 11)); !errors.Is(err, repository.ErrAlreadyExists) {
		t.Errorf("duplicate create: %v, want ErrAlreadyExists", err)
	}
	got, err := papers.Get(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", p) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, p)
	}
	if _, err := papers.Get(ctx, "0000.00000"); !errors.Is(err, repository.ErrNotFound) {
		t.Errorf("get missing: %v", err)
	}

	next := *p
	next.Title, next.Version = "New", 20
	if err := papers.Update(ctx, &next, 9); !errors.Is(err, repository.ErrConflict) {
		t.Errorf("update from a wrong version: %v, want ErrConflict", err)
	}
	if err := papers.Update(ctx, &next, 10); err != nil {
		t.Fatal(err)
	}
	if err := papers.Update(ctx, testPaper("0000.00000", 2), 1); !errors.Is(err, repository.ErrNotFound) {
		t.Errorf("update missing: %v", err)
	}
	if err := papers.Delete(ctx, p.ID, 10); !errors.Is(err, repository.ErrConflict) {
		t.Errorf("delete from a wrong version: %v", err)
	}
	if err := papers.Delete(ctx, p.ID, 20); err != nil {
		t.Fatal(err)
	}
	if err := papers.Delete(ctx, p.ID, 0); !errors.Is(err, repository.ErrNotFound) {
		t.Errorf("delete missing: %v", err)
	}
}

func TestAllAndChangeLog(t *testing.T) {
	t.Parallel()
	papers := mongo.NewPapers(openDB(t))
	ctx := ctxT(t)
	var batch []*repository.Paper
	for i := range 25 {
		batch = append(batch, testPaper(fmt.Sprintf("2401.%05d", i), 1))
	}
	if _, err := papers.InsertMany(ctx, batch); err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := papers.All(ctx, func(*repository.Paper) error { n++; return nil }); err != nil || n != 25 {
		t.Errorf("All saw %d papers (%v), want 25", n, err)
	}

	t0 := time.Now().UTC().Truncate(time.Millisecond)
	old := repository.Change{PaperID: "a", Version: 1, Paper: testPaper("a", 1), Time: t0.Add(-time.Hour)}
	recent := repository.Change{PaperID: "b", Version: 2, Deleted: true, Time: t0}
	var oldRef repository.ChangeRef
	for i, c := range []repository.Change{old, recent, recent} { // recording twice is harmless
		id, err := papers.RecordChange(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			oldRef = repository.ChangeRef{ID: id, Time: c.Time}
		}
	}
	refs, err := papers.ChangesSince(ctx, t0.Add(-time.Minute))
	if err != nil || len(refs) != 1 || !refs[0].Time.Equal(t0) {
		t.Fatalf("ChangesSince: %+v %v", refs, err)
	}
	got, err := papers.LoadChange(ctx, refs[0])
	if err != nil || got.PaperID != "b" || !got.Deleted || got.Version != 2 {
		t.Fatalf("LoadChange: %+v %v", got, err)
	}
	many := repository.Change{Papers: []*repository.Paper{testPaper("c", 3), testPaper("d", 4)}, Time: t0}
	id, err := papers.RecordChange(ctx, many)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := papers.LoadChange(ctx, repository.ChangeRef{ID: id, Time: t0}); err != nil || len(got.Papers) != 2 || got.Papers[1].ID != "d" || got.Papers[1].Version != 4 {
		t.Fatalf("a batch: %+v %v", got, err)
	}
	if err := papers.PruneChanges(ctx, t0.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	all, err := papers.ChangesSince(ctx, time.Time{})
	if err != nil || len(all) != 2 {
		t.Errorf("after prune: %d changes (%v), want 2", len(all), err)
	}
	if _, err := papers.LoadChange(ctx, oldRef); !errors.Is(err, repository.ErrNotFound) {
		t.Errorf("loading a pruned change: %v", err)
	}
}

func TestSecretIsSharedAndStable(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	ctx := ctxT(t)
	a, err := db.Secret(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	b, err := db.Secret(ctx, "k")
	if err != nil || string(a) != string(b) || len(a) != 32 {
		t.Errorf("secret changed between calls: %x %x %v", a, b, err)
	}
	c, _ := db.Secret(ctx, "other")
	if string(c) == string(a) {
		t.Error("two secrets are equal")
	}
}

func TestUnreachableServerIsUnavailable(t *testing.T) {
	t.Parallel()
	db, err := mongo.Open("mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300", "x")
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	defer func() { _ = db.Close(ctx) }()
	if err := db.Ping(ctx); !errors.Is(err, repository.ErrUnavailable) {
		t.Errorf("ping: %v, want ErrUnavailable", err)
	}
	if _, err := mongo.NewPapers(db).Get(ctx, "x"); !errors.Is(err, repository.ErrUnavailable) {
		t.Errorf("get: %v, want ErrUnavailable", err)
	}
}

func TestVotes(t *testing.T) {
	t.Parallel()
	votes := mongo.NewVotes(openDB(t))
	ctx := ctxT(t)
	up := func(paper, user string, version int64) repository.VoteRecord {
		return repository.VoteRecord{PaperID: paper, User: user, Added: true, Version: version}
	}
	a, b := up("2401.00001", "ann", 10), up("2401.00002", "bob|with a bar", 11)
	if lost, err := votes.RecordVotes(ctx, []repository.VoteRecord{a, b, a}); err != nil || len(lost) != 0 {
		t.Fatalf("recording a change twice in one batch: %v %v", lost, err)
	}
	if lost, err := votes.RecordVotes(ctx, []repository.VoteRecord{a}); err != nil || len(lost) != 0 {
		t.Fatalf("recording a change again: %v %v", lost, err)
	}
	all := func() []repository.VoteRecord {
		var got []repository.VoteRecord
		if err := votes.AllVotes(ctx, func(v repository.VoteRecord) error { got = append(got, v); return nil }); err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(got, func(x, y repository.VoteRecord) int { return int(x.Version - y.Version) })
		return got
	}
	if got := all(); fmt.Sprint(got) != fmt.Sprint([]repository.VoteRecord{a, b}) {
		t.Errorf("stored changes %v, want %v and %v", got, a, b)
	}
	removeA := repository.VoteRecord{PaperID: a.PaperID, User: a.User, Version: 12, Prev: a.Version}
	again := up(a.PaperID, a.User, 13)
	again.Prev = removeA.Version
	if lost, err := votes.RecordVotes(ctx, []repository.VoteRecord{removeA, again}); err != nil || len(lost) != 0 {
		t.Fatal(lost, err)
	}
	if got := all(); fmt.Sprint(got) != fmt.Sprint([]repository.VoteRecord{a, b, removeA, again}) {
		t.Errorf("stored changes %v", got)
	}
	// Two changes from one predecessor: the first recorded wins, whatever else
	// the batch holds, and a later batch cannot replace it.
	x := repository.VoteRecord{PaperID: a.PaperID, User: a.User, Version: 14, Prev: again.Version}
	y := repository.VoteRecord{PaperID: a.PaperID, User: a.User, Added: true, Version: 15, Prev: again.Version}
	if lost, err := votes.RecordVotes(ctx, []repository.VoteRecord{x, y}); err != nil || fmt.Sprint(lost) != "[1]" {
		t.Fatalf("two successors of one change: lost %v, %v; want the second lost", lost, err)
	}
	if lost, err := votes.RecordVotes(ctx, []repository.VoteRecord{y}); err != nil || fmt.Sprint(lost) != "[0]" {
		t.Fatalf("a successor of a change that has one: lost %v, %v", lost, err)
	}
	mine, err := votes.UserVotes(ctx, a.PaperID, a.User)
	if err != nil || len(mine) != 4 {
		t.Fatalf("ann's changes: %v, %v; want 4", mine, err)
	}

}
