package mongo

import (
	"context"
	"crypto/rand"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

const secretsCollection = "secrets"

type secretDoc struct {
	ID  string `bson:"_id"`
	Key []byte `bson:"key"`
}

// Secret returns the 32-byte random secret called name, creating it on first use.
// Every replica that shares the database gets the same secret, so page tokens made
// by one are accepted by the others.
func (db *DB) Secret(ctx context.Context, name string) ([]byte, error) {
	ctx, cancel := db.avail.guard(ctx)
	defer cancel()
	coll := db.db.Collection(secretsCollection)
	fresh := secretDoc{ID: name, Key: make([]byte, 32)}
	if _, err := rand.Read(fresh.Key); err != nil {
		return nil, fmt.Errorf("generate secret: %w", err)
	}
	if _, err := coll.InsertOne(ctx, fresh); err == nil {
		return fresh.Key, nil
	} else if !mongo.IsDuplicateKeyError(err) {
		return nil, fmt.Errorf("store secret %s: %w", name, wrap(err))
	}
	var d secretDoc
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: name}}).Decode(&d); err != nil {
		return nil, fmt.Errorf("read secret %s: %w", name, wrap(err))
	}
	return d.Key, nil
}
