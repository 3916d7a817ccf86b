package mongo

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// scan finds every document of coll, with opts, and calls fn with each in
// turn, decoded into a D, until fn returns an error, which scan returns as it
// is. The find's and the cursor's errors are wrapped (see wrap) and prefixed
// with readErr; a document that does not decode is prefixed with decodeErr and
// not wrapped, as it is no fault of the database's. The cursor is closed on
// every path, also after ctx is cancelled.
func scan[D any](ctx context.Context, coll *mongo.Collection, readErr, decodeErr string, fn func(*D) error, opts ...options.Lister[options.FindOptions]) error {
	cur, err := coll.Find(ctx, bson.D{}, opts...)
	if err != nil {
		return fmt.Errorf("%s: %w", readErr, wrap(err))
	}
	defer func() { _ = cur.Close(context.WithoutCancel(ctx)) }()
	for cur.Next(ctx) {
		var d D
		if err := cur.Decode(&d); err != nil {
			return fmt.Errorf("%s: %w", decodeErr, err)
		}
		if err := fn(&d); err != nil {
			return err
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("%s: %w", readErr, wrap(err))
	}
	return nil
}

// findAll returns every document of coll that filter matches, with opts,
// decoded into a D and turned into a T by conv, in the order found. Its errors
// are wrapped (see wrap) and prefixed with what.
func findAll[D, T any](ctx context.Context, coll *mongo.Collection, filter any, what string, conv func(*D) T, opts ...options.Lister[options.FindOptions]) ([]T, error) {
	cur, err := coll.Find(ctx, filter, opts...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, wrap(err))
	}
	var docs []D
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("%s: %w", what, wrap(err))
	}
	out := make([]T, len(docs))
	for i := range docs {
		out[i] = conv(&docs[i])
	}
	return out, nil
}
