// Package embedded runs FerretDB (SQLite backend) inside the process, listening on
// loopback only, so that paperd needs no database installed. It speaks MongoDB's
// wire protocol; the rest of paperd talks to it with the official driver as it
// would to MongoDB.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

var newMu sync.Mutex

// DB is a running embedded FerretDB.
type DB struct {
	// URI is the MongoDB connection string of the embedded server.
	URI    string
	cancel context.CancelFunc
	done   chan struct{}
}

// Start starts FerretDB with its files in dir (created if needed) on a free
// loopback port. log receives FerretDB's own logs.
func Start(ctx context.Context, dir string, log *slog.Logger) (*DB, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	newMu.Lock() // ferretdb.New writes a package-level variable
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		Handler:   "sqlite",
		SQLiteURL: "file:" + dir + "/",
		Logger:    log,
	})
	newMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("start embedded FerretDB: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	db := &DB{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(db.done)
		_ = f.Run(runCtx)
	}()
	uriCh := make(chan string, 1)
	go func() { uriCh <- f.MongoDBURI() }()
	select {
	case db.URI = <-uriCh:
		return db, nil
	case <-time.After(30 * time.Second):
		cancel()
		return nil, errors.New("embedded FerretDB did not start listening within 30s")
	case <-ctx.Done():
		cancel()
		return nil, ctx.Err()
	}
}

// Close stops FerretDB and waits until its files are closed.
func (db *DB) Close() {
	db.cancel()
	<-db.done
}
