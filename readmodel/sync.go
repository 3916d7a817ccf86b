package readmodel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/papercatalog/papers/clock"
	"github.com/papercatalog/papers/repository"
)

// Syncer loads the model from the database and keeps it caught up with writes made
// by other replicas, which every writer records in the change log.
type Syncer struct {
	Model *Model
	Repo  repository.Papers
	Votes repository.Votes
	Log   *slog.Logger
	// Interval is how often the change log is read (default 5 s).
	Interval time.Duration
	// Retention is how long changes stay in the change log (default 15 min). A
	// replica that could not read it for longer reloads everything, unless the
	// change log was not pruned meanwhile.
	Retention time.Duration
	// PollTimeout is how long reading the changes of one poll may take
	// (default four Intervals, at least 30 s). A reload has no such limit.
	PollTimeout time.Duration
	// FullReload is how often everything is reloaded anyway (default 6 h; at
	// least twenty times as long as the last load took), which also repairs a
	// change a writer of a replica that never started again crashed before
	// recording (a replica that starts again records what it repairs).
	FullReload time.Duration
	// SnapshotPath, when set, is where the model's checkpoint is written (every
	// Checkpoint while Run runs, and by Save on a clean shutdown) and where Start
	// looks for it; DatabaseID tells checkpoints of other databases apart.
	SnapshotPath string
	DatabaseID   string
	// Checkpoint is how often Run writes a checkpoint (default 1 min; 0 with
	// SnapshotPath set: the default). A large model is checkpointed less often:
	// at most a tenth of the time goes to writing it, and never less often than
	// a third of Retention, so that a checkpoint is always within the change log.
	Checkpoint time.Duration
	// Saved, if set, is called with each checkpoint written (by Run, or by
	// Save), from the goroutine that wrote it, once it is on disk: a derived
	// index records from it which checkpoint it holds every change of (see
	// Checkpoint).
	Saved func(Checkpoint)
	// Intents, if set, is the journal of this replica's writes begun and not yet
	// recorded; Start repairs the model from the database for those the last
	// process left open.
	Intents *Intents
	// Clock gives the time polls read the change log from, which writers
	// stamp with the same clock (nil: the system's clock).
	Clock clock.Clock

	lastPoll  time.Time    // start of the last successful poll
	synced    atomic.Int64 // lastPoll in Unix nanoseconds, for other goroutines
	lastFull  time.Time
	loadTook  time.Duration // how long the last full load took (real time)
	lastPrune time.Time
	// nextCheckpoint is when Run writes the next checkpoint (real time).
	nextCheckpoint time.Time

	mu      sync.Mutex
	applied map[string]time.Time // changes of the polled window already in the model
}

// Synced returns when the model was last brought up to date with the database:
// the start of the last successful poll or load (zero before the first).
func (s *Syncer) Synced() time.Time {
	if n := s.synced.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// MarkApplied records that the model has change ref already (this replica made
// it), so polls do not load it.
func (s *Syncer) MarkApplied(ref repository.ChangeRef) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.applied == nil {
		s.applied = map[string]time.Time{}
	}
	s.applied[ref.ID] = ref.Time
}

func (s *Syncer) wasApplied(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.applied[id]
	return ok
}

// forgetApplied drops the marks of changes older than the polled window.
func (s *Syncer) forgetApplied(since time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, t := range s.applied {
		if t.Before(since) {
			delete(s.applied, id)
		}
	}
}

// overlap is how far back each poll reads before the previous one began, to
// tolerate clock skew between replicas and changes committed late. Applying a
// change twice is harmless.
const overlap = 30 * time.Second

// now is the time of s.Clock.
func (s *Syncer) now() time.Time { return clock.Or(s.Clock).Now() }

func (s *Syncer) defaults() {
	if s.Interval <= 0 {
		s.Interval = 5 * time.Second
	}
	if s.Retention <= 0 {
		s.Retention = 15 * time.Minute
	}
	if s.FullReload <= 0 {
		s.FullReload = 6 * time.Hour
	}
	if s.PollTimeout <= 0 {
		s.PollTimeout = max(s.Interval*4, 30*time.Second)
	}
	if s.Checkpoint <= 0 {
		s.Checkpoint = time.Minute
	}
	if s.Log == nil {
		s.Log = slog.Default()
	}
}

// Start fills the model: from the newest checkpoint, caught up with the changes
// recorded since and repaired for the writes the last process left unfinished,
// when there is a usable one; else from the database, saying why in the log.
func (s *Syncer) Start(ctx context.Context) error {
	s.defaults()
	if s.SnapshotPath != "" {
		// Checkpoints a kill interrupted while they were written.
		if partial, err := filepath.Glob(filepath.Join(filepath.Dir(s.SnapshotPath), ".checkpoint-*")); err == nil {
			for _, f := range partial {
				_ = os.Remove(f)
			}
		}
		began := time.Now() // real time: how long the restore took
		// One pause for the read and the restore: resumed between them, the
		// collector would start at once (the heap is far past its goal) and
		// mark the whole table while the restore runs.
		resume := pauseGC()
		snap, err := readSnapshot(s.SnapshotPath, s.DatabaseID)
		var gone string
		if err == nil && snap != nil {
			var serr error
			if gone, serr = s.pruned(ctx, snap.Synced); serr != nil {
				resume()
				return serr
			}
		}
		switch {
		case err != nil:
			s.Log.Warn("read model checkpoint unusable; loading from the database", "err", err)
		case snap == nil:
			s.Log.Info("no read model checkpoint; loading from the database")
		case gone != "":
			s.Log.Warn("read model checkpoint older than the change log keeps; loading from the database",
				"synced", snap.Synced, "reason", gone)
		default:
			err := s.Model.restore(snap)
			resume()
			if err != nil {
				s.Log.Warn("read model checkpoint unusable; loading from the database", "err", err)
				break
			}
			s.lastPoll, s.lastFull = snap.Synced, s.now()
			s.synced.Store(s.lastPoll.UnixNano())
			if err := s.Poll(ctx); err != nil {
				return fmt.Errorf("catch up after the checkpoint: %w", err)
			}
			left := s.Intents.Left()
			if err := s.repair(ctx, left); err != nil {
				return fmt.Errorf("repair the writes the last process left unfinished: %w", err)
			}
			if err := s.Intents.Forget(); err != nil {
				return err
			}
			s.Log.Info("read model restored from checkpoint", "papers", snap.papers.len(), "synced", snap.Synced,
				"unfinished_writes", len(left), "took", time.Since(began).Round(time.Millisecond))
			s.nextCheckpoint = time.Now().Add(s.Checkpoint)
			return nil
		}
		resume()
	}
	if err := s.Model.forgetAbstracts(); err != nil {
		return err
	}
	if err := s.Load(ctx); err != nil {
		return err
	}
	s.nextCheckpoint = time.Now() // a first checkpoint soon, so that a crash does not load everything again
	return s.Intents.Forget()     // the load read every write that had landed
}

// repair re-reads from the database the papers and votes of intents a process
// began and did not see through to the change log: their writes may have landed
// without a change-log entry. What it finds is recorded in the change log, for
// the other replicas, which would otherwise only learn it at a full reload.
func (s *Syncer) repair(ctx context.Context, left []Intent) error {
	seen := map[string]bool{}
	var votes []repository.VoteRecord
	var changes []repository.Change
	for _, in := range left {
		for _, id := range in.Papers {
			if seen[id] {
				continue
			}
			seen[id] = true
			c, err := s.Model.Refresh(ctx, s.Repo, id)
			if err != nil {
				return err
			}
			if c != nil {
				changes = append(changes, *c)
			}
		}
		votes = append(votes, in.Votes...)
	}
	if len(votes) > 0 && s.Votes != nil {
		stored, err := s.Votes.Stored(ctx, votes)
		if err != nil {
			return err
		}
		s.apply(repository.Change{Votes: stored})
		if len(stored) > 0 {
			changes = append(changes, repository.Change{Votes: stored})
		}
	}
	for _, c := range changes {
		c.Time = s.now().UTC()
		ref, err := s.Repo.RecordChange(ctx, c)
		if err != nil {
			s.Log.Warn("could not record a repaired change for other replicas; their next full reload has it", "paper", c.PaperID, "err", err)
			continue
		}
		s.MarkApplied(repository.ChangeRef{ID: ref, Time: c.Time})
	}
	return nil
}

// Save writes the model's checkpoint for the next start. Call it once nothing
// changes the model any more (after Run has returned).
func (s *Syncer) Save() error {
	if s.SnapshotPath == "" || !s.Model.Loaded() {
		return nil
	}
	cp, err := s.Model.SaveSnapshot(s.SnapshotPath, s.DatabaseID, s.lastPoll)
	if err != nil {
		return err
	}
	if s.Saved != nil {
		s.Saved(cp)
	}
	return nil
}

// pruned says why changes recorded since synced may be gone from the change
// log, or returns "" when none is: the change log was not pruned of any
// recorded at or after synced - overlap (where the first poll after a restore
// reads from). A database without a record of its prunes (made by an earlier
// version) is judged by the time instead: a checkpoint older than the change
// log keeps. A checkpoint of a replica stopped for hours is thus still
// replayed when no replica pruned the change log meanwhile.
func (s *Syncer) pruned(ctx context.Context, synced time.Time) (string, error) {
	before, ok, err := s.Repo.PrunedBefore(ctx)
	if err != nil {
		return "", err
	}
	switch {
	case !ok && s.now().Sub(synced) > s.Retention-overlap:
		return fmt.Sprintf("the database has no record of its prunes, and the checkpoint is older than the change log keeps (%s)", s.Retention), nil
	case ok && synced.Add(-overlap).Before(before):
		return "the change log was pruned of changes recorded before " + before.Format(time.RFC3339), nil
	}
	return "", nil
}

// checkpoint writes a checkpoint when one is due, from Run, between polls.
func (s *Syncer) checkpoint() {
	if s.SnapshotPath == "" || !s.Model.Loaded() || time.Now().Before(s.nextCheckpoint) {
		return
	}
	began := time.Now() // real time: pacing, not the model's clock
	if err := s.Save(); err != nil {
		s.Log.Warn("could not write the read model checkpoint; retrying at the next", "err", err)
	} else {
		s.Log.Debug("read model checkpoint written", "synced", s.lastPoll, "took", time.Since(began).Round(time.Millisecond))
	}
	every := max(s.Checkpoint, 10*time.Since(began))
	s.nextCheckpoint = time.Now().Add(min(every, s.Retention/3))
}

// Load reads every paper from the database into the model.
func (s *Syncer) Load(ctx context.Context) error {
	s.defaults()
	began := time.Now() // real time: how long the load took
	start := s.now()
	// The papers are prepared in a goroutine of their own, so that the
	// cursor asks for its next batch while they are: the embedded database
	// serves one cursor on about one core.
	var all []Loaded
	read := make(chan *repository.Paper, 4096)
	prepared := make(chan struct{})
	go func() {
		defer close(prepared)
		for p := range read {
			all = append(all, s.Model.Prepare(p))
		}
	}()
	err := s.Repo.All(ctx, func(p *repository.Paper) error {
		read <- p
		return nil
	})
	close(read)
	<-prepared
	if err != nil {
		return fmt.Errorf("load read model: %w", err)
	}
	var votes []repository.VoteRecord
	if s.Votes != nil {
		if err := s.Votes.AllVotes(ctx, func(v repository.VoteRecord) error {
			votes = append(votes, v)
			return nil
		}); err != nil {
			return fmt.Errorf("load votes: %w", err)
		}
	}
	s.Model.ReplaceLoaded(all, start.Add(-overlap).UnixNano())
	s.Model.ReplaceVotes(votes, start.Add(-overlap).UnixNano())
	s.lastPoll, s.lastFull = start, start
	s.synced.Store(start.UnixNano())
	s.loadTook = time.Since(began)
	s.Log.Info("read model loaded", "papers", len(all), "votes", len(votes), "took", time.Since(began).Round(time.Millisecond))
	return nil
}

// Run polls the change log every Interval until ctx ends. Errors are logged and
// retried at the next tick; reads keep being served meanwhile.
func (s *Syncer) Run(ctx context.Context) {
	s.defaults()
	t := time.NewTicker(s.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.Poll(ctx); err != nil {
			if ctx.Err() == nil {
				s.Log.Warn("read model sync failed; retrying", "err", err)
			}
			continue
		}
		s.checkpoint()
	}
}

// Poll applies the changes recorded since the last poll, or reloads everything when
// the change log may no longer hold every change since the last poll (see
// pruned), and every FullReload.
func (s *Syncer) Poll(ctx context.Context) error {
	s.defaults()
	start := s.now()
	reload := !s.Model.Loaded() || start.Sub(s.lastFull) > max(s.FullReload, 20*s.loadTook)
	if !reload && start.Sub(s.lastPoll) > s.Retention-overlap {
		gone, err := s.pruned(ctx, s.lastPoll)
		if err != nil {
			return err
		}
		reload = gone != ""
	}
	if reload {
		// Not within a poll's time: a load of millions of papers takes
		// minutes, and was cut and begun again at every poll. A database
		// that stops answering fails it.
		return s.Load(ctx)
	}
	ctx, cancel := context.WithTimeout(ctx, s.PollTimeout)
	defer cancel()
	since := s.lastPoll.Add(-overlap)
	refs, err := s.Repo.ChangesSince(ctx, since)
	if err != nil {
		return err
	}
	applied := 0
	for _, ref := range refs {
		if s.wasApplied(ref.ID) {
			continue
		}
		c, err := s.Repo.LoadChange(ctx, ref)
		if errors.Is(err, repository.ErrNotFound) {
			continue // pruned since it was listed: older than the change log keeps
		}
		if err != nil {
			return err
		}
		if s.apply(c) {
			applied++
		}
		s.MarkApplied(ref)
	}
	s.forgetApplied(since)
	if applied > 0 {
		s.Log.Debug("read model caught up", "changes", applied)
	}
	s.lastPoll = start
	s.synced.Store(start.UnixNano())
	if start.Sub(s.lastPrune) > time.Minute {
		if err := s.Repo.PruneChanges(ctx, start.Add(-s.Retention)); err != nil {
			return err
		}
		s.lastPrune = start
	}
	return nil
}

func (s *Syncer) apply(c repository.Change) bool {
	if len(c.Votes) > 0 {
		changed := false
		for _, r := range c.Votes {
			v := repository.Vote{PaperID: r.PaperID, User: r.User}
			if r.Added {
				changed = s.Model.AddVote(v, r.Version) || changed
			} else {
				changed = s.Model.RemoveVote(v, r.Version) || changed
			}
		}
		return changed
	}
	if len(c.Papers) > 0 {
		changed := false
		for _, p := range c.Papers {
			changed = s.Model.Put(p) || changed
		}
		return changed
	}
	if c.Deleted {
		return s.Model.Remove(c.PaperID, c.Version)
	}
	if c.Paper == nil {
		return false
	}
	return s.Model.Put(c.Paper)
}

// gcPause is the state of pauseGC: how many callers paused the collector, and
// its setting before the first.
var gcPause struct {
	sync.Mutex
	n       int
	percent int
}

// pauseGC turns the garbage collector off until the returned function is
// called. Reading and restoring a checkpoint allocates the model, which all
// stays live: a collection during it marks only what will be kept, a third of
// the restore's CPU in BenchmarkRestore. The garbage it leaves (the file's
// chunks) is at most the checkpoint's size, and a memory limit (GOMEMLIMIT)
// still starts a collection. Pauses may overlap (tests start many models in one
// process): the last to end restores the setting.
func pauseGC() (resume func()) {
	gcPause.Lock()
	if gcPause.n == 0 {
		gcPause.percent = debug.SetGCPercent(-1)
	}
	gcPause.n++
	gcPause.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			gcPause.Lock()
			gcPause.n--
			if gcPause.n == 0 {
				debug.SetGCPercent(gcPause.percent)
			}
			gcPause.Unlock()
		})
	}
}
