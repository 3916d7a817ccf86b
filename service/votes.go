package service

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/papercatalog/papers/apierror"
	"github.com/papercatalog/papers/auth"
	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	"github.com/papercatalog/papers/reason"
	"github.com/papercatalog/papers/repository"
	"github.com/papercatalog/papers/votes"
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

// vote adds or removes the calling user's upvote of the named paper (see
// votes.Recorder.Set) and returns the paper as the user sees it then.
func (s *Catalog) vote(ctx context.Context, name string, add bool) (*catalogv1.Paper, error) {
	user := auth.FromContext(ctx).User
	if user == "" {
		return nil, errors.New("an upvote without a user: the policy of upvotes must need one")
	}
	cur, err := s.get("name", name)
	if err != nil {
		return nil, err
	}
	if err := s.Upvotes.Set(ctx, cur.ID, user, add); err != nil {
		if errors.Is(err, votes.ErrClosed) {
			err = &apierror.Error{Code: codes.Unavailable, Reason: reason.ShuttingDown, Message: "the server is shutting down"}
		}
		return nil, err
	}
	p, ok := s.Model.Get(cur.ID)
	if !ok {
		p = cur
	}
	return s.forViewer(p, catalogv1.PaperView_PAPER_VIEW_FULL, s.Model.HasVote(repository.Vote{PaperID: cur.ID, User: user}))
}

// forViewer returns the paper's message, marked as upvoted by the caller when it
// is; the shared cached message is copied before it is marked.
func (s *Catalog) forViewer(p *repository.Paper, view catalogv1.PaperView, upvoted bool) (*catalogv1.Paper, error) {
	m, err := s.proto(p, view)
	if err != nil || !upvoted {
		return m, err
	}
	m = proto.CloneOf(m)
	m.ViewerUpvoted = true
	return m, nil
}

// Close stops the catalog's background writer of votes. Call it after the
// servers have stopped taking calls.
func (s *Catalog) Close() {
	if s.Upvotes != nil {
		s.Upvotes.Close()
	}
}
