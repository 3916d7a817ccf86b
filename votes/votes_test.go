package votes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/papercatalog/papers/clock/clocktest"
	"github.com/papercatalog/papers/readmodel"
	"github.com/papercatalog/papers/repository"
	"github.com/papercatalog/papers/repository/mongo"
	"github.com/papercatalog/papers/repository/mongo/mongotest"
)

// replicas returns n Recorders over one database of their own, each with its
// own read model holding the paper p, as replicas of paperd have.
func replicas(t *testing.T, n int) ([]*Recorder, repository.Votes) {
	t.Helper()
	db := mongotest.Open(t)
	clk := clocktest.New(t)
	votes := mongo.NewVotes(db)
	var out []*Recorder
	for range n {
		m := readmodel.New()
		m.Replace([]*repository.Paper{{ID: "2401.00001", Title: "A paper", CreateTime: clk.Now().Add(-time.Hour), Version: 1}}, 0)
		r := &Recorder{Votes: votes, Papers: mongo.NewPapers(db), Model: m, Log: slog.New(slog.DiscardHandler), Clock: clk}
		t.Cleanup(r.Close)
		out = append(out, r)
	}
	return out, votes
}

func upvotes(t *testing.T, r *Recorder) int64 {
	t.Helper()
	p, ok := r.Model.Get("2401.00001")
	if !ok {
		t.Fatal("the paper is not in the model")
	}
	return p.Upvotes
}

// TestConcurrentVotesCountOncePerUser: many users vote at once, one of them
// from ten calls at the same time: each user's vote counts once, in the model
// and in the database.
func TestConcurrentVotesCountOncePerUser(t *testing.T) {
	rs, store := replicas(t, 1)
	r := rs[0]
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 60)
	for i := range 50 {
		wg.Go(func() { errs <- r.Set(ctx, "2401.00001", fmt.Sprintf("user-%d", i), true) })
	}
	for range 10 {
		wg.Go(func() { errs <- r.Set(ctx, "2401.00001", "eager", true) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := upvotes(t, r); n != 51 {
		t.Errorf("the model counts %d upvotes, want 51", n)
	}
	recs, err := store.UserVotes(ctx, "2401.00001", "eager")
	if err != nil || len(recs) != 1 || !recs[0].Added {
		t.Errorf("eager's recorded changes: %+v %v; want one upvote", recs, err)
	}
}

// TestAVoteLostToAnotherReplicaFollowsIt: a replica that has not seen a vote
// another stored removes it: its first write loses to the stored one, it
// follows that and tries again, and the vote ends removed everywhere it looks.
func TestAVoteLostToAnotherReplicaFollowsIt(t *testing.T) {
	rs, store := replicas(t, 2)
	ctx := context.Background()
	if err := rs[0].Set(ctx, "2401.00001", "ada", true); err != nil {
		t.Fatal(err)
	}
	// rs[1] has not seen ada's vote: to it, adding it again changes nothing
	// yet, so it removes it after adding it.
	if err := rs[1].Set(ctx, "2401.00001", "ada", true); err != nil {
		t.Fatal(err)
	}
	if err := rs[1].Set(ctx, "2401.00001", "ada", false); err != nil {
		t.Fatal(err)
	}
	if n := upvotes(t, rs[1]); n != 0 {
		t.Errorf("replica 2 counts %d upvotes, want 0", n)
	}
	recs, err := store.UserVotes(ctx, "2401.00001", "ada")
	if err != nil || len(recs) != 2 || !recs[0].Added || recs[1].Added || recs[1].Prev != recs[0].Version {
		t.Errorf("ada's recorded changes: %+v %v; want the upvote, then its removal after it", recs, err)
	}
}

// TestCloseRefusesLaterVotes: after Close, a vote is refused with ErrClosed
// and nothing is stored.
func TestCloseRefusesLaterVotes(t *testing.T) {
	rs, store := replicas(t, 1)
	ctx := context.Background()
	rs[0].Close()
	if err := rs[0].Set(ctx, "2401.00001", "ada", true); !errors.Is(err, ErrClosed) {
		t.Errorf("a vote after Close: %v, want ErrClosed", err)
	}
	if recs, err := store.UserVotes(ctx, "2401.00001", "ada"); err != nil || len(recs) != 0 {
		t.Errorf("recorded: %+v %v; want nothing", recs, err)
	}
}

// gatedVotes is the real vote store, whose RecordVotes waits until the test
// lets it go on: a slow database, at the moment the test chooses.
type gatedVotes struct {
	repository.Votes
	entered chan struct{}
	release chan struct{}
}

func (g *gatedVotes) RecordVotes(ctx context.Context, changes []repository.VoteRecord) ([]int, error) {
	select {
	case g.entered <- struct{}{}:
	default:
	}
	<-g.release
	return g.Votes.RecordVotes(ctx, changes)
}

// TestAVoteStoredAfterItsCallerLeftIsInTheModel: the caller of an upvote gives
// up (its deadline passes) while the database is storing the vote. The vote is
// stored all the same, so the read model must count it, at once and not at the
// next full reload (the change log's poll skips it as applied); and the same
// user's upvote again then changes nothing.
func TestAVoteStoredAfterItsCallerLeftIsInTheModel(t *testing.T) {
	rs, store := replicas(t, 1)
	r := rs[0]
	gate := &gatedVotes{Votes: store, entered: make(chan struct{}, 1), release: make(chan struct{})}
	r.Votes = gate
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- r.Set(ctx, "2401.00001", "ada", true) }()
	<-gate.entered // the batch is being written
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("the caller that left got %v, want context.Canceled", err)
	}
	close(gate.release)
	// The writer finishes the batch it had; a vote after it waits behind it,
	// so once this one returns, the first is stored and applied.
	if err := r.Set(context.Background(), "2401.00001", "grace", true); err != nil {
		t.Fatal(err)
	}
	if n := upvotes(t, r); n != 2 {
		t.Errorf("the model counts %d upvotes, want 2 (ada's, stored after she left, and grace's)", n)
	}
	if err := r.Set(context.Background(), "2401.00001", "ada", true); err != nil {
		t.Errorf("ada upvoting again: %v, want nothing to change", err)
	}
	recs, err := store.UserVotes(context.Background(), "2401.00001", "ada")
	if err != nil || len(recs) != 1 || !recs[0].Added {
		t.Errorf("ada's recorded changes: %+v %v; want her one upvote", recs, err)
	}
}
