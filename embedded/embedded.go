// Package embedded runs FerretDB (SQLite backend) inside the process, so that
// paperd needs no database installed. It speaks MongoDB's wire protocol; the rest
// of paperd talks to it with the official driver as it would to MongoDB.
//
// The database is paperd's alone: it listens on a Unix socket in a directory only
// the process's user can enter (0700), not on a TCP port, so no other local user
// can read or write it. StartTCP, for tests and tools that need a network address
// (a proxy in front of it, say), listens on loopback TCP instead.
package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	_ "modernc.org/sqlite" // the SQLite driver FerretDB itself uses, for IndexIDs
)

var newMu sync.Mutex

// DB is a running embedded FerretDB.
type DB struct {
	// URI is the MongoDB connection string of the embedded server.
	URI string
	// Socket is the path of the Unix socket it listens on ("" with StartTCP).
	Socket string
	dir    string
	cancel context.CancelFunc
	done   chan struct{}
}

// socketName is the socket's file name, in the directory socketDir of the data
// directory.
const (
	socketDir  = "db"
	socketName = "ferretdb.sock"
)

// maxSocketPath is the longest socket path Linux takes (sun_path holds 108 bytes,
// the last a NUL).
const maxSocketPath = 107

// Start starts FerretDB with its files in dir, which is created (0700) if needed,
// listening on a Unix socket in dir's subdirectory "db" (0700). When that path is
// too long for a socket, the socket goes into a new 0700 directory under the
// system's temporary directory instead. Returns an error if another process
// serves the socket already (the data directory is in use). log receives
// FerretDB's own logs.
func Start(ctx context.Context, dir string, log *slog.Logger) (*DB, error) {
	dir, err := prepareDir(dir)
	if err != nil {
		return nil, err
	}
	sockDir := filepath.Join(dir, socketDir)
	if err := privateDir(sockDir); err != nil {
		return nil, err
	}
	sock := filepath.Join(sockDir, socketName)
	if len(sock) > maxSocketPath {
		if sockDir, err = os.MkdirTemp("", "paperd-db-"); err != nil {
			return nil, fmt.Errorf("socket directory: %w", err)
		}
		sock = filepath.Join(sockDir, socketName)
	}
	if c, err := net.DialTimeout("unix", sock, time.Second); err == nil {
		_ = c.Close()
		return nil, fmt.Errorf("data directory %s is in use: another process serves %s", dir, sock)
	}
	// A socket left by a process that was killed refuses connections; remove it.
	if err := os.Remove(sock); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove stale socket: %w", err)
	}
	db, err := start(ctx, dir, ferretdb.ListenerConfig{Unix: sock}, log)
	if err != nil {
		return nil, err
	}
	db.Socket = sock
	// The driver takes a socket as the host, percent-encoded.
	db.URI = "mongodb://" + url.PathEscape(sock) + "/"
	return db, nil
}

// StartTCP starts FerretDB as Start does, but listening on a free loopback TCP
// port, where every local process can reach it. paperd does not use it.
func StartTCP(ctx context.Context, dir string, log *slog.Logger) (*DB, error) {
	dir, err := prepareDir(dir)
	if err != nil {
		return nil, err
	}
	return start(ctx, dir, ferretdb.ListenerConfig{TCP: "127.0.0.1:0"}, log)
}

func prepareDir(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("data directory: %w", err)
	}
	if err := privateDir(dir); err != nil {
		return "", err
	}
	return dir, nil
}

// privateDir creates dir (and its parents) if needed and makes it 0700.
func privateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil { //nolint:gosec // a directory, which its owner must be able to enter
		return fmt.Errorf("restrict directory: %w", err)
	}
	return nil
}

// PageSize is the SQLite page size of the databases the embedded FerretDB
// creates. FerretDB stores a paper as about 2.7 KiB of JSON (the paper, and the
// type of each of its fields); a page of SQLite's default 4 KiB holds one, so
// the papers' table took 4 KiB a paper, 2.3 times the arXiv snapshot's JSON.
// Pages of 16 KiB hold five: 592 MiB instead of 783 MiB at 200,000 papers.
// SQLite sets the size when it creates a file: a database made with other
// pages keeps them.
const PageSize = 16384

// The databases the embedded FerretDB creates are in SQLite's full auto-vacuum
// mode (FerretDB's default is none): the pages of a dropped table go back to
// the file system at once. The change log keeps each period's payloads in a
// collection of its own and drops it when the period is past the retention;
// without it their pages stayed in papers.sqlite as free pages, 2.1 GB of its
// 10.7 GB after bench-scale's import of 2.7 million papers and the votes
// after it. SQLite sets the mode when it creates a file, as the page size: a
// database made before keeps its free pages for its tables to reuse.

// sqliteURL is the URL of the embedded FerretDB's SQLite databases in dir:
// pages of PageSize and full auto-vacuum for the files it creates. The busy
// timeout comes first (FerretDB adds its default after the pragmas it is
// given): a pragma that runs before it on a database another connection is
// writing fails at once with SQLITE_BUSY.
func sqliteURL(dir string) string {
	q := url.Values{"_pragma": {"busy_timeout(10000)", fmt.Sprintf("page_size(%d)", PageSize), "auto_vacuum(full)"}}
	return "file:" + dir + "/?" + q.Encode()
}

func start(ctx context.Context, dir string, lis ferretdb.ListenerConfig, log *slog.Logger) (*DB, error) {
	newMu.Lock() // ferretdb.New writes a package-level variable
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  lis,
		Handler:   "sqlite",
		SQLiteURL: sqliteURL(dir),
		Logger:    log,
	})
	newMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("start embedded FerretDB: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	db := &DB{dir: dir, cancel: cancel, done: make(chan struct{})}
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
	if db.Socket != "" && filepath.Base(filepath.Dir(db.Socket)) != socketDir {
		_ = os.RemoveAll(filepath.Dir(db.Socket)) // the temporary socket directory
	}
}

// IndexIDs makes finds, updates and deletes by _id in the database's existing
// collections use an index, and returns how many indexes it created.
//
// FerretDB v1.24's SQLite backend indexes _id as _ferretdb_sjson->"_id" but
// filters it as _ferretdb_sjson->'$._id'; SQLite uses an index only for the very
// expression a query names, so every update or delete by _id scanned the whole
// table (about 1 s at 50,000 papers, against 3 ms for an insert). This adds, to
// each collection's table, an index on the expression FerretDB's queries use.
// SQLite maintains it; FerretDB does not know of it, and dropping the collection
// drops it with the table. Call it after the collections exist; it is idempotent.
// paperd calls it at start, and for each new collection of change payloads
// before the first write to it (see mongo.PrepareCollections): indexing a
// collection that already holds an import's payloads reads all of them.
func (db *DB) IndexIDs(ctx context.Context, database string) (int, error) {
	path := filepath.Join(db.dir, database+".sqlite")
	if _, err := os.Stat(path); err != nil {
		return 0, fmt.Errorf("index _id: %w", err)
	}
	conn, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return 0, fmt.Errorf("index _id: %w", err)
	}
	defer func() { _ = conn.Close() }()
	rows, err := conn.QueryContext(ctx, `SELECT table_name FROM _ferretdb_collections`)
	if err != nil {
		return 0, fmt.Errorf("index _id: list tables: %w", err)
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			_ = rows.Close()
			return 0, fmt.Errorf("index _id: %w", err)
		}
		tables = append(tables, t)
	}
	_ = rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("index _id: %w", err)
	}
	created := 0
	for _, t := range tables {
		name := t + "_paperd_id"
		var n int
		if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = ?`, name).Scan(&n); err != nil {
			return created, fmt.Errorf("index _id of %s: %w", t, err)
		}
		if n > 0 {
			continue
		}
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON %s (_ferretdb_sjson->'$._id')`, quoteIdent(name), quoteIdent(t))
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return created, fmt.Errorf("index _id of %s: %w", t, err)
		}
		created++
	}
	return created, nil
}

// quoteIdent quotes an SQLite identifier.
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
