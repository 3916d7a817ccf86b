// Package catalog is the write path of papers: it creates, updates and deletes
// papers in the store, keeps the read model in step with what it stored, and
// records each change for other replicas. The store's conditional writes are the
// arbiter between writers; callers validate requests and convert at their edge.
package catalog

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/papercatalog/papers/clock"
	"github.com/papercatalog/papers/readmodel"
	"github.com/papercatalog/papers/repository"
)

// ErrNotFound means the read model has no paper of that id.
var ErrNotFound = errors.New("paper not found")

// StaleError is the error of a write whose etag precondition failed: the paper
// changed since the caller read it.
type StaleError struct {
	// Sent is the etag the caller sent, Current the paper's.
	Sent, Current string
}

func (e *StaleError) Error() string {
	return "etag " + strconv.Quote(e.Sent) + " is stale: the paper changed since it was read (current etag " + strconv.Quote(e.Current) + ")"
}

// Etag is the etag of a paper: its version, in base 36.
func Etag(p *repository.Paper) string { return strconv.FormatInt(p.Version, 36) }

// maxAttempts is how often Update tries a write without an etag that keeps
// losing to other writers.
const maxAttempts = 3

// writeTimeout bounds a store write that runs on after its caller left.
const writeTimeout = 30 * time.Second

// finish is the context of a store write: a write is not started once its
// caller has given up (ctx ended before it), but once started it runs to its end even
// if the caller gives up (ctx ends) meanwhile, because a write the database applied
// must reach the read model and the change log; a caller's deadline that
// ended a write the database had applied left the model without it until the
// next full reload. A write that still ends uncertain (this timeout, a lost
// connection) is followed by a re-read of the paper (see settle).
func finish(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
}

// store makes one store write of paper id, unless ctx has ended: journalled
// first (see Begin), run to its end even if the caller leaves meanwhile (see
// finish), and settled if it fails (see settle). It returns the write's intent,
// which Record finishes.
func (w *Writer) store(ctx context.Context, id string, write func(context.Context) error) (*readmodel.Began, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	intent, err := w.Begin(id)
	if err != nil {
		return nil, err
	}
	wctx, cancel := finish(ctx)
	defer cancel()
	err = write(wctx)
	w.settle(ctx, id, err, intent)
	return intent, err
}

// settle follows a write that failed: a write the store refused stored nothing,
// and its intent is done; after one whose outcome is unknown, paper id is re-read
// so that the model holds what the database does, and the intent stays open (the
// change log may lack the write: the next start re-reads the paper).
func (w *Writer) settle(ctx context.Context, id string, err error, intent *readmodel.Began) {
	if err == nil {
		return
	}
	if errors.Is(err, repository.ErrConflict) || errors.Is(err, repository.ErrNotFound) ||
		errors.Is(err, repository.ErrAlreadyExists) {
		intent.Done()
		return
	}
	ctx, cancel := finish(ctx)
	defer cancel()
	w.refresh(ctx, id)
}

// Writer writes papers. Its zero value is not usable: Papers and Model are
// required.
type Writer struct {
	Papers repository.Papers
	Model  *readmodel.Model
	Log    *slog.Logger
	// Recorded, if set, is told of every change the writer records: the model
	// has it already, so the change-log poll need not load it.
	Recorded func(repository.ChangeRef)
	// Clock gives the time of writes (nil: the system's clock).
	Clock clock.Clock
	// Intents, if set, journals each write before it is made (see
	// readmodel.Intents).
	Intents *readmodel.Intents
}

// Now is the time of a write, as stored: UTC, to the millisecond.
func (w *Writer) Now() time.Time {
	return clock.Or(w.Clock).Now().UTC().Truncate(time.Millisecond)
}

// Begin journals that papers ids are about to be written; see readmodel.Intents.
// A journal that cannot be written refuses the write.
func (w *Writer) Begin(ids ...string) (*readmodel.Began, error) {
	return w.Intents.Begin(ids, nil)
}

// Record appends a change for other replicas, and then finishes the intent of
// its write. A failure is logged, not returned: the write itself succeeded, the
// periodic full reload of other replicas picks it up, and the intent stays open
// for this replica's next start to repair.
func (w *Writer) Record(ctx context.Context, c repository.Change, intent *readmodel.Began) {
	c.Time = clock.Or(w.Clock).Now().UTC()
	id, err := w.Papers.RecordChange(context.WithoutCancel(ctx), c)
	if err != nil {
		w.log().WarnContext(ctx, "could not record change for other replicas", "paper", c.PaperID, "err", err)
		return
	}
	intent.Done()
	if w.Recorded != nil {
		w.Recorded(repository.ChangeRef{ID: id, Time: c.Time})
	}
}

func (w *Writer) log() *slog.Logger {
	if w.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return w.Log
}

// Create stores the new paper p, complete and valid, and returns it. A create
// with the request id of one that made a paper of the same id returns that
// paper (a retried request); otherwise a paper of that id that exists is
// repository.ErrAlreadyExists.
func (w *Writer) Create(ctx context.Context, p *repository.Paper) (*repository.Paper, error) {
	if p.RequestID != "" {
		if prev, ok := w.Model.ByRequestID(p.RequestID); ok && prev.ID == p.ID {
			return w.Model.Full(prev)
		}
	}
	if _, ok := w.Model.Get(p.ID); ok && p.RequestID == "" {
		return nil, repository.ErrAlreadyExists
	}
	p.Version = repository.NextVersion(clock.Or(w.Clock).Now(), w.Model.Tombstone(p.ID))
	intent, err := w.store(ctx, p.ID, func(ctx context.Context) error { return w.Papers.Create(ctx, p) })
	if err != nil {
		if !errors.Is(err, repository.ErrAlreadyExists) {
			return nil, err
		}
		gctx, cancel := finish(ctx)
		defer cancel()
		existing, gerr := w.Papers.Get(gctx, p.ID)
		if gerr != nil {
			return nil, gerr
		}
		w.Model.Put(existing)
		if p.RequestID != "" && existing.RequestID == p.RequestID {
			return existing, nil
		}
		return nil, repository.ErrAlreadyExists
	}
	w.Model.Put(p)
	w.Record(ctx, repository.Change{PaperID: p.ID, Version: p.Version, Paper: p}, intent)
	return p, nil
}

// Update changes paper id: change returns the paper as it should be, from the
// paper as the model has it (which it must not modify), or an error that Update
// returns. With an etag, the write is conditional on it (a *StaleError when it
// is not the paper's); without, a write that loses to another writer is tried
// again on the paper as now stored, up to three times, and then fails with
// repository.ErrConflict. A paper the model lacks is ErrNotFound.
func (w *Writer) Update(ctx context.Context, id, etag string, change func(cur *repository.Paper) (repository.Paper, error)) (*repository.Paper, error) {
	for attempt := 1; ; attempt++ {
		cur, ok := w.Model.Get(id)
		if !ok {
			return nil, ErrNotFound
		}
		// The whole paper, abstract included: the update stores every field.
		cur, err := w.Model.Full(cur)
		if err != nil {
			return nil, err
		}
		if err := checkEtag(etag, cur); err != nil {
			return nil, err
		}
		next, err := change(cur)
		if err != nil {
			return nil, err
		}
		t := w.Now()
		next.UpdateTime = t
		next.Version = repository.NextVersion(t, cur.Version)
		// The store's conditional update is the arbiter between writers: exactly
		// one of those that read version cur.Version stores its successor.
		intent, err := w.store(ctx, cur.ID, func(ctx context.Context) error { return w.Papers.Update(ctx, &next, cur.Version) })
		if err == nil {
			w.Model.Put(&next)
			w.Record(ctx, repository.Change{PaperID: next.ID, Version: next.Version, Paper: &next}, intent)
			return &next, nil
		}
		if errors.Is(err, repository.ErrConflict) || errors.Is(err, repository.ErrNotFound) {
			w.refresh(ctx, cur.ID)
		}
		// A caller who sent no etag asked for no condition: its change goes onto
		// the paper as now stored, unless the paper keeps changing under it.
		if !errors.Is(err, repository.ErrConflict) || etag != "" || attempt == maxAttempts {
			return nil, err
		}
	}
}

// Delete deletes paper id; with an etag, only the version it names. The model
// keeps a tombstone, so that an older copy arriving later does not bring the
// paper back. A paper the model lacks is ErrNotFound.
func (w *Writer) Delete(ctx context.Context, id, etag string) error {
	cur, ok := w.Model.Get(id)
	if !ok {
		return ErrNotFound
	}
	if err := checkEtag(etag, cur); err != nil {
		return err
	}
	var cond int64 // an unconditional delete removes whatever version is stored
	if etag != "" {
		cond = cur.Version
	}
	intent, err := w.store(ctx, cur.ID, func(ctx context.Context) error { return w.Papers.Delete(ctx, cur.ID, cond) })
	if err != nil {
		if errors.Is(err, repository.ErrConflict) || errors.Is(err, repository.ErrNotFound) {
			w.refresh(ctx, cur.ID)
		}
		return err
	}
	version := repository.NextVersion(clock.Or(w.Clock).Now(), cur.Version)
	w.Model.Remove(cur.ID, version)
	// The paper's vote records stay: deleting them would scan every vote on the
	// embedded database. Votes older than a paper do not count (see the read
	// model), so a paper created again under the same id starts with none.
	w.Record(ctx, repository.Change{PaperID: cur.ID, Version: version, Deleted: true}, intent)
	return nil
}

// checkEtag returns a *StaleError when a caller sent an etag that is not cur's.
func checkEtag(sent string, cur *repository.Paper) error {
	if sent != "" && sent != Etag(cur) {
		return &StaleError{Sent: sent, Current: Etag(cur)}
	}
	return nil
}

// refresh re-reads a paper the model had stale, after a conditional write lost.
// A failure leaves the model as it was: the next write or full reload repairs it.
func (w *Writer) refresh(ctx context.Context, id string) {
	_, _ = w.Model.Refresh(ctx, w.Papers, id)
}
