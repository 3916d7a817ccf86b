// Package mongotest gives tests a database of their own: an embedded FerretDB
// in a temporary directory, opened and migrated, closed when the test ends.
package mongotest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/papercatalog/papers/embedded"
	"github.com/papercatalog/papers/repository/mongo"
)

// Open starts an embedded FerretDB for t, opens its database "papers" with
// opts, creates the collections and indexes paperd uses, and closes both when
// t ends. It fails t if any of that fails.
func Open(t testing.TB, opts ...mongo.Option) *mongo.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	edb, err := embedded.Start(ctx, t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(edb.Close)
	db, err := mongo.Open(edb.URI, "papers", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close(context.Background()) })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}
