package search

import (
	"context"
	"fmt"
	"log/slog"
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
type Indexer struct {
	Index *Index
	Model *readmodel.Model
	Log   *slog.Logger
	// Busy, if set, reports bulk writes in progress (an import). The indexer then
	// lets changes gather for up to maxDefer: indexing competes with the import
	// for the CPU, and bigger batches cost less in all.
	Busy func() bool

	ready atomic.Bool
}

// Ready reports whether the index has been reconciled with the model, so that
// searches miss nothing and return no deleted paper.
func (x *Indexer) Ready() bool { return x.ready.Load() }

// Reconcile indexes every paper of the model whose version the index does not
// have and removes every indexed paper the model does not have.
func (x *Indexer) Reconcile(ctx context.Context) error {
	start := time.Now()
	x.Model.TakeDirty() // everything is compared below
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
	x.ready.Store(true)
	x.Log.Info("search index reconciled", "indexed", len(upserts), "removed", len(deletes),
		"took", time.Since(start).Round(time.Millisecond))
	return nil
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
		if err := x.sync(); err != nil {
			x.Log.Error("search index update failed; it is repaired at the next start", "err", err)
		}
	}
}

// flushLimit bounds the indexing done while paperd stops.
const flushLimit = 5 * time.Second

func (x *Indexer) flush() {
	ctx, cancel := context.WithTimeout(context.Background(), flushLimit)
	defer cancel()
	ids := x.Model.TakeDirty()
	if len(ids) == 0 {
		return
	}
	upserts, deletes := x.changes(ids)
	if err := x.apply(ctx, upserts, deletes); err != nil && ctx.Err() == nil {
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
func (x *Indexer) sync() error {
	ids := x.Model.TakeDirty()
	upserts, deletes := x.changes(ids)
	if err := x.apply(context.Background(), upserts, deletes); err != nil {
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
