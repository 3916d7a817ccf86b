package service

import (
	"context"
	"errors"

	"google.golang.org/protobuf/proto"

	"github.com/papercatalog/papers/auth"
	"github.com/papercatalog/papers/clock"
	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	"github.com/papercatalog/papers/repository"
)

// UpvotePaper implements catalogv1.CatalogServiceServer.
func (s *Catalog) UpvotePaper(ctx context.Context, req *catalogv1.UpvotePaperRequest) (*catalogv1.Paper, error) {
	p, err := s.vote(ctx, req.GetName(), true)
	if err != nil {
		return nil, s.fail(ctx, "UpvotePaper", err)
	}
	return p, nil
}

// RemovePaperUpvote implements catalogv1.CatalogServiceServer.
func (s *Catalog) RemovePaperUpvote(ctx context.Context, req *catalogv1.RemovePaperUpvoteRequest) (*catalogv1.Paper, error) {
	p, err := s.vote(ctx, req.GetName(), false)
	if err != nil {
		return nil, s.fail(ctx, "RemovePaperUpvote", err)
	}
	return p, nil
}

// vote adds or removes the calling user's upvote. The vote is stored first; the
// read model and the change log follow once the database has it. Changes of one
// user's vote on one paper are serialised in this process; across replicas, the
// store keeps one successor of each change (RecordVotes), and a change that lost
// follows the stored one and tries again.
func (s *Catalog) vote(ctx context.Context, name string, add bool) (*catalogv1.Paper, error) {
	sub := auth.FromContext(ctx).User
	if sub == "" {
		return nil, errors.New("an upvote without a user: the policy of upvotes must need one")
	}
	cur, err := s.get("name", name)
	if err != nil {
		return nil, err
	}
	v := repository.Vote{PaperID: cur.ID, User: sub}
	unlock := s.voteLocks.Lock(v.PaperID + "|" + v.User)
	defer unlock()
	for attempt := 1; ; attempt++ {
		voted, prev := s.Model.VoteState(v)
		if voted == add {
			break
		}
		rec := repository.VoteRecord{PaperID: v.PaperID, User: sub, Added: add, Version: max(clock.Or(s.Clock).Now().UnixNano(), prev+1), Prev: prev}
		err := s.voteWriter().write(ctx, rec)
		if err == nil {
			s.applyVote(rec)
			break
		}
		if !errors.Is(err, repository.ErrConflict) || attempt == 3 {
			return nil, err
		}
		// Another replica changed this vote first: follow what it stored.
		recs, err := s.Votes.UserVotes(ctx, v.PaperID, v.User)
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			s.applyVote(r)
		}
	}
	p, ok := s.Model.Get(cur.ID)
	if !ok {
		p = cur
	}
	return s.forViewer(p, catalogv1.PaperView_PAPER_VIEW_FULL, s.Model.HasVote(v)), nil
}

// applyVote applies a stored vote change to the read model.
func (s *Catalog) applyVote(r repository.VoteRecord) {
	v := repository.Vote{PaperID: r.PaperID, User: r.User}
	if r.Added {
		s.Model.AddVote(v, r.Version)
	} else {
		s.Model.RemoveVote(v, r.Version)
	}
}

// forViewer returns the paper's message, marked as upvoted by the caller when it
// is; the shared cached message is copied before it is marked.
func (s *Catalog) forViewer(p *repository.Paper, view catalogv1.PaperView, upvoted bool) *catalogv1.Paper {
	m := s.protos.get(p, view)
	if !upvoted {
		return m
	}
	m = proto.CloneOf(m)
	m.ViewerUpvoted = true
	return m
}

func (s *Catalog) voteWriter() *voteWriter {
	s.votesOnce.Do(func() {
		s.votes = &voteWriter{votes: s.Votes, papers: s.Papers, log: s.Log, recorded: s.Recorded, clock: s.Clock}
	})
	return s.votes
}

// Close stops the catalog's background writer. Call it after the servers have
// stopped taking calls.
func (s *Catalog) Close() {
	s.voteWriter().close()
}
