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
	ID    string    `bson:"_id"`
	Name  string    `bson:"name"`
	Slot  int64     `bson:"slot"`
	Owner string    `bson:"owner"`
	Time  time.Time `bson:"time"`
}

// AcquireLease reports whether owner holds the lease called name at now; if
// nobody does, owner takes it. Replicas use it to run a job on one of them at a
// time.
//
// Time is cut into slots of ttl, and holding the lease in a slot is inserting
// the document name/slot: the unique _id is the arbiter, atomic on MongoDB and
// FerretDB alike, across any number of replicas. The holder of a slot also
// takes the next one at once, so that it keeps the lease while it lives; when
// it dies, another replica takes the lease at the start of the slot after the
// one it had taken, within 2*ttl.
func (db *DB) AcquireLease(ctx context.Context, name, owner string, now time.Time, ttl time.Duration) (bool, error) {
	ctx, cancel := db.avail.guard(ctx)
	defer cancel()
	if ttl <= 0 {
		return false, fmt.Errorf("acquire lease %s: ttl %v", name, ttl)
	}
	coll := db.db.Collection(leasesCollection)
	slot := now.UnixNano() / int64(ttl)
	holder, _, err := db.takeSlot(ctx, coll, name, slot, owner, now)
	if err != nil || holder != owner {
		return false, err
	}
	_, took, err := db.takeSlot(ctx, coll, name, slot+1, owner, now)
	if err != nil {
		return false, err
	}
	if took {
		// Once a slot: the slots before the last one are of no use any more.
		if _, err := coll.DeleteMany(ctx, bson.D{{Key: "name", Value: name}, {Key: "slot", Value: bson.D{{Key: "$lt", Value: slot - 1}}}}); err != nil {
			return false, fmt.Errorf("acquire lease %s: %w", name, wrap(err))
		}
	}
	return true, nil
}

// takeSlot inserts name's document of slot for owner unless it exists, and
// returns the slot's holder and whether this call inserted it.
func (db *DB) takeSlot(ctx context.Context, coll *mongo.Collection, name string, slot int64, owner string, now time.Time) (string, bool, error) {
	id := name + "/" + strconv.FormatInt(slot, 10)
	_, err := coll.InsertOne(ctx, leaseDoc{ID: id, Name: name, Slot: slot, Owner: owner, Time: now})
	if err == nil {
		return owner, true, nil
	}
	if !mongo.IsDuplicateKeyError(err) {
		return "", false, fmt.Errorf("acquire lease %s: %w", name, wrap(err))
	}
	var cur leaseDoc
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&cur); err != nil {
		return "", false, fmt.Errorf("acquire lease %s: %w", name, wrap(err))
	}
	return cur.Owner, false, nil
}
