package mongo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/papercatalog/papers/repository"
)

const votesCollection = "upvotes"

// Votes implements repository.Votes. Each change is a document whose _id joins
// the paper ID, the user and the version with "|" (paper IDs never contain it), so
// recording is an insert that the unique _id makes idempotent. Documents written
// before changes had versions have the _id paper|user and count as upvotes of
// version 0.
type Votes struct {
	avail *availability
	votes *mongo.Collection
}

var _ repository.Votes = (*Votes)(nil)

// NewVotes returns the vote store of db.
func NewVotes(db *DB) *Votes {
	return &Votes{avail: db.avail, votes: db.db.Collection(votesCollection)}
}

type voteDoc struct {
	ID      string    `bson:"_id"`
	PaperID string    `bson:"paper_id"`
	User    string    `bson:"user"`
	Removed bool      `bson:"removed,omitempty"`
	Version int64     `bson:"version,omitempty"`
	Time    time.Time `bson:"time"`
}

func voteID(r repository.VoteRecord) string {
	return r.PaperID + "|" + r.User + "|" + strconv.FormatInt(r.Version, 10)
}

// RecordVotes implements repository.Votes, as one unordered insert. It records no
// change for other replicas; the caller does.
func (s *Votes) RecordVotes(ctx context.Context, changes []repository.VoteRecord) error {
	ctx, cancel := s.avail.guard(ctx)
	defer cancel()
	if len(changes) == 0 {
		return nil
	}
	docs := make([]any, len(changes))
	now := time.Now().UTC()
	for i, r := range changes {
		docs[i] = voteDoc{ID: voteID(r), PaperID: r.PaperID, User: r.User, Removed: !r.Added, Version: r.Version, Time: now}
	}
	if _, err := s.votes.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false)); err != nil && !onlyDuplicates(err) {
		return fmt.Errorf("record votes: %w", wrap(err))
	}
	return nil
}

// onlyDuplicates reports whether err is a bulk write error whose every failure is
// a duplicate key: those changes were recorded before.
func onlyDuplicates(err error) bool {
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) {
		return mongo.IsDuplicateKeyError(err)
	}
	if bwe.WriteConcernError != nil || len(bwe.WriteErrors) == 0 {
		return false
	}
	for _, we := range bwe.WriteErrors {
		if !mongo.IsDuplicateKeyError(we) {
			return false
		}
	}
	return true
}

// RemovePaperVotes implements repository.Votes.
func (s *Votes) RemovePaperVotes(ctx context.Context, paperID string) error {
	ctx, cancel := s.avail.guard(ctx)
	defer cancel()
	if _, err := s.votes.DeleteMany(ctx, bson.D{{Key: "paper_id", Value: paperID}}); err != nil {
		return fmt.Errorf("remove votes on %s: %w", paperID, wrap(err))
	}
	return nil
}

// AllVotes implements repository.Votes.
func (s *Votes) AllVotes(ctx context.Context, fn func(repository.VoteRecord) error) error {
	ctx, cancel := s.avail.guard(ctx)
	defer cancel()
	cur, err := s.votes.Find(ctx, bson.D{}, options.Find().SetProjection(bson.D{
		{Key: "paper_id", Value: 1}, {Key: "user", Value: 1}, {Key: "removed", Value: 1}, {Key: "version", Value: 1},
	}).SetBatchSize(5000))
	if err != nil {
		return fmt.Errorf("scan votes: %w", wrap(err))
	}
	defer func() { _ = cur.Close(context.WithoutCancel(ctx)) }()
	for cur.Next(ctx) {
		var d voteDoc
		if err := cur.Decode(&d); err != nil {
			return fmt.Errorf("decode vote: %w", err)
		}
		if d.PaperID == "" || d.User == "" {
			continue
		}
		if err := fn(repository.VoteRecord{PaperID: d.PaperID, User: d.User, Added: !d.Removed, Version: d.Version}); err != nil {
			return err
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("scan votes: %w", wrap(err))
	}
	return nil
}
