package votes

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/papercatalog/papers/clock"
	"github.com/papercatalog/papers/readmodel"
	"github.com/papercatalog/papers/repository"
)

// writer stores upvotes in batches: the votes that arrive while one batch is
// being written go together into the next, as one insert and one change-log entry,
// so that a busy catalog does not pay two single-document writes per vote (the
// embedded FerretDB serialises writes). A caller is answered once its vote is
// stored.
type writer struct {
	votes  repository.Votes
	papers repository.Papers
	log    *slog.Logger
	// applied is told of each change stored, before its caller is answered:
	// the writer, not the caller, applies it to the read model, so a change
	// stored after its caller gave up is in the model all the same.
	applied func(repository.VoteRecord)
	// recorded is told of each change-log entry written (see Recorder.Recorded).
	recorded func(repository.ChangeRef)
	// clock gives the change log's times (see Recorder.Clock).
	clock clock.Clock
	// intents journals each batch before it is stored.
	intents *readmodel.Intents

	once    sync.Once
	stopped sync.Once
	ops     chan *voteOp
	stop    chan struct{}
}

type voteOp struct {
	rec  repository.VoteRecord
	done chan error
}

// maxVoteBatch is the most votes written at once.
const maxVoteBatch = 1000

func (w *writer) start() {
	w.once.Do(func() {
		w.ops = make(chan *voteOp, maxVoteBatch)
		w.stop = make(chan struct{})
		go w.run()
	})
}

// write stores one vote change and returns once it is stored, or ctx ends.
func (w *writer) write(ctx context.Context, rec repository.VoteRecord) error {
	w.start()
	op := &voteOp{rec: rec, done: make(chan error, 1)}
	select {
	case <-w.stop: // closed: the select below could still pick the send
		return ErrClosed
	default:
	}
	select {
	case w.ops <- op:
	case <-w.stop:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-op.done:
		return err
	case <-ctx.Done():
		// The vote may still be stored (and then applied by the writer); the
		// caller sees an error and may retry, which is harmless: votes are
		// idempotent.
		return ctx.Err()
	}
}

// close stops the writer once the votes already queued are written; it may
// be called more than once.
func (w *writer) close() {
	w.start()
	w.stopped.Do(func() { close(w.stop) })
}

func (w *writer) run() {
	for {
		var first *voteOp
		select {
		case first = <-w.ops:
		case <-w.stop:
			select {
			case first = <-w.ops: // finish what was accepted
			default:
				return
			}
		}
		batch := []*voteOp{first}
	drain:
		for len(batch) < maxVoteBatch {
			select {
			case op := <-w.ops:
				batch = append(batch, op)
			default:
				break drain
			}
		}
		lost, err := w.flush(batch)
		for i, op := range batch {
			switch {
			case err != nil:
				op.done <- err
			case lost[i]:
				op.done <- fmt.Errorf("vote of %s on %s: %w", op.rec.User, op.rec.PaperID, repository.ErrConflict)
			default:
				op.done <- nil
			}
		}
	}
}

// flush stores a batch and records the stored changes for other replicas. It
// reports which changes were not stored because another change of the same vote
// was, from the same predecessor.
func (w *writer) flush(batch []*voteOp) ([]bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	records := make([]repository.VoteRecord, 0, len(batch))
	for _, op := range batch {
		records = append(records, op.rec)
	}
	intent, err := w.intents.Begin(nil, records)
	if err != nil {
		return nil, err
	}
	lostIdx, err := w.votes.RecordVotes(ctx, records)
	if err != nil {
		return nil, err // the intent stays open: some of the batch may be stored
	}
	lost := make([]bool, len(batch))
	for _, i := range lostIdx {
		lost[i] = true
	}
	stored := records[:0:0]
	for i, r := range records {
		if !lost[i] {
			stored = append(stored, r)
		}
	}
	if len(stored) == 0 {
		intent.Done()
		return lost, nil
	}
	for _, r := range stored {
		w.applied(r)
	}
	t := clock.Or(w.clock).Now().UTC()
	id, err := w.papers.RecordChange(ctx, repository.Change{Votes: stored, Time: t})
	if err != nil {
		w.log.Warn("could not record votes for other replicas", "votes", len(stored), "err", err)
		return lost, nil // the intent stays open, for a restart to re-read the batch
	}
	intent.Done()
	if w.recorded != nil {
		w.recorded(repository.ChangeRef{ID: id, Time: t})
	}
	return lost, nil
}
