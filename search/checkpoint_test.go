package search

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/papercatalog/papers/readmodel"
	"github.com/papercatalog/papers/repository"
	"github.com/papercatalog/papers/repository/mongo"
	"github.com/papercatalog/papers/repository/mongo/mongotest"
)

// The tests below play what kill -9 leaves at each step of the path by which
// the search index records the read model checkpoint it reflects: a replica
// (read model, checkpoint, intents journal, index on disk, wired as paperd wires
// them) is "killed" by dropping it without its clean stop's last index update
// and checkpoint, and the next replica over the same directory must serve an
// index that holds every paper of the read model at its version and no other,
// and a read model that holds what the database holds.

// TestStartIndexesOnlyWhatChangedSinceTheCheckpoint: a kill after the index
// recorded the checkpoint and went on indexing the changes that followed it. The
// next start restores the checkpoint, replays the changes since (those indexed
// before the kill, those made while it was down, a write the kill left
// unrecorded), and indexes only them.
func TestStartIndexesOnlyWhatChangedSinceTheCheckpoint(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	r := w.start()
	if !strings.Contains(r.logs.String(), "the read model was loaded from the database") {
		t.Errorf("the first start did not say why it compared every paper:\n%s", r.logs)
	}
	cp := w.seed(r, 40)
	if held, err := r.index.Checkpoint(); err != nil || held != cp.ID {
		t.Fatalf("the index records checkpoint %q (%v), want %q, which it has caught up with", held, err, cp.ID)
	}

	// After the checkpoint, indexed before the kill: updates, deletes, creates,
	// and a paper created and indexed, then deleted.
	w.churn(5, true)
	w.create(200)
	r.catchUp()
	w.remove(200)
	// A write the kill leaves in the database and not in the change log.
	if _, err := r.intents.Begin([]string{w.id(20)}, nil); err != nil {
		t.Fatal(err)
	}
	w.updateUnrecorded(20)
	r.kill()

	// While it is down, other replicas write.
	w.update(30)
	w.remove(31)
	w.create(300)

	r = w.start()
	if out := r.logs.String(); !strings.Contains(out, "caught up with the read model checkpoint it holds") ||
		strings.Contains(out, "comparing every paper") {
		t.Errorf("the start did not index only the changes since the checkpoint:\n%s", out)
	}
	w.holds(r)
}

// TestIndexBehindItsCheckpointIsComparedWhole: a kill after a checkpoint was
// written and before the index caught up with it. The index keeps recording the
// previous checkpoint, the start restores the new one and compares every paper.
func TestIndexBehindItsCheckpointIsComparedWhole(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	r := w.start()
	first := w.seed(r, 30)
	w.churn(5, true)
	if err := r.syncer.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	second := r.save() // the model has the changes; the index does not yet
	if held, err := r.index.Checkpoint(); err != nil || held != first.ID {
		t.Errorf("the index records checkpoint %q (%v) before it has caught up with %q, want %q", held, err, second.ID, first.ID)
	}
	r.kill()

	r = w.start()
	if out := r.logs.String(); !strings.Contains(out, "not "+second.ID+", which was restored") {
		t.Errorf("the start did not say it compared every paper because the index is behind:\n%s", out)
	}
	w.holds(r)
	// The same index at a clean stop: the last checkpoint is recorded, and the
	// start after it indexes nothing more.
	w.update(3)
	r.catchUp()
	last := r.save()
	if held, err := r.index.Checkpoint(); err != nil || held != last.ID {
		t.Fatalf("after a clean stop the index records %q (%v), want %q", held, err, last.ID)
	}
	r.kill()
	r = w.start()
	if !strings.Contains(r.logs.String(), "caught up with the read model checkpoint it holds") {
		t.Errorf("the start after a clean stop compared every paper:\n%s", r.logs)
	}
	w.holds(r)
}

// TestFullReloadForgetsTheCheckpoint: a kill after a full reload from the
// database, whose changes a replay from the last checkpoint does not repeat
// (here a write nobody recorded), reached the index. The index forgot its
// checkpoint before taking them, and the start compares every paper.
func TestFullReloadForgetsTheCheckpoint(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	r := w.start()
	w.seed(r, 30)
	w.createUnrecorded(400)
	if err := w.papers.Delete(context.Background(), w.id(5), 0); err != nil { // unrecorded too
		t.Fatal(err)
	}
	if err := r.syncer.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.catchUp()
	if held, err := r.index.Checkpoint(); err != nil || held != "" {
		t.Errorf("the index records checkpoint %q (%v) after a full reload's changes", held, err)
	}
	r.kill()

	r = w.start() // restores the checkpoint, which has neither change
	if out := r.logs.String(); !strings.Contains(out, "the index records no read model checkpoint") {
		t.Errorf("the start did not say it compared every paper:\n%s", out)
	}
	// The read model misses what nobody recorded, as it would without the index
	// (a full reload repairs it); the index follows the read model.
	w.holdsModel(r)
}

// TestKillDuringAComparisonLeavesNoCheckpoint: a kill while a start compares
// every paper (here the comparison is cut short before its first batch) leaves
// an index that records no checkpoint, whatever it recorded before: the next
// start compares again.
func TestKillDuringAComparisonLeavesNoCheckpoint(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	r := w.start()
	w.seed(r, 30)
	w.churn(5, false)
	if err := r.syncer.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.save() // the index is behind it: the next start compares every paper
	r.kill()

	cut, cancel := context.WithCancel(context.Background())
	cancel()
	r, err := w.startReconciling(cut)
	if err == nil {
		t.Fatal("a comparison cut short reported no error")
	}
	if held, err := r.index.Checkpoint(); err != nil || held != "" {
		t.Errorf("a comparison cut short left the index recording checkpoint %q (%v)", held, err)
	}
	r.kill()

	r = w.start()
	if out := r.logs.String(); !strings.Contains(out, "the index records no read model checkpoint") {
		t.Errorf("the start after a cut comparison did not compare every paper:\n%s", out)
	}
	w.holds(r)
}

// world is a database and the data directory of the replicas started on it.
type world struct {
	t      *testing.T
	dir    string
	papers *mongo.Papers
	votes  *mongo.Votes
}

func newWorld(t *testing.T) *world {
	db := mongotest.Open(t)
	return &world{t: t, dir: t.TempDir(), papers: mongo.NewPapers(db), votes: mongo.NewVotes(db)}
}

func (w *world) id(i int) string { return fmt.Sprintf("2501.%05d", i) }

// word is the word only paper i's title has: its digits as consonants, which
// the English stemmer leaves as they are.
func (w *world) word(i int) string {
	b := []byte("qz")
	for ; i > 0 || len(b) == 2; i /= 10 {
		b = append(b, "bcdfghjkmn"[i%10])
	}
	return string(b)
}

func (w *world) paper(i int, title string) *repository.Paper {
	now := time.Now().UTC().Truncate(time.Millisecond)
	return &repository.Paper{ID: w.id(i), Title: title + " " + w.word(i), Abstract: "an abstract of " + w.word(i),
		SubmitTime: now, CreateTime: now, UpdateTime: now, Version: repository.NextVersion(time.Now(), 0)}
}

func (w *world) record(c repository.Change) {
	w.t.Helper()
	c.Time = time.Now().UTC()
	if _, err := w.papers.RecordChange(context.Background(), c); err != nil {
		w.t.Fatal(err)
	}
}

// create stores paper i and records the change, as a writer does.
func (w *world) create(i int) {
	w.t.Helper()
	p := w.createUnrecorded(i)
	w.record(repository.Change{PaperID: p.ID, Version: p.Version, Paper: p})
}

// seed creates papers 0 to n-1, lets r's index catch up and writes a
// checkpoint, which the index then records.
func (w *world) seed(r *replica, n int) readmodel.Checkpoint {
	for i := range n {
		w.create(i)
	}
	r.catchUp()
	return r.save()
}

// churn updates papers 0 to n-1, removes papers 10 to 10+n-1 and, with create,
// creates papers 100 to 100+n-1.
func (w *world) churn(n int, create bool) {
	for i := range n {
		w.update(i)
		w.remove(10 + i)
		if create {
			w.create(100 + i)
		}
	}
}

func (w *world) createUnrecorded(i int) *repository.Paper {
	w.t.Helper()
	p := w.paper(i, "Created")
	if err := w.papers.Create(context.Background(), p); err != nil {
		w.t.Fatal(err)
	}
	return p
}

// update gives paper i a new title and records the change.
func (w *world) update(i int) {
	w.t.Helper()
	p := w.updateUnrecorded(i)
	w.record(repository.Change{PaperID: p.ID, Version: p.Version, Paper: p})
}

func (w *world) updateUnrecorded(i int) *repository.Paper {
	w.t.Helper()
	cur, err := w.papers.Get(context.Background(), w.id(i))
	if err != nil {
		w.t.Fatal(err)
	}
	p := w.paper(i, "Updated")
	if err := w.papers.Update(context.Background(), p, cur.Version); err != nil {
		w.t.Fatal(err)
	}
	return p
}

// remove deletes paper i and records the change.
func (w *world) remove(i int) {
	w.t.Helper()
	if err := w.papers.Delete(context.Background(), w.id(i), 0); err != nil {
		w.t.Fatal(err)
	}
	w.record(repository.Change{PaperID: w.id(i), Version: repository.NextVersion(time.Now(), 0), Deleted: true})
}

// replica is one paperd's read model and search index, wired as paperd wires
// them, with its log.
type replica struct {
	t       *testing.T
	model   *readmodel.Model
	syncer  *readmodel.Syncer
	intents *readmodel.Intents
	index   *Index
	indexer *Indexer
	logs    *lockedBuffer
}

// start starts a replica on w's directory: the read model restored from its
// checkpoint or loaded, then the index reconciled with it.
func (w *world) start() *replica {
	w.t.Helper()
	r, err := w.startReconciling(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	return r
}

// startReconciling is start with the index reconciled under ctx, and
// Reconcile's error.
func (w *world) startReconciling(reconcile context.Context) (*replica, error) {
	w.t.Helper()
	ctx := context.Background()
	r := &replica{t: w.t, model: readmodel.New(), logs: &lockedBuffer{}}
	log := slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if err := r.model.StoreAbstracts(filepath.Join(w.dir, "readmodel.abstracts")); err != nil {
		w.t.Fatal(err)
	}
	var err error
	if r.intents, err = readmodel.OpenIntents(filepath.Join(w.dir, "intents.journal")); err != nil {
		w.t.Fatal(err)
	}
	r.syncer = &readmodel.Syncer{Model: r.model, Repo: w.papers, Votes: w.votes, Log: log, Intents: r.intents,
		SnapshotPath: filepath.Join(w.dir, "readmodel.checkpoint"), DatabaseID: "db"}
	if err := r.syncer.Start(ctx); err != nil {
		w.t.Fatal(err)
	}
	if r.index, err = Open(filepath.Join(w.dir, "search")); err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(r.kill)
	r.indexer = &Indexer{Index: r.index, Model: r.model, Log: log}
	err = r.indexer.Reconcile(reconcile)
	r.syncer.Saved = r.indexer.Checkpointed
	return r, err
}

// catchUp reads the change log and indexes what changed, as Run does.
func (r *replica) catchUp() {
	r.t.Helper()
	if err := r.syncer.Poll(context.Background()); err != nil {
		r.t.Fatal(err)
	}
	if err := r.indexer.sync(context.Background()); err != nil {
		r.t.Fatal(err)
	}
}

// save writes a checkpoint and returns it.
func (r *replica) save() readmodel.Checkpoint {
	r.t.Helper()
	var cp readmodel.Checkpoint
	saved := r.syncer.Saved
	r.syncer.Saved = func(c readmodel.Checkpoint) {
		cp = c
		saved(c)
	}
	defer func() { r.syncer.Saved = saved }()
	if err := r.syncer.Save(); err != nil {
		r.t.Fatal(err)
	}
	return cp
}

// kill drops the replica as kill -9 would: no last index update, no last
// checkpoint. Every index batch applied is on disk already (a batch returns
// once persisted), so closing the index adds nothing to it.
func (r *replica) kill() {
	if r.index == nil {
		return
	}
	_ = r.index.Close()
	_ = r.model.Close()
	_ = r.intents.Close()
	r.index = nil
}

// holds checks that r's read model holds what the database holds and its index
// what the read model holds.
func (w *world) holds(r *replica) {
	w.t.Helper()
	stored := map[string]int64{}
	if err := w.papers.All(context.Background(), func(p *repository.Paper) error {
		stored[p.ID] = p.Version
		return nil
	}); err != nil {
		w.t.Fatal(err)
	}
	served := map[string]int64{}
	for _, p := range r.model.All() {
		served[p.ID] = p.Version
	}
	for id, v := range stored {
		if served[id] != v {
			w.t.Errorf("the read model has paper %s at version %d, the database at %d", id, served[id], v)
		}
	}
	for id := range served {
		if _, ok := stored[id]; !ok {
			w.t.Errorf("the read model has paper %s, which the database does not", id)
		}
	}
	w.holdsModel(r)
}

// holdsModel checks that r's index holds every paper of the read model at its
// version and no other, and that a search for the word of each paper's title
// finds it, and finds no paper the model does not have.
func (w *world) holdsModel(r *replica) {
	w.t.Helper()
	indexed, err := r.index.Versions()
	if err != nil {
		w.t.Fatal(err)
	}
	model := map[string]*repository.Paper{}
	for _, p := range r.model.All() {
		model[p.ID] = p
		if v, ok := indexed[p.ID]; !ok || v != p.Version {
			w.t.Errorf("paper %s is at version %d in the read model, and at %d in the index (indexed: %v)", p.ID, p.Version, v, ok)
		}
	}
	for id := range indexed {
		if _, ok := model[id]; !ok {
			w.t.Errorf("paper %s is in the index, and not in the read model", id)
		}
	}
	for i := range 500 {
		q, err := Parse(w.word(i))
		if err != nil {
			w.t.Fatal(err)
		}
		hits, _, err := r.index.Search(q)
		if err != nil {
			w.t.Fatal(err)
		}
		p, live := model[w.id(i)]
		switch {
		case live && (len(hits) != 1 || hits[0].ID != p.ID):
			w.t.Errorf("a search for %q (the title of %s, %q) finds %v", w.word(i), p.ID, p.Title, hits)
		case !live && len(hits) != 0:
			w.t.Errorf("a search for %q finds %v; the read model has no paper %s", w.word(i), hits, w.id(i))
		}
	}
	if len(model) < 10 {
		w.t.Errorf("only %d papers: the test did not run", len(model))
	}
}

// lockedBuffer is a log's destination, safe for concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestVersionsAreThoseIndexed: Versions reads each indexed paper's version from
// the index's segments, after batches that update papers another batch indexed
// (the older copies stay in their segment, marked deleted) and delete papers,
// and after the index is closed and opened again (its segments then on disk).
func TestVersionsAreThoseIndexed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ix, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 4)) //nolint:gosec // test data
	want := map[string]int64{}
	for batch := range 12 {
		var upserts []*repository.Paper
		var deletes []string
		for range 50 {
			p := randomPaper(r, r.IntN(300))
			p.Version = int64(batch*1000 + r.IntN(1000))
			if r.IntN(5) == 0 {
				deletes = append(deletes, p.ID)
				continue
			}
			upserts = append(upserts, p)
		}
		// In one batch, a paper both indexed and deleted is deleted.
		for _, p := range upserts {
			want[p.ID] = p.Version
		}
		for _, id := range deletes {
			delete(want, id)
		}
		if err := ix.Apply(upserts, deletes); err != nil {
			t.Fatal(err)
		}
	}
	// Last, deletes only: their documents stay in older segments, marked
	// deleted, until a merge rewrites those.
	var deletes []string
	for id := range want {
		if len(deletes) < 60 {
			deletes = append(deletes, id)
		}
	}
	for _, id := range deletes {
		delete(want, id)
	}
	if err := ix.Apply(nil, deletes); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		got, err := ix.Versions()
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(got, want) {
			t.Errorf("%s: Versions returns %d papers, %d indexed", when, len(got), len(want))
			for id, v := range want {
				if got[id] != v {
					t.Errorf("%s: paper %s: version %d, indexed %d", when, id, got[id], v)
				}
			}
			for id := range got {
				if _, ok := want[id]; !ok {
					t.Errorf("%s: paper %s is not indexed", when, id)
				}
			}
		}
		if n, err := ix.DocCount(); err != nil || int(n) != len(want) {
			t.Errorf("%s: the index counts %d papers (%v), want %d", when, n, err, len(want))
		}
	}
	check("while open")
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	if ix, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ix.Close() }()
	check("opened again")
}
