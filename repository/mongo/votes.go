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
// the paper ID, the user and "^" with the version of the user's previous change
// of that vote, with "|" (paper IDs never contain it): the unique _id lets each
// change have one successor only, which makes the insert the arbiter between
// concurrent changes. Documents written before changes named their predecessor
// have the _id paper|user|version, or paper|user (upvotes of version 0).
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
	Prev    int64     `bson:"prev,omitempty"`
	Time    time.Time `bson:"time"`
}

// fromVoteDoc is the vote change that d stores.
func fromVoteDoc(d *voteDoc) repository.VoteRecord {
	return repository.VoteRecord{PaperID: d.PaperID, User: d.User, Added: !d.Removed, Version: d.Version, Prev: d.Prev}
}

func voteID(r repository.VoteRecord) string {
	return r.PaperID + "|" + r.User + "|^" + strconv.FormatInt(r.Prev, 10)
}

// RecordVotes implements repository.Votes, as one unordered insert. It records no
// change for other replicas; the caller does.
func (s *Votes) RecordVotes(ctx context.Context, changes []repository.VoteRecord) ([]int, error) {
	ctx, cancel := s.avail.guard(ctx)
	defer cancel()
	if len(changes) == 0 {
		return nil, nil
	}
	docs := make([]any, len(changes))
	now := time.Now().UTC() // when the record was stored, for people reading the database; nothing compares it
	for i, r := range changes {
		docs[i] = voteDoc{ID: voteID(r), PaperID: r.PaperID, User: r.User, Removed: !r.Added, Version: r.Version, Prev: r.Prev, Time: now}
	}
	_, err := s.votes.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if err == nil {
		return nil, nil
	}
	var dups []int
	var bwe mongo.BulkWriteException
	switch {
	case errors.As(err, &bwe) && onlyDuplicates(err):
		for _, we := range bwe.WriteErrors {
			if we.Index < 0 || we.Index >= len(changes) {
				return nil, fmt.Errorf("record votes: %w", wrap(err))
			}
			dups = append(dups, we.Index)
		}
	case mongo.IsDuplicateKeyError(err) && len(changes) == 1:
		dups = []int{0}
	default:
		return nil, fmt.Errorf("record votes: %w", wrap(err))
	}
	// A duplicate is the same change recorded before (a retry), or another
	// change from the same predecessor: that one won.
	var lost []int
	for _, i := range dups {
		var d voteDoc
		if err := s.votes.FindOne(ctx, bson.D{{Key: "_id", Value: voteID(changes[i])}}).Decode(&d); err != nil {
			return nil, fmt.Errorf("record votes: %w", wrap(err))
		}
		if d.Version != changes[i].Version || d.Removed == changes[i].Added {
			lost = append(lost, i)
		}
	}
	return lost, nil
}

// Stored implements repository.Votes, reading each change by its _id.
func (s *Votes) Stored(ctx context.Context, changes []repository.VoteRecord) ([]repository.VoteRecord, error) {
	ctx, cancel := s.avail.guard(ctx)
	defer cancel()
	var out []repository.VoteRecord
	for _, c := range changes {
		var d voteDoc
		err := s.votes.FindOne(ctx, bson.D{{Key: "_id", Value: voteID(c)}}).Decode(&d)
		if errors.Is(err, mongo.ErrNoDocuments) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read votes: %w", wrap(err))
		}
		out = append(out, fromVoteDoc(&d))
	}
	return out, nil
}

// UserVotes implements repository.Votes. It filters on fields other than _id,
// which FerretDB answers by scanning: callers use it only after losing a race.
func (s *Votes) UserVotes(ctx context.Context, paperID, user string) ([]repository.VoteRecord, error) {
	ctx, cancel := s.avail.guard(ctx)
	defer cancel()
	return findAll(ctx, s.votes, bson.D{{Key: "paper_id", Value: paperID}, {Key: "user", Value: user}}, "read votes", fromVoteDoc)
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

// AllVotes implements repository.Votes.
func (s *Votes) AllVotes(ctx context.Context, fn func(repository.VoteRecord) error) error {
	ctx, cancel := s.avail.guard(ctx)
	defer cancel()
	return scan(ctx, s.votes, "scan votes", "decode vote", func(d *voteDoc) error {
		if d.PaperID == "" || d.User == "" {
			return nil
		}
		return fn(fromVoteDoc(d))
	}, options.Find().SetProjection(bson.D{
		{Key: "paper_id", Value: 1}, {Key: "user", Value: 1}, {Key: "removed", Value: 1}, {Key: "version", Value: 1}, {Key: "prev", Value: 1},
	}).SetBatchSize(5000))
}
