// Package votes records users' upvotes: one vote per user and paper, stored
// in batches, applied to the read model once the database has them, and
// recorded in the change log for other replicas.
package votes

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/papercatalog/papers/clock"
	"github.com/papercatalog/papers/keylock"
	"github.com/papercatalog/papers/readmodel"
	"github.com/papercatalog/papers/repository"
)

// ErrClosed is returned by Set once Close was called.
var ErrClosed = errors.New("votes: the recorder is closed")

// Recorder changes users' upvotes. Set its fields before the first call; it is
// safe for concurrent use. Close it when no more votes come.
type Recorder struct {
	Votes  repository.Votes
	Papers repository.Papers
	// Model is the read model the stored votes are applied to.
	Model *readmodel.Model
	Log   *slog.Logger
	// Recorded, if set, is told of every change-log entry written: the model
	// has it already, so the change-log poll need not load it.
	Recorded func(repository.ChangeRef)
	// Clock gives the votes' versions and the change log's times (nil: the
	// system's clock).
	Clock clock.Clock
	// Intents, if set, journals each batch before it is stored (see
	// readmodel.Intents).
	Intents *readmodel.Intents

	once   sync.Once
	writer *writer
	locks  keylock.Set // per paper|user
}

func (r *Recorder) batches() *writer {
	r.once.Do(func() {
		r.writer = &writer{votes: r.Votes, papers: r.Papers, log: r.Log, applied: r.apply, recorded: r.Recorded, clock: r.Clock, intents: r.Intents}
	})
	return r.writer
}

// Set adds (add) or removes user's upvote of the paper paperID, and returns
// once the database and the read model have it; setting a vote to what it is
// already does nothing. The vote is stored first; the read model and the
// change log follow once the database has it. Changes of one user's vote on one
// paper are serialised in this process; across replicas, the store keeps one
// successor of each change (RecordVotes), and a change that lost follows the
// stored one and tries again. Returns ErrClosed after Close, an error wrapping
// repository.ErrConflict when other replicas won three times in a row, or ctx's
// error.
func (r *Recorder) Set(ctx context.Context, paperID, user string, add bool) error {
	v := repository.Vote{PaperID: paperID, User: user}
	unlock := r.locks.Lock(v.PaperID + "|" + v.User)
	defer unlock()
	for attempt := 1; ; attempt++ {
		voted, prev := r.Model.VoteState(v)
		if voted == add {
			return nil
		}
		rec := repository.VoteRecord{PaperID: v.PaperID, User: user, Added: add, Version: max(clock.Or(r.Clock).Now().UnixNano(), prev+1), Prev: prev}
		err := r.batches().write(ctx, rec) // applied to the model once stored
		if err == nil {
			return nil
		}
		if !errors.Is(err, repository.ErrConflict) || attempt == 3 {
			return err
		}
		// Another replica changed this vote first: follow what it stored.
		recs, err := r.Votes.UserVotes(ctx, v.PaperID, v.User)
		if err != nil {
			return err
		}
		for _, rec := range recs {
			r.apply(rec)
		}
	}
}

// apply applies a stored vote change to the read model.
func (r *Recorder) apply(rec repository.VoteRecord) {
	v := repository.Vote{PaperID: rec.PaperID, User: rec.User}
	if rec.Added {
		r.Model.AddVote(v, rec.Version)
	} else {
		r.Model.RemoveVote(v, rec.Version)
	}
}

// Close stops the background writer once the votes already queued are
// written; Set returns ErrClosed afterwards. Call it after the servers have
// stopped taking calls; calling it again does nothing.
func (r *Recorder) Close() {
	r.batches().close()
}
