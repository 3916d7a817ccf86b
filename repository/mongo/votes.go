package mongo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/papercatalog/papers/repository"
)

const votesCollection = "upvotes"

// Votes implements repository.Votes. A vote's _id is the paper ID and the user
// joined by "|" (paper IDs never contain it), so adding is an insert that the
// unique _id makes idempotent, and removing is a delete by _id.
type Votes struct {
	votes *mongo.Collection
}

var _ repository.Votes = (*Votes)(nil)

// NewVotes returns the vote store of db.
func NewVotes(db *DB) *Votes {
	return &Votes{votes: db.db.Collection(votesCollection)}
}

type voteDoc struct {
	ID      string    `bson:"_id"`
	PaperID string    `bson:"paper_id"`
	User    string    `bson:"user"`
	Time    time.Time `bson:"time"`
}

func voteID(v repository.Vote) string { return v.PaperID + "|" + v.User }

// RemoveVote implements repository.Votes.
func (s *Votes) RemoveVote(ctx context.Context, v repository.Vote) (bool, error) {
	res, err := s.votes.DeleteOne(ctx, bson.D{{Key: "_id", Value: voteID(v)}})
	if err != nil {
		return false, fmt.Errorf("remove vote on %s: %w", v.PaperID, wrap(err))
	}
	return res.DeletedCount > 0, nil
}

// RemovePaperVotes implements repository.Votes.
func (s *Votes) RemovePaperVotes(ctx context.Context, paperID string) error {
	if _, err := s.votes.DeleteMany(ctx, bson.D{{Key: "paper_id", Value: paperID}}); err != nil {
		return fmt.Errorf("remove votes on %s: %w", paperID, wrap(err))
	}
	return nil
}

// AllVotes implements repository.Votes.
func (s *Votes) AllVotes(ctx context.Context, fn func(repository.Vote) error) error {
	cur, err := s.votes.Find(ctx, bson.D{}, options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}).SetBatchSize(5000))
	if err != nil {
		return fmt.Errorf("scan votes: %w", wrap(err))
	}
	defer func() { _ = cur.Close(context.WithoutCancel(ctx)) }()
	for cur.Next(ctx) {
		var d struct {
			ID string `bson:"_id"`
		}
		if err := cur.Decode(&d); err != nil {
			return fmt.Errorf("decode vote: %w", err)
		}
		paperID, user, ok := strings.Cut(d.ID, "|")
		if !ok {
			continue
		}
		if err := fn(repository.Vote{PaperID: paperID, User: user}); err != nil {
			return err
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("scan votes: %w", wrap(err))
	}
	return nil
}

// AddVotes implements repository.Votes, as one unordered insert. It records no
// change for other replicas; the caller does.
func (s *Votes) AddVotes(ctx context.Context, votes []repository.Vote) error {
	docs := make([]any, len(votes))
	now := time.Now().UTC()
	for i, v := range votes {
		docs[i] = voteDoc{ID: voteID(v), PaperID: v.PaperID, User: v.User, Time: now}
	}
	if _, err := s.votes.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false)); err != nil && !mongo.IsDuplicateKeyError(err) {
		return fmt.Errorf("insert votes: %w", wrap(err))
	}
	return nil
}
