package catalog_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/papercatalog/papers/catalog"
	"github.com/papercatalog/papers/readmodel"
	"github.com/papercatalog/papers/repository"
	"github.com/papercatalog/papers/repository/mongo"
	"github.com/papercatalog/papers/repository/mongo/mongotest"
)

// fixture is a writer over the embedded database, counting the changes it records.
type fixture struct {
	w        *catalog.Writer
	store    *mongo.Papers
	model    *readmodel.Model
	journal  string // the writer's intent journal
	mu       sync.Mutex
	recorded int
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	// As paperd opens its embedded database: its only client, whose conditional
	// writes are atomic (FerretDB does not apply a filter's condition atomically).
	db := mongotest.Open(t, mongo.Exclusive(), mongo.InProcess())
	f := &fixture{store: mongo.NewPapers(db), model: readmodel.New(), journal: filepath.Join(t.TempDir(), "intents.journal")}
	// As paperd keeps them: the model's papers leave their abstracts in a file.
	if err := f.model.StoreAbstracts(filepath.Join(t.TempDir(), "readmodel.abstracts")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.model.Close() })
	f.model.Replace(nil, 0)
	intents, err := readmodel.OpenIntents(f.journal)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = intents.Close() })
	f.w = &catalog.Writer{Papers: f.store, Model: f.model, Log: slog.New(slog.DiscardHandler), Intents: intents,
		Recorded: func(repository.ChangeRef) { f.mu.Lock(); f.recorded++; f.mu.Unlock() }}
	return f
}

// leftOpen returns the papers of the intents a start after a crash now would
// repair.
func (f *fixture) leftOpen(t *testing.T) []string {
	t.Helper()
	j, err := readmodel.OpenIntents(f.journal)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = j.Close() }()
	var ids []string
	for _, in := range j.Left() {
		ids = append(ids, in.Papers...)
	}
	return ids
}

// TestFinishedWritesLeaveNoIntentOpen: a write that stored and recorded its
// change, or that the store refused, leaves nothing for a restart to repair.
func TestFinishedWritesLeaveNoIntentOpen(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	p, err := f.w.Create(ctx, newPaper("2401.00001", "First", ""))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.w.Create(ctx, newPaper("2401.00001", "Again", "")); !errors.Is(err, repository.ErrAlreadyExists) {
		t.Fatalf("second create: %v", err)
	}
	rename := func(cur *repository.Paper) (repository.Paper, error) {
		next := *cur
		next.Title += "!"
		return next, nil
	}
	if _, err := f.w.Update(ctx, p.ID, "", rename); err != nil {
		t.Fatal(err)
	}
	// Another writer's update that the model has not seen: ours loses once.
	behind := *f.agree(t, p.ID)
	behind.Title, behind.Version = "Theirs", behind.Version+1
	if err := f.store.Update(ctx, &behind, behind.Version-1); err != nil {
		t.Fatal(err)
	}
	if _, err := f.w.Update(ctx, p.ID, "", rename); err != nil {
		t.Fatal(err)
	}
	// Updates keep what they did not change, the abstract the model keeps on disk included.
	if stored, err := f.store.Get(ctx, p.ID); err != nil || stored.Abstract != "What First is about." {
		t.Errorf("after two updates of the title, the stored abstract is %q (%v)", stored.Abstract, err)
	}
	if err := f.w.Delete(ctx, p.ID, ""); err != nil {
		t.Fatal(err)
	}
	if open := f.leftOpen(t); len(open) != 0 {
		t.Errorf("intents left open after finished writes: %v", open)
	}
}

func (f *fixture) changes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.recorded
}

// agree fails unless the model and the database hold the same version of paper id.
func (f *fixture) agree(t *testing.T, id string) *repository.Paper {
	t.Helper()
	stored, err := f.store.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("stored paper %s: %v", id, err)
	}
	inModel, ok := f.model.Get(id)
	if !ok || inModel.Version != stored.Version || inModel.Title != stored.Title {
		t.Fatalf("model has %+v, database %+v", inModel, stored)
	}
	return stored
}

func newPaper(id, title, requestID string) *repository.Paper {
	t := time.Now().UTC().Truncate(time.Millisecond)
	return &repository.Paper{ID: id, Title: title, Abstract: "What " + title + " is about.", RequestID: requestID,
		CreateTime: t, UpdateTime: t, SubmitTime: t}
}

// TestCreate covers idempotent retries by request id and papers that exist,
// in the model or only in the database (written by another replica).
func TestCreate(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()

	p, err := f.w.Create(ctx, newPaper("2401.00001", "First", "req-1"))
	if err != nil || p.Version == 0 {
		t.Fatalf("create: %+v %v", p, err)
	}
	f.agree(t, p.ID)
	again, err := f.w.Create(ctx, newPaper("2401.00001", "First, retried", "req-1"))
	if err != nil || again.Version != p.Version || again.Title != "First" {
		t.Errorf("a retried create returns the paper the first made: %+v %v", again, err)
	}
	if _, err := f.w.Create(ctx, newPaper("2401.00001", "Other", "")); !errors.Is(err, repository.ErrAlreadyExists) {
		t.Errorf("create without request id of an existing paper: %v, want ErrAlreadyExists", err)
	}
	if _, err := f.w.Create(ctx, newPaper("2401.00001", "Other", "req-2")); !errors.Is(err, repository.ErrAlreadyExists) {
		t.Errorf("create with another request id of an existing paper: %v, want ErrAlreadyExists", err)
	}
	if n := f.changes(); n != 1 {
		t.Errorf("%d changes recorded, want 1: refused and retried creates record none", n)
	}

	// Another replica stored a paper this model has not seen yet.
	elsewhere := newPaper("2401.00002", "Elsewhere", "req-3")
	elsewhere.Version = 1
	if err := f.store.Create(ctx, elsewhere); err != nil {
		t.Fatal(err)
	}
	if _, err := f.w.Create(ctx, newPaper("2401.00002", "Here", "")); !errors.Is(err, repository.ErrAlreadyExists) {
		t.Errorf("create of a paper only the database has: %v, want ErrAlreadyExists", err)
	}
	if got := f.agree(t, "2401.00002"); got.Title != "Elsewhere" {
		t.Errorf("the model learnt the stored paper: %+v", got)
	}
	if got, err := f.w.Create(ctx, newPaper("2401.00002", "Retried", "req-3")); err != nil || got.Title != "Elsewhere" {
		t.Errorf("a retry of the other replica's create returns its paper: %+v %v", got, err)
	}
}

// TestUpdate covers the etag precondition, the retries of a write without one,
// and the refresh of a model that lost a conditional write.
func TestUpdate(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p, err := f.w.Create(ctx, newPaper("2401.00003", "Before", ""))
	if err != nil {
		t.Fatal(err)
	}
	retitle := func(title string) func(*repository.Paper) (repository.Paper, error) {
		return func(cur *repository.Paper) (repository.Paper, error) {
			next := *cur
			next.Title = title
			return next, nil
		}
	}

	if _, err := f.w.Update(ctx, "2401.99999", "", retitle("x")); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("update of a missing paper: %v, want ErrNotFound", err)
	}
	var stale *catalog.StaleError
	if _, err := f.w.Update(ctx, p.ID, "nope", retitle("x")); !errors.As(err, &stale) || stale.Current != catalog.Etag(p) {
		t.Errorf("update with a wrong etag: %v, want a StaleError naming etag %s", err, catalog.Etag(p))
	}
	invalid := errors.New("invalid")
	if _, err := f.w.Update(ctx, p.ID, "", func(*repository.Paper) (repository.Paper, error) { return repository.Paper{}, invalid }); !errors.Is(err, invalid) {
		t.Errorf("the change's error: %v", err)
	}
	up, err := f.w.Update(ctx, p.ID, catalog.Etag(p), retitle("After"))
	if err != nil || up.Title != "After" || up.Version <= p.Version {
		t.Fatalf("update with the current etag: %+v %v", up, err)
	}
	if got := f.agree(t, p.ID); got.Title != "After" {
		t.Errorf("stored %+v", got)
	}

	// Another replica changes the paper behind the model's back.
	behind := *up
	behind.Keywords = []string{"elsewhere"}
	behind.Version = up.Version + 1
	if err := f.store.Update(ctx, &behind, up.Version); err != nil {
		t.Fatal(err)
	}
	if _, err := f.w.Update(ctx, p.ID, catalog.Etag(up), retitle("Lost")); !errors.Is(err, repository.ErrConflict) {
		t.Errorf("a conditional write on a stale model: %v, want ErrConflict", err)
	}
	if got := f.agree(t, p.ID); got.Version != behind.Version {
		t.Errorf("the model was refreshed to the stored version %d: %+v", behind.Version, got)
	}
	behind.Version++
	if err := f.store.Update(ctx, &behind, behind.Version-1); err != nil {
		t.Fatal(err)
	}
	got, err := f.w.Update(ctx, p.ID, "", retitle("Retried"))
	if err != nil || got.Title != "Retried" || len(got.Keywords) != 1 {
		t.Errorf("a write without etag is tried again on the paper as stored: %+v %v", got, err)
	}
	f.agree(t, p.ID)
}

// TestConcurrentWriters has writers that read the same version of a paper
// update it at once: exactly one wins, and the model and the database agree.
func TestConcurrentWriters(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p, err := f.w.Create(ctx, newPaper("2401.00004", "Start", ""))
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, errs[i] = f.w.Update(ctx, p.ID, catalog.Etag(p), func(cur *repository.Paper) (repository.Paper, error) {
				next := *cur
				next.Title = "writer " + strconv.Itoa(i)
				return next, nil
			})
		})
	}
	close(start)
	wg.Wait()
	won := -1
	for i, err := range errs {
		var stale *catalog.StaleError
		switch {
		case err == nil && won >= 0:
			t.Errorf("writers %d and %d both won", won, i)
		case err == nil:
			won = i
		case !errors.As(err, &stale) && !errors.Is(err, repository.ErrConflict):
			t.Errorf("writer %d: %v, want a stale etag or a conflict", i, err)
		}
	}
	if won < 0 {
		t.Fatal("no writer won")
	}
	got := f.agree(t, p.ID)
	if got.Title != "writer "+strconv.Itoa(won) {
		t.Errorf("stored %q, want the winner's title", got.Title)
	}
	if c := f.changes(); c != 2 {
		t.Errorf("%d changes recorded, want the create and one update", c)
	}
}

// TestDelete covers the etag precondition and the tombstone that keeps
// versions growing across a delete.
func TestDelete(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p, err := f.w.Create(ctx, newPaper("2401.00005", "Doomed", ""))
	if err != nil {
		t.Fatal(err)
	}
	var stale *catalog.StaleError
	if err := f.w.Delete(ctx, p.ID, "nope"); !errors.As(err, &stale) {
		t.Errorf("delete with a wrong etag: %v, want a StaleError", err)
	}
	if err := f.w.Delete(ctx, p.ID, catalog.Etag(p)); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.model.Get(p.ID); ok {
		t.Error("the model still has the deleted paper")
	}
	if _, err := f.store.Get(ctx, p.ID); !errors.Is(err, repository.ErrNotFound) {
		t.Errorf("the database still has the deleted paper: %v", err)
	}
	if err := f.w.Delete(ctx, p.ID, ""); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("delete of a deleted paper: %v, want ErrNotFound", err)
	}
	tomb := f.model.Tombstone(p.ID)
	if tomb <= p.Version {
		t.Errorf("tombstone %d, want above the deleted version %d", tomb, p.Version)
	}
	again, err := f.w.Create(ctx, newPaper("2401.00005", "Again", ""))
	if err != nil || again.Version <= tomb {
		t.Errorf("a paper created again after a delete: %+v %v, want a version above the tombstone", again, err)
	}
	if c := f.changes(); c != 3 {
		t.Errorf("%d changes recorded, want create, delete, create", c)
	}
}

// lateAnswers is the real paper store, whose updates the database applies
// but whose answers do not come back as they should: after the write, the
// answer waits for the test (release) and is then the caller's context's
// error if that ended meanwhile (the driver gives up on a call whose context
// ends), or lost (a connection that broke after the server applied it).
type lateAnswers struct {
	repository.Papers
	entered, release chan struct{}
	lost             error
}

func (l *lateAnswers) Update(ctx context.Context, p *repository.Paper, prevVersion int64) error {
	if err := l.Papers.Update(context.Background(), p, prevVersion); err != nil {
		return err
	}
	l.entered <- struct{}{}
	<-l.release
	if l.lost != nil {
		return l.lost
	}
	return ctx.Err()
}

// TestAWriteWhoseCallerLeftReachesTheModel: the database applies an update
// while its caller gives up (its deadline passes), or while the connection
// breaks before the answer arrives. Either way the read model must then hold
// what the database does, not the paper before the update.
func TestAWriteWhoseCallerLeftReachesTheModel(t *testing.T) {
	for name, lost := range map[string]error{
		"the caller left":     nil,
		"the answer was lost": errors.New("connection reset by peer"),
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			if _, err := f.w.Create(context.Background(), newPaper("2401.00001", "Before", "")); err != nil {
				t.Fatal(err)
			}
			late := &lateAnswers{Papers: f.store, entered: make(chan struct{}), release: make(chan struct{}), lost: lost}
			f.w.Papers = late
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				_, err := f.w.Update(ctx, "2401.00001", "", func(cur *repository.Paper) (repository.Paper, error) {
					next := *cur
					next.Title = "After"
					return next, nil
				})
				done <- err
			}()
			<-late.entered // the database has the update; its answer is on the way
			cancel()
			close(late.release)
			err := <-done
			if lost != nil && err == nil {
				t.Errorf("a lost answer reported success")
			}
			if p := f.agree(t, "2401.00001"); p.Title != "After" {
				t.Errorf("stored title %q, want After", p.Title)
			}
			// The change log may lack the write: a start after a crash re-reads the paper.
			if lost != nil {
				if open := f.leftOpen(t); len(open) != 1 || open[0] != "2401.00001" {
					t.Errorf("intents left open after a write of unknown outcome: %v, want the paper's", open)
				}
			}
		})
	}
}
