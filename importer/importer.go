// Package importer imports papers that outside sources describe (a dump, the
// arXiv poller) into the catalog: it merges each record onto the stored paper by
// the import rules (Merge), writes new papers in one request a batch and changed
// ones as conditional updates, and merges again when another writer got there
// first. It knows nothing of the wire format: callers convert records to Record
// and the Result back.
package importer

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/papercatalog/papers/check"
	"github.com/papercatalog/papers/clock"
	"github.com/papercatalog/papers/readmodel"
	"github.com/papercatalog/papers/repository"
)

// MaxRejections is how many rejections a Result lists; it counts them all.
const MaxRejections = 1000

// Record is one paper as a source describes it.
type Record struct {
	// Position is the record's place in the input, for rejections.
	Position int64
	// PaperID is the paper id as the source wrote it, for rejections.
	PaperID string
	// Paper holds what the source knows, with its ID parsed; zero fields are
	// unknown to the source. Nil when Problem is set.
	Paper *repository.Paper
	// Upvotes, if set, replaces the paper's imported upvote count.
	Upvotes *int64
	// Problem, if set, is why the record cannot be imported: the run rejects it
	// with this reason.
	Problem string
}

// Rejection is a record that was not imported, and why.
type Rejection struct {
	Position int64
	PaperID  string
	Reason   string
}

// Result counts what happened to the records of a run.
type Result struct {
	Created, Updated, Unchanged, Rejected int64
	// Rejections lists the first MaxRejections rejections.
	Rejections []Rejection
}

// Model is the read model a run looks papers up in and tells of what it stored.
type Model interface {
	// Get returns the paper with the given ID.
	Get(id string) (*repository.Paper, bool)
	// Tombstone returns the version at which paper id was last seen deleted.
	Tombstone(id string) int64
	// Put stores p unless the model has the same or a newer version of it.
	Put(p *repository.Paper) bool
	// Full returns the paper with the fields Get may leave out (its abstract).
	Full(p *repository.Paper) (*repository.Paper, error)
}

// Importer holds what runs need. Its fields must be set before the first run and
// not changed after.
type Importer struct {
	Papers repository.Papers
	Model  Model
	// Begin, if set, journals the papers of each batch before it is written,
	// and Record, if set, is told of the papers each batch stored, with that
	// journal entry (see readmodel.Intents).
	Begin  func(ids ...string) (*readmodel.Began, error)
	Record func(context.Context, repository.Change, *readmodel.Began)
	// Clock gives the time of writes (nil: the system's clock).
	Clock clock.Clock

	lastBatch atomic.Int64 // when a run last stored a batch, in Unix nanoseconds
}

// Busy reports whether a run stored a batch within the last second.
func (im *Importer) Busy() bool {
	// Real time: Busy tells an indexer that imports are busy now.
	return time.Since(time.Unix(0, im.lastBatch.Load())) < time.Second
}

// Run imports records batch by batch and counts what happened to them.
type Run struct {
	im *Importer
	// Result counts the records of every batch added so far.
	Result Result
}

// NewRun starts an import.
func (im *Importer) NewRun() *Run { return &Run{im: im} }

func (r *Run) reject(rec Record, reason string) {
	r.Result.Rejected++
	if len(r.Result.Rejections) < MaxRejections {
		r.Result.Rejections = append(r.Result.Rejections, Rejection{Position: rec.Position, PaperID: rec.PaperID, Reason: reason})
	}
}

// pending is a paper the batch writes, with the record it came from.
type pending struct {
	rec  Record
	prev *repository.Paper // nil for a new paper
	next *repository.Paper
}

// now is the time of a write, as stored: UTC, to the millisecond.
func (im *Importer) now() time.Time {
	return clock.Or(im.Clock).Now().UTC().Truncate(time.Millisecond)
}

// Add imports a batch of records. An error means the database failed; records it
// stored before stay stored.
func (r *Run) Add(ctx context.Context, records []Record) (err error) {
	if len(records) == 0 {
		return nil
	}
	im := r.im
	im.lastBatch.Store(time.Now().UnixNano())
	defer func() { im.lastBatch.Store(time.Now().UnixNano()) }()
	t := im.now()
	var order []string
	byID := map[string]*pending{}
	for _, rec := range records {
		if rec.Problem != "" {
			r.reject(rec, rec.Problem)
			continue
		}
		id := rec.Paper.ID
		pd := byID[id]
		var cur *repository.Paper
		if pd != nil {
			cur = pd.next // the same paper twice in one batch: merge onto the first
		} else if p, ok := im.Model.Get(id); ok {
			// Merged onto the whole paper: the merge stores every field.
			if cur, err = im.Model.Full(p); err != nil {
				return err
			}
		}
		next := Merge(cur, rec, t)
		var found check.Violations
		check.Paper(&found, "paper.", next)
		if problem := found.First(); problem != "" {
			r.reject(rec, problem)
			continue
		}
		if cur != nil && SameContent(cur, next) {
			if pd == nil {
				r.Result.Unchanged++
			}
			continue
		}
		if pd == nil {
			pd = &pending{rec: rec, prev: cur}
			byID[id] = pd
			order = append(order, id)
		}
		pd.next = next
	}
	var creates []*repository.Paper
	var updates []*pending
	for _, id := range order {
		pd := byID[id]
		if pd.prev == nil {
			pd.next.Version = repository.NextVersion(clock.Or(im.Clock).Now(), im.Model.Tombstone(id))
			creates = append(creates, pd.next)
		} else {
			pd.next.Version = repository.NextVersion(clock.Or(im.Clock).Now(), pd.prev.Version)
			updates = append(updates, pd)
		}
	}
	if len(order) == 0 {
		return nil
	}
	var intent *readmodel.Began
	if im.Begin != nil {
		if intent, err = im.Begin(order...); err != nil {
			return err
		}
	}
	// What the batch stored reaches the model and the change log even when a
	// later write of the batch fails; the intent stays open after a failure
	// (a failed write may have stored part of the batch).
	var stored []*repository.Paper
	defer func() {
		for _, p := range stored {
			im.Model.Put(p)
		}
		switch {
		case len(stored) > 0 && im.Record != nil:
			im.Record(ctx, repository.Change{Papers: stored}, intent)
		case err == nil:
			intent.Done()
		}
	}()
	if len(creates) > 0 {
		dups, ierr := im.Papers.InsertMany(ctx, creates)
		if ierr != nil {
			return ierr
		}
		for _, p := range creates {
			if !dups[p.ID] {
				stored = append(stored, p)
				r.Result.Created++
				continue
			}
			// Created meanwhile by another writer: merge onto what is stored.
			cur, gerr := im.Papers.Get(ctx, p.ID)
			if gerr != nil {
				return gerr
			}
			im.Model.Put(cur)
			updates = append(updates, &pending{rec: byID[p.ID].rec, prev: cur})
		}
	}
	for _, pd := range updates {
		p, uerr := r.update(ctx, pd, t)
		if uerr != nil {
			return uerr
		}
		if p != nil {
			stored = append(stored, p)
		}
	}
	return nil
}

// update stores pd as a conditional update, merging again onto the stored paper
// if another writer changed it first. It returns the stored paper, or nil when
// nothing changed in the end.
func (r *Run) update(ctx context.Context, pd *pending, t time.Time) (*repository.Paper, error) {
	im := r.im
	cur := pd.prev
	next := pd.next
	for attempt := 0; ; attempt++ {
		if next == nil {
			next = Merge(cur, pd.rec, t)
			if SameContent(cur, next) {
				r.Result.Unchanged++
				return nil, nil
			}
			next.Version = repository.NextVersion(clock.Or(im.Clock).Now(), cur.Version)
		}
		err := im.Papers.Update(ctx, next, cur.Version)
		if err == nil {
			r.Result.Updated++
			return next, nil
		}
		if !errors.Is(err, repository.ErrConflict) && !errors.Is(err, repository.ErrNotFound) {
			return nil, err
		}
		if attempt == 2 {
			r.reject(pd.rec, "the paper kept changing during the import; import it again")
			return nil, nil
		}
		if cur, err = im.Papers.Get(ctx, next.ID); err != nil {
			if errors.Is(err, repository.ErrNotFound) {
				r.reject(pd.rec, "the paper was deleted during the import; import it again")
				return nil, nil
			}
			return nil, err
		}
		im.Model.Put(cur)
		next = nil
	}
}
