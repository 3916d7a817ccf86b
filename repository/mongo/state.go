package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// stateCollection holds small documents of background jobs' progress (the arXiv
// poller's), by name. It stays tiny, so writes by _id are cheap even on the
// embedded database.
const stateCollection = "job_state"

type stateDoc struct {
	ID    string `bson:"_id"`
	Value []byte `bson:"value"`
}

// State returns the stored value called name, or nil if there is none.
func (db *DB) State(ctx context.Context, name string) ([]byte, error) {
	ctx, cancel := db.avail.guard(ctx)
	defer cancel()
	var d stateDoc
	err := db.db.Collection(stateCollection).FindOne(ctx, bson.D{{Key: "_id", Value: name}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state %s: %w", name, wrap(err))
	}
	return d.Value, nil
}

// SetState stores value under name.
func (db *DB) SetState(ctx context.Context, name string, value []byte) error {
	ctx, cancel := db.avail.guard(ctx)
	defer cancel()
	_, err := db.db.Collection(stateCollection).ReplaceOne(ctx, bson.D{{Key: "_id", Value: name}},
		stateDoc{ID: name, Value: value}, options.Replace().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("store state %s: %w", name, wrap(err))
	}
	return nil
}

const leasesCollection = "leases"

type leaseDoc struct {
	ID      string    `bson:"_id"`
	Owner   string    `bson:"owner"`
	Expires time.Time `bson:"expires"`
}

// AcquireLease makes owner the holder of the lease called name until now+ttl, if
// nobody else holds it unexpired; a holder renews it the same way. It reports
// whether owner holds it. Replicas use it to run a job on one of them at a time.
func (db *DB) AcquireLease(ctx context.Context, name, owner string, now time.Time, ttl time.Duration) (bool, error) {
	ctx, cancel := db.avail.guard(ctx)
	defer cancel()
	coll := db.db.Collection(leasesCollection)
	next := leaseDoc{ID: name, Owner: owner, Expires: now.Add(ttl)}
	var cur leaseDoc
	err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: name}}).Decode(&cur)
	if errors.Is(err, mongo.ErrNoDocuments) {
		if _, err := coll.InsertOne(ctx, next); err != nil {
			if mongo.IsDuplicateKeyError(err) {
				return false, nil
			}
			return false, fmt.Errorf("acquire lease %s: %w", name, wrap(err))
		}
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("acquire lease %s: %w", name, wrap(err))
	}
	if cur.Owner != owner && now.Before(cur.Expires) {
		return false, nil
	}
	res, err := coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: name}, {Key: "owner", Value: cur.Owner}, {Key: "expires", Value: cur.Expires}}, next)
	if err != nil {
		return false, fmt.Errorf("acquire lease %s: %w", name, wrap(err))
	}
	return res.MatchedCount == 1, nil
}
