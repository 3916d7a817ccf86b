package search

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/papercatalog/papers/readmodel"
	"github.com/papercatalog/papers/repository"
)

// batchSize is how many papers go into one index batch.
const batchSize = 2000

// gather is how long the indexer lets changes gather before indexing them.
const gather = 250 * time.Millisecond

// maxDefer is the longest the indexer defers changes while Busy.
const maxDefer = 30 * time.Second

// Indexer keeps the index in step with the read model: Reconcile once at start,
// then Run applies every change the model reports.
//
// The index records with its data the read model checkpoint it reflects (see
// Checkpointed), so that a start that restores that checkpoint indexes only the
// papers changed since (see Reconcile) rather than comparing every one.
type Indexer struct {
	Index *Index
	Model *readmodel.Model
	Log   *slog.Logger
	// Busy, if set, reports bulk writes in progress (an import). The indexer then
	// lets changes gather for up to maxDefer: indexing competes with the import
	// for the CPU, and bigger batches cost less in all.
	Busy func() bool

	ready atomic.Bool

	// mu guards what follows: where the index stands against the model's
	// history of changes (see readmodel.Position), and the checkpoint it records.
	mu sync.Mutex
	// applied is the position up to which every change is in the index, unless
	// broken: a change was dropped (an apply failed or was cut short).
	applied  readmodel.Position
	broken   bool
	inflight bool // changes are being applied
	// marked says the index records a checkpoint, taken at a position of
	// markedLoads full loads.
	marked      bool
	markedLoads uint64
	// pending is the last checkpoint written that the index does not record yet.
	pending *readmodel.Checkpoint
}

// Ready reports whether the index has been reconciled with the model, so that
// searches miss nothing and return no deleted paper.
func (x *Indexer) Ready() bool { return x.ready.Load() }

// Reconcile brings the index in step with the model at start. When the model
// was restored from the checkpoint the index records, it indexes the papers
// changed since the restore (replayed from the change log, repaired) and keeps
// the record; otherwise, saying why in the log, it forgets the record, then
// indexes every paper of the model whose version the index does not have and
// removes every indexed paper the model does not have.
func (x *Indexer) Reconcile(ctx context.Context) error {
	start := time.Now()
	cp, why, err := x.restoredCheckpoint()
	if err != nil {
		return err
	}
	if why == "" {
		ids, at := x.Model.TakeDirty()
		upserts, deletes := x.changes(ids)
		if err := x.apply(ctx, upserts, deletes); err != nil {
			return err
		}
		x.mu.Lock()
		x.applied, x.marked, x.markedLoads = at, true, cp.At.Loads
		x.mu.Unlock()
		x.ready.Store(true)
		x.Log.Info("search index caught up with the read model checkpoint it holds", "checkpoint", cp.ID,
			"indexed", len(upserts), "removed", len(deletes), "took", time.Since(start).Round(time.Millisecond))
		return nil
	}
	x.Log.Info("search index: comparing every paper with the read model", "why", why)
	return x.reconcileAll(ctx, start)
}

// restoredCheckpoint returns the checkpoint the model was restored from when
// the index records it, or else why the index cannot be trusted to hold it.
func (x *Indexer) restoredCheckpoint() (readmodel.Checkpoint, string, error) {
	cp, restored := x.Model.Restored()
	held, err := x.Index.Checkpoint()
	switch {
	case err != nil:
		return cp, "", err
	case !restored:
		return cp, "the read model was loaded from the database", nil
	case cp.ID == "":
		return cp, "the read model checkpoint has no identity (written by an earlier paperd)", nil
	case held == "":
		return cp, "the index records no read model checkpoint", nil
	case held != cp.ID:
		return cp, fmt.Sprintf("the index records read model checkpoint %s, not %s, which was restored", held, cp.ID), nil
	}
	return cp, "", nil
}

// reconcileAll makes the index hold every paper of the model at its version,
// and no other, forgetting first which checkpoint it reflected.
func (x *Indexer) reconcileAll(ctx context.Context, start time.Time) error {
	// Forgotten before anything changes, so that a kill during the work below
	// leaves an index that records no checkpoint: the next start compares again.
	if err := x.Index.SetCheckpoint(""); err != nil {
		return err
	}
	_, at := x.Model.TakeDirty() // everything is compared below
	indexed, err := x.Index.Versions()
	if err != nil {
		return err
	}
	var upserts []*repository.Paper
	for _, p := range x.Model.All() {
		if v, ok := indexed[p.ID]; !ok || v != p.Version {
			upserts = append(upserts, p)
		}
		delete(indexed, p.ID)
	}
	deletes := make([]string, 0, len(indexed))
	for id := range indexed {
		deletes = append(deletes, id)
	}
	if err := x.apply(ctx, upserts, deletes); err != nil {
		return err
	}
	x.mu.Lock()
	x.applied, x.marked = at, false
	x.mu.Unlock()
	x.ready.Store(true)
	x.Log.Info("search index reconciled", "indexed", len(upserts), "removed", len(deletes),
		"took", time.Since(start).Round(time.Millisecond))
	return nil
}

// Checkpointed tells the indexer that the read model wrote checkpoint cp (see
// readmodel.Syncer.Saved). The index records it, with its data, once every
// change up to cp's position is in the index and no full load after it is:
// at once when that is so already (at a clean stop, once Run has returned),
// else after the apply that makes it so. A start that restores cp may then
// index only the changes since. It is safe to call from any goroutine.
func (x *Indexer) Checkpointed(cp readmodel.Checkpoint) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.pending = &cp
	x.mark()
}

// mark records the pending checkpoint in the index when every change up to
// its position is there. Callers hold x.mu.
func (x *Indexer) mark() {
	cp := x.pending
	switch {
	case cp == nil || x.inflight:
		return // the apply under way tries again when it ends
	case x.broken || x.applied.Loads > cp.At.Loads:
		// A change before cp may be missing, or the index holds papers of a
		// full load after cp, which a replay from cp would not repeat.
		x.pending = nil
		return
	case x.applied.Loads < cp.At.Loads || x.applied.Changes < cp.At.Changes:
		return // changes before cp are still to be applied
	}
	x.pending = nil
	if err := x.Index.SetCheckpoint(cp.ID); err != nil {
		x.Log.Warn("could not record the read model checkpoint in the search index; the next start compares every paper", "err", err)
		return
	}
	x.marked, x.markedLoads = true, cp.At.Loads
	x.Log.Debug("search index holds the read model checkpoint", "checkpoint", cp.ID)
}

// begin starts applying the changes TakeDirty returned at position at. When
// they include a full load after the checkpoint the index records, the record
// goes first: a replay from that checkpoint would not repeat what the load
// changed.
func (x *Indexer) begin(at readmodel.Position) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.inflight = true
	if x.marked && at.Loads > x.markedLoads {
		if err := x.Index.SetCheckpoint(""); err != nil {
			x.inflight, x.broken = false, true
			return err
		}
		x.marked = false
	}
	return nil
}

// end records the outcome of applying the changes begin announced.
func (x *Indexer) end(at readmodel.Position, err error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.inflight = false
	if err != nil {
		x.broken = true
	} else {
		x.applied = at
	}
	x.mark()
}

// Run applies the model's changes to the index until ctx ends, and then what is
// still pending, for up to flushLimit: what it cannot do, the next start's
// Reconcile does.
func (x *Indexer) Run(ctx context.Context) {
	defer x.flush()
	for {
		select {
		case <-ctx.Done():
			return
		case <-x.Model.Dirty():
		}
		// Let changes gather for a moment: one index batch of many papers costs
		// far less than many small ones, which also leave more segments to merge.
		first := time.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(gather):
			}
			if x.Busy == nil || !x.Busy() || time.Since(first) >= maxDefer {
				break
			}
		}
		if err := x.sync(context.Background()); err != nil {
			x.Log.Error("search index update failed; it is repaired at the next start", "err", err)
		}
	}
}

// flushLimit bounds the indexing done while paperd stops.
const flushLimit = 5 * time.Second

func (x *Indexer) flush() {
	ctx, cancel := context.WithTimeout(context.Background(), flushLimit)
	defer cancel()
	if err := x.sync(ctx); err != nil && ctx.Err() == nil {
		x.Log.Warn("search index update at shutdown failed; the next start repairs it", "err", err)
	}
}

func (x *Indexer) changes(ids []string) ([]*repository.Paper, []string) {
	var upserts []*repository.Paper
	var deletes []string
	for _, id := range ids {
		if p, ok := x.Model.Get(id); ok {
			upserts = append(upserts, p)
		} else {
			deletes = append(deletes, id)
		}
	}
	return upserts, deletes
}

// sync applies the model's pending changes.
func (x *Indexer) sync(ctx context.Context) error {
	ids, at := x.Model.TakeDirty()
	if err := x.begin(at); err != nil {
		return fmt.Errorf("forget the read model checkpoint before a full load's changes: %w", err)
	}
	upserts, deletes := x.changes(ids)
	err := x.apply(ctx, upserts, deletes)
	x.end(at, err)
	if err != nil {
		return fmt.Errorf("apply %d changes: %w", len(ids), err)
	}
	return nil
}

// apply removes deletes and indexes upserts, batchSize papers at a time.
func (x *Indexer) apply(ctx context.Context, upserts []*repository.Paper, deletes []string) error {
	if len(deletes) > 0 {
		if err := x.Index.Apply(nil, deletes); err != nil {
			return err
		}
	}
	for i := 0; i < len(upserts); i += batchSize {
		if err := ctx.Err(); err != nil {
			return err
		}
		// The model's papers leave their abstracts out; a batch at a time reads them.
		batch := upserts[i:min(i+batchSize, len(upserts))]
		full := make([]*repository.Paper, len(batch))
		for j, p := range batch {
			f, err := x.Model.Full(p)
			if err != nil {
				return err
			}
			full[j] = f
		}
		if err := x.Index.Apply(full, nil); err != nil {
			return err
		}
	}
	return nil
}
