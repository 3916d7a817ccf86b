package mongo

import (
	"context"
	"errors"
	"fmt"

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
	_, err := db.db.Collection(stateCollection).ReplaceOne(ctx, bson.D{{Key: "_id", Value: name}},
		stateDoc{ID: name, Value: value}, options.Replace().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("store state %s: %w", name, wrap(err))
	}
	return nil
}
