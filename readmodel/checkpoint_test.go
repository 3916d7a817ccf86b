package readmodel

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/papercatalog/papers/clock"
	"github.com/papercatalog/papers/repository"
	"github.com/papercatalog/papers/repository/mongo"
	"github.com/papercatalog/papers/repository/mongo/mongotest"
)

func TestCheckpointRoundTripStaysForTheNextStart(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "readmodel.checkpoint")
	m := New()
	var all []*repository.Paper
	for i := range 2*checkpointChunk + 5 { // more than one chunk, and a partial last one
		all = append(all, paper(fmt.Sprintf("p%d", i), int64(i+1), 0))
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 50 { // every field set (see fill)
		p := &repository.Paper{}
		fill(r, reflect.ValueOf(p).Elem())
		p.ID, p.Version, p.Upvotes, p.BaseUpvotes = fmt.Sprintf("full%d", i), int64(i+1), 0, 0
		all = append(all, p)
	}
	m.Replace(append(all, paper("a", 1, 3)), 0)
	m.AddVote(repository.Vote{PaperID: "a", User: "u1"}, 10)
	m.Remove("gone", 7)
	synced := time.Now().UTC().Truncate(time.Millisecond)
	if _, err := m.SaveSnapshot(path, "db-1", synced); err != nil {
		t.Fatal(err)
	}

	if snap, err := readSnapshot(filepath.Join(t.TempDir(), "none"), "db-1"); err != nil || snap != nil {
		t.Errorf("a missing checkpoint: %v %v", snap, err)
	}
	for range 2 { // a start does not use the checkpoint up: a crash after it restores it again
		snap, err := readSnapshot(path, "db-1")
		if err != nil || snap == nil {
			t.Fatalf("read: %v %v", snap, err)
		}
		r := New()
		if err := r.restore(snap); err != nil {
			t.Fatal(err)
		}
		for _, p := range all {
			if got, _ := r.Get(p.ID); !reflect.DeepEqual(got, p) {
				t.Fatalf("paper %s restored as\n%+v\nwant\n%+v", p.ID, got, p)
			}
		}
		if got, ok := r.Get("a"); !ok || got.Upvotes != 4 || !r.HasVote(repository.Vote{PaperID: "a", User: "u1"}) {
			t.Errorf("restored paper a: %v %v", got, ok)
		}
		if r.Put(paper("gone", 5, 0)) {
			t.Error("the restored tombstone did not hold back an older version")
		}
		if !snap.Synced.Equal(synced) || !r.Loaded() || r.Len() != len(all)+1 {
			t.Errorf("synced %v loaded %v len %d, want %d", snap.Synced, r.Loaded(), r.Len(), len(all)+1)
		}
	}

	if snap, err := readSnapshot(path, "db-2"); err == nil || snap != nil {
		t.Errorf("a checkpoint of another database was used: %v %v", snap, err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	flipped := slices.Clone(b)
	flipped[len(b)/2] ^= 0x20 // within the papers: gob's framing still holds
	for name, damaged := range map[string][]byte{"not a checkpoint": []byte("not a checkpoint"), "cut short": b[:len(b)/2],
		"a byte changed": flipped} {
		if err := os.WriteFile(path, damaged, 0o600); err != nil {
			t.Fatal(err)
		}
		if snap, err := readSnapshot(path, "db-1"); err == nil || snap != nil {
			t.Errorf("%s: a damaged checkpoint was used (error %v)", name, err)
		}
	}
}

func TestIntentsLeftOpenAreReadBackOnce(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "intents.journal")
	j, err := OpenIntents(path)
	if err != nil {
		t.Fatal(err)
	}
	vote := repository.VoteRecord{PaperID: "a", User: "u", Added: true, Version: 5, Prev: 2}
	open, err := j.Begin([]string{"a", "b"}, []repository.VoteRecord{vote})
	if err != nil {
		t.Fatal(err)
	}
	done, err := j.Begin([]string{"c"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	done.Done()
	_ = open // never finished: the process dies here
	// The process was killed while appending its next intent.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"s":3,"p":["d"`); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()

	j2, err := OpenIntents(path)
	if err != nil {
		t.Fatal(err)
	}
	left := j2.Left()
	if len(left) != 1 || !slices.Equal(left[0].Papers, []string{"a", "b"}) || !slices.Equal(left[0].Votes, []repository.VoteRecord{vote}) {
		t.Fatalf("left open: %+v, want the intent of a and b with its vote", left)
	}
	// The new process's intents carry on from the old ones' numbers.
	next, err := j2.Begin([]string{"e"}, nil)
	if err != nil || next.seq <= left[0].Seq {
		t.Fatalf("next intent %+v after %d: %v", next, left[0].Seq, err)
	}
	if err := j2.Forget(); err != nil {
		t.Fatal(err)
	}
	j3, err := OpenIntents(path)
	if err != nil {
		t.Fatal(err)
	}
	if left := j3.Left(); len(left) != 1 || !slices.Equal(left[0].Papers, []string{"e"}) {
		t.Errorf("after Forget, left open: %+v, want only e (begun after the repair)", left)
	}
}

func TestIntentsJournalStaysSmall(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "intents.journal")
	j, err := OpenIntents(path)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 500)
	for i := range ids {
		ids[i] = fmt.Sprintf("2401.%05d", i)
	}
	var kept *Began
	for i := range 2000 { // about 12 MB of intents, all finished but one
		b, err := j.Begin(ids, nil)
		if err != nil {
			t.Fatal(err)
		}
		if i == 1000 {
			kept = b
			continue
		}
		b.Done()
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() > compactAt+64<<10 {
		t.Errorf("journal of 2,000 finished intents is %d bytes, more than %d", st.Size(), compactAt)
	}
	j2, err := OpenIntents(path)
	if err != nil {
		t.Fatal(err)
	}
	if left := j2.Left(); len(left) != 1 || left[0].Seq != kept.seq {
		t.Errorf("left open after compactions: %d intents, want the one kept open", len(left))
	}
}

// TestStartAfterACrashRepairsUnrecordedWrites plays what kill -9 leaves: a
// checkpoint, changes recorded since, and writes that reached the database but
// not the change log. A start restores the checkpoint, replays the change log,
// and re-reads what the open intents name.
func TestStartAfterACrashRepairsUnrecordedWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := mongotest.Open(t)
	papers, votes := mongo.NewPapers(db), mongo.NewVotes(db)
	dir := t.TempDir()
	start := func() (*Syncer, *Model) {
		t.Helper()
		intents, err := OpenIntents(filepath.Join(dir, "intents.journal"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = intents.Close() })
		m := New()
		s := &Syncer{Model: m, Repo: papers, Votes: votes, SnapshotPath: filepath.Join(dir, "readmodel.checkpoint"),
			DatabaseID: "db", Intents: intents, Log: slog.New(slog.DiscardHandler)}
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
		return s, m
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	version := func() int64 { return repository.NextVersion(time.Now(), 0) }
	create := func(id string) *repository.Paper {
		t.Helper()
		p := &repository.Paper{ID: id, Title: id, SubmitTime: now, CreateTime: now, UpdateTime: now, Version: version()}
		if err := papers.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	record := func(c repository.Change) {
		t.Helper()
		c.Time = time.Now().UTC()
		if _, err := papers.RecordChange(ctx, c); err != nil {
			t.Fatal(err)
		}
	}

	s, _ := start() // an empty database: loaded whole
	a, gone := create("a"), create("gone")
	record(repository.Change{PaperID: "a", Version: a.Version, Paper: a})
	record(repository.Change{PaperID: "gone", Version: gone.Version, Paper: gone})
	if err := s.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	// Another replica, which learns of writes only from the change log.
	other := &Syncer{Model: New(), Repo: papers, Votes: votes, Log: slog.New(slog.DiscardHandler)}
	if err := other.Start(ctx); err != nil {
		t.Fatal(err)
	}

	// After the checkpoint: a recorded write (replayed from the change log) ...
	c := create("c")
	record(repository.Change{PaperID: "c", Version: c.Version, Paper: c})
	// ... a write no one journalled nor recorded (a start that loaded everything
	// would find it: its absence shows the checkpoint was used) ...
	create("unjournalled")
	// ... and writes begun and stored, whose process died before recording them.
	vote := repository.VoteRecord{PaperID: "a", User: "u1", Added: true, Version: version()}
	if _, err := s.Intents.Begin([]string{"b", "a", "gone", "never"}, []repository.VoteRecord{vote}); err != nil {
		t.Fatal(err)
	}
	create("b")
	a2 := *a
	a2.Title, a2.Version = "a, changed", version()
	if err := papers.Update(ctx, &a2, a.Version); err != nil {
		t.Fatal(err)
	}
	if err := papers.Delete(ctx, "gone", 0); err != nil {
		t.Fatal(err)
	}
	if lost, err := votes.RecordVotes(ctx, []repository.VoteRecord{vote}); err != nil || len(lost) != 0 {
		t.Fatal(lost, err)
	}

	// A checkpoint the kill interrupted while it was being written.
	partial := filepath.Join(dir, ".checkpoint-123")
	if err := os.WriteFile(partial, []byte("half a checkpoint"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, m := start()
	if _, err := os.Stat(partial); !os.IsNotExist(err) {
		t.Errorf("the interrupted checkpoint's file is still there: %v", err)
	}
	for _, id := range []string{"c", "b"} {
		if _, ok := m.Get(id); !ok {
			t.Errorf("paper %s is missing after the restart", id)
		}
	}
	if got, ok := m.Get("a"); !ok || got.Title != "a, changed" || got.Upvotes != 1 {
		t.Errorf("paper a after the restart: %+v, want the unrecorded update and vote", got)
	}
	for _, id := range []string{"gone", "never"} {
		if _, ok := m.Get(id); ok {
			t.Errorf("paper %s is served after the restart; the database does not have it", id)
		}
	}
	if _, ok := m.Get("unjournalled"); ok {
		t.Error("the start loaded the whole database instead of restoring the checkpoint")
	}

	// The other replica learns the repaired writes from the change log.
	if err := other.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := other.Model.Get("b"); !ok {
		t.Error("another replica did not learn of the repaired create of b")
	}
	if got, ok := other.Model.Get("a"); !ok || got.Title != "a, changed" || got.Upvotes != 1 {
		t.Errorf("another replica has paper a as %+v, want the repaired update and vote", got)
	}
	if _, ok := other.Model.Get("gone"); ok {
		t.Error("another replica did not learn of the repaired delete")
	}

	// The repair is done once: the next start has nothing left to repair.
	b, err := os.ReadFile(filepath.Join(dir, "intents.journal"))
	if err != nil || bytes.Contains(b, []byte(`"never"`)) {
		t.Errorf("the journal still holds the repaired intent: %q %v", b, err)
	}
}

// TestAbstractsLiveInTheirFile: with StoreAbstracts, the model's papers leave
// their abstracts in the file, Full reads them back, an unchanged abstract is
// not written twice, and a checkpoint restores the references with the file cut
// back to what the checkpoint knows.
func TestAbstractsLiveInTheirFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file, checkpoint := filepath.Join(dir, "readmodel.abstracts"), filepath.Join(dir, "readmodel.checkpoint")
	open := func() *Model {
		t.Helper()
		m := New()
		if err := m.StoreAbstracts(file); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = m.Close() })
		return m
	}
	withAbstract := func(id string, version int64, abstract string) *repository.Paper {
		p := paper(id, version, 0)
		p.Abstract = abstract
		return p
	}
	size := func() int64 {
		t.Helper()
		st, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	full := func(m *Model, id string) string {
		t.Helper()
		p, ok := m.Get(id)
		if !ok {
			t.Fatalf("paper %s is missing", id)
		}
		f, err := m.Full(p)
		if err != nil {
			t.Fatal(err)
		}
		return f.Abstract
	}

	m := open()
	m.Replace([]*repository.Paper{withAbstract("a", 1, "About a."), withAbstract("b", 1, "About b."), paper("c", 1, 0)}, 0)
	if p, _ := m.Get("a"); p.Abstract != "" {
		t.Errorf("the model keeps the abstract %q in memory", p.Abstract)
	}
	if got := full(m, "a"); got != "About a." {
		t.Errorf("Full: abstract %q", got)
	}
	if got := full(m, "c"); got != "" {
		t.Errorf("a paper without an abstract got %q", got)
	}
	if _, err := m.texts.sync(); err != nil {
		t.Fatal(err)
	}
	before := size()
	m.Put(withAbstract("a", 2, "About a.")) // a new version, the same abstract
	if _, err := m.texts.sync(); err != nil {
		t.Fatal(err)
	}
	if size() != before {
		t.Errorf("an unchanged abstract was written again: %d bytes, then %d", before, size())
	}
	if _, err := m.SaveSnapshot(checkpoint, "db", time.Now()); err != nil {
		t.Fatal(err)
	}
	// After the checkpoint: a changed abstract and a deletion, which a restart
	// from the checkpoint forgets (the change-log replay makes them again).
	m.Put(withAbstract("b", 2, "About b, changed."))
	m.Remove("a", 3)
	if got := full(m, "b"); got != "About b, changed." {
		t.Errorf("Full after a change: %q", got)
	}
	if _, ok := m.Get("a"); ok {
		t.Error("a removed paper is still there")
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	r := open()
	snap, err := readSnapshot(checkpoint, "db")
	if err != nil || snap == nil {
		t.Fatal(snap, err)
	}
	for p := range snap.papers.all() {
		if p.Abstract != "" {
			t.Errorf("the checkpoint holds the abstract of %s", p.ID)
		}
	}
	if err := r.restore(snap); err != nil {
		t.Fatal(err)
	}
	if size() != snap.TextsSize {
		t.Errorf("the abstracts' file is %d bytes after the restore, the checkpoint knew %d", size(), snap.TextsSize)
	}
	if a, b := full(r, "a"), full(r, "b"); a != "About a." || b != "About b." {
		t.Errorf("restored abstracts %q and %q", a, b)
	}
	r.Put(withAbstract("b", 2, "About b, changed."))
	if got := full(r, "b"); got != "About b, changed." {
		t.Errorf("Full after the replay: %q", got)
	}

	// A model without the file cannot use a checkpoint whose papers have none.
	if err := New().restore(snap); err == nil {
		t.Error("a model without an abstracts' file restored a checkpoint that needs one")
	}
}

// TestReloadKeepsTheAbstractOfANewerWrite: a reload whose scan saw an older
// copy of a paper the model has a newer version of keeps the newer abstract.
func TestReloadKeepsTheAbstractOfANewerWrite(t *testing.T) {
	t.Parallel()
	m := New()
	if err := m.StoreAbstracts(filepath.Join(t.TempDir(), "readmodel.abstracts")); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = m.Close() }()
	m.Replace(nil, 0)
	newer := paper("d", 5, 0)
	newer.Abstract = "Written after the scan began."
	m.Put(newer)
	older := paper("d", 4, 0)
	older.Abstract = "As the scan saw it."
	m.Replace([]*repository.Paper{older}, 5)
	p, _ := m.Get("d")
	f, err := m.Full(p)
	if err != nil || f.Version != 5 || f.Abstract != newer.Abstract {
		t.Errorf("after the reload: version %d, abstract %q (%v); want version 5 and its abstract", f.Version, f.Abstract, err)
	}
}

// TestStartLeavesTheCollectorOn: Start turns the collector off for the read
// and the restore of a checkpoint, and on again whatever it finds: a usable
// checkpoint, none, a damaged one, one of another database, or one older than
// the change log keeps. Not parallel: the collector's setting is the process's.
func TestStartLeavesTheCollectorOn(t *testing.T) {
	ctx := context.Background()
	db := mongotest.Open(t)
	papers, votes := mongo.NewPapers(db), mongo.NewVotes(db)
	dir := t.TempDir()
	path := filepath.Join(dir, "readmodel.checkpoint")
	before := debug.SetGCPercent(81)
	defer debug.SetGCPercent(before)
	m := New()
	m.Replace([]*repository.Paper{paper("a", 1, 0)}, 0)
	if _, err := m.SaveSnapshot(path, "db", time.Now()); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		file     []byte // nil: none
		database string
		prune    bool // the change log pruned past the checkpoint
		restored bool
	}{
		{"usable", good, "db", false, true},
		{"none", nil, "db", false, false},
		{"damaged", good[:len(good)/2], "db", false, false},
		{"of another database", good, "other", false, false},
		{"older than the change log keeps", good, "db", true, false},
	} {
		if c.prune {
			if err := papers.PruneChanges(ctx, time.Now().Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		_ = os.Remove(path)
		if c.file != nil {
			if err := os.WriteFile(path, c.file, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		m := New()
		s := &Syncer{Model: m, Repo: papers, Votes: votes, SnapshotPath: path, DatabaseID: c.database,
			Log: slog.New(slog.DiscardHandler)}
		if err := s.Start(ctx); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if _, ok := m.Get("a"); ok != c.restored {
			t.Errorf("%s: paper a restored %v, want %v", c.name, ok, c.restored)
		}
		p := debug.SetGCPercent(81)
		if p != 81 {
			t.Errorf("%s: the collector's setting is %d after Start, want 81", c.name, p)
		}
	}
}

// TestAnOldCheckpointIsReplayedUnlessThePruneTookItsChanges: a checkpoint
// written two hours ago, older than the change log keeps, is restored and
// replayed when no prune took a change recorded since it (a replica stopped
// while no other pruned); it is given up for a load from the database when
// one may have, and when the database has no record of its prunes.
func TestAnOldCheckpointIsReplayedUnlessThePruneTookItsChanges(t *testing.T) {
	t.Parallel()
	synced := time.Now().Add(-2 * time.Hour).UTC().Truncate(time.Millisecond)
	for _, c := range []struct {
		name     string
		pruned   time.Duration // before synced; 0: no prune recorded
		restored bool
	}{
		{"no prune recorded", 0, false},
		{"pruned before the checkpoint", -time.Hour, true},
		{"pruned past the checkpoint", time.Minute, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := mongotest.Open(t)
			papers, votes := mongo.NewPapers(db), mongo.NewVotes(db)
			path := filepath.Join(t.TempDir(), "readmodel.checkpoint")
			m := New()
			m.Replace([]*repository.Paper{paper("a", 1, 0)}, 0)
			if _, err := m.SaveSnapshot(path, "db", synced); err != nil {
				t.Fatal(err)
			}
			// Recorded after the checkpoint; the database's papers hold neither.
			if _, err := papers.RecordChange(ctx, repository.Change{PaperID: "b", Version: 1, Paper: paper("b", 1, 0), Time: synced.Add(2 * time.Minute)}); err != nil {
				t.Fatal(err)
			}
			if c.pruned != 0 {
				if err := papers.PruneChanges(ctx, synced.Add(c.pruned)); err != nil {
					t.Fatal(err)
				}
			}
			m = New()
			s := &Syncer{Model: m, Repo: papers, Votes: votes, SnapshotPath: path, DatabaseID: "db", Log: slog.New(slog.DiscardHandler)}
			if err := s.Start(ctx); err != nil {
				t.Fatal(err)
			}
			_, a := m.Get("a")
			_, b := m.Get("b")
			if a != c.restored || b != c.restored {
				t.Errorf("papers a (checkpoint) %v and b (replayed) %v; want both %v", a, b, c.restored)
			}
		})
	}
}

// TestAReloadLongerThanAPollFinishes: a poll that reloads every paper (here
// FullReload's) is not cut at PollTimeout, which is for reading changes: at 2.7
// million papers a reload takes minutes, and was begun again at every poll.
func TestAReloadLongerThanAPollFinishes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := mongotest.Open(t)
	papers, votes := mongo.NewPapers(db), mongo.NewVotes(db)
	all := make([]*repository.Paper, 3000)
	for i := range all {
		all[i] = paper(fmt.Sprintf("p%05d", i), 1, 0)
		all[i].Abstract = strings.Repeat("An abstract of some length. ", 40)
	}
	if _, err := papers.InsertMany(ctx, all); err != nil {
		t.Fatal(err)
	}
	at := clock.NewFake(time.Now())
	m := New()
	if err := m.StoreAbstracts(filepath.Join(t.TempDir(), "abstracts")); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = m.Close() }()
	s := &Syncer{Model: m, Repo: papers, Votes: votes, Log: slog.New(slog.DiscardHandler), Clock: at,
		PollTimeout: 20 * time.Millisecond, FullReload: time.Hour}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if s.loadTook <= s.PollTimeout {
		t.Fatalf("the load took %v, not longer than a poll may: the test shows nothing; insert more papers", s.loadTook)
	}
	// Not in the change log: only a reload finds it.
	if _, err := papers.InsertMany(ctx, []*repository.Paper{paper("late", 1, 0)}); err != nil {
		t.Fatal(err)
	}
	at.Advance(max(time.Hour, 20*s.loadTook) + time.Minute)
	if err := s.Poll(ctx); err != nil {
		t.Fatalf("poll with a reload: %v", err)
	}
	if _, ok := m.Get("late"); !ok || m.Len() != len(all)+1 {
		t.Errorf("after the reload: %d papers, the late one %v; want %d and true", m.Len(), ok, len(all)+1)
	}
	// The load wrote each abstract to the file as it read it (Prepare).
	for _, want := range []*repository.Paper{all[0], all[len(all)-1]} {
		p, _ := m.Get(want.ID)
		if f, err := m.Full(p); err != nil || f.Abstract != want.Abstract || p.Abstract != "" {
			t.Errorf("paper %s: abstract %.20q in the model, %.20q from the file (%v); want it from the file", want.ID, p.Abstract, f.Abstract, err)
		}
	}
}

// TestRestoreChecksIDsAndCounts: a restore appends the checkpoint's papers
// without looking their IDs up, so a checkpoint that holds an ID twice is
// refused by its count; and it counts again the upvotes of the papers that
// have votes, and of those whose count is off without any.
func TestRestoreChecksIDsAndCounts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	saved := 0
	save := func(m *Model) string {
		t.Helper()
		saved++
		path := filepath.Join(dir, fmt.Sprintf("checkpoint-%d", saved))
		if _, err := m.SaveSnapshot(path, "db", time.Now()); err != nil {
			t.Fatal(err)
		}
		return path
	}

	twice := New()
	twice.Replace([]*repository.Paper{paper("a", 1, 0), paper("b", 1, 0)}, 0)
	twice.papers.rows = append(twice.papers.rows, paper("a", 2, 0))
	twice.papers.refs = append(twice.papers.refs, textRef{})
	if snap, err := readSnapshot(save(twice), "db"); err == nil || snap != nil || !strings.Contains(err.Error(), "2 distinct") {
		t.Errorf("a checkpoint with paper a twice: %v, %v", snap, err)
	}

	m := New()
	m.Replace([]*repository.Paper{paper("voted", 1, 3), paper("off", 1, 3), paper("plain", 1, 7)}, 0)
	m.AddVote(repository.Vote{PaperID: "voted", User: "u1"}, 10)
	off := *m.papers.at("off")
	off.Upvotes = 5 // counts two upvotes no one cast
	m.papers.put(&off)
	voted := *m.papers.at("voted")
	voted.Upvotes = 3 // misses its vote
	m.papers.put(&voted)
	snap, err := readSnapshot(save(m), "db")
	if err != nil {
		t.Fatal(err)
	}
	r := New()
	if err := r.restore(snap); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]int64{"voted": 4, "off": 3, "plain": 7} {
		if p, ok := r.Get(id); !ok || p.Upvotes != want {
			t.Errorf("paper %s restored with %d upvotes (found %v), want %d", id, p.Upvotes, ok, want)
		}
	}

	// The bitmaps of categories and days a restore builds at once are those
	// the writes built one paper at a time.
	day := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	var many []*repository.Paper
	for i := range 3000 {
		p := paper(fmt.Sprintf("p%d", i), 1, 0)
		p.Categories = [][]string{{"cs.LG"}, {"cs.LG", "cs.CV"}, {"math.OC"}}[i%3]
		p.SubmitTime = day.Add(time.Duration(i%7) * 24 * time.Hour)
		many = append(many, p)
	}
	w := New()
	w.Replace(many, 0)
	w.Remove("p5", 2) // a free slot
	if snap, err = readSnapshot(save(w), "db"); err != nil {
		t.Fatal(err)
	}
	for name, pair := range map[string][2]map[string]string{
		"categories": {idsOf(w.papers, w.papers.categories), idsOf(snap.papers, snap.papers.categories)},
		"days":       {idsOf(w.papers, w.papers.days), idsOf(snap.papers, snap.papers.days)},
	} {
		if !maps.Equal(pair[0], pair[1]) || len(pair[0]) == 0 {
			t.Errorf("%s restored as %v, want %v", name, pair[1], pair[0])
		}
	}
}

// idsOf returns the IDs of the papers of each key's bitmap, sorted, as text:
// slots differ between a written table and a restored one.
func idsOf[K comparable](t *table, postings map[K]*roaring.Bitmap) map[string]string {
	out := map[string]string{}
	for k, b := range postings {
		var ids []string
		for _, s := range b.ToArray() {
			ids = append(ids, t.rows[s].ID)
		}
		slices.Sort(ids)
		out[fmt.Sprint(k)] = strings.Join(ids, ",")
	}
	return out
}
