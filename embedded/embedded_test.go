package embedded

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

func startDB(t *testing.T, dir string) *DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := Start(ctx, dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

func connect(t *testing.T, uri string) *mongo.Client {
	t.Helper()
	c, err := mongo.Connect(options.Client().ApplyURI(uri).SetServerSelectionTimeout(10 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	return c
}

// TestStartListensOnAPrivateSocket checks that the database is reachable through
// its socket only, in directories only the user can enter, and that a second
// start on the same directory is refused while the first runs.
func TestStartListensOnAPrivateSocket(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	db := startDB(t, dir)
	if !strings.HasPrefix(db.URI, "mongodb://%2F") || !strings.HasSuffix(db.Socket, "/data/db/ferretdb.sock") {
		t.Fatalf("URI %q, socket %q: want a percent-encoded socket path under data/db", db.URI, db.Socket)
	}
	for _, d := range []string{dir, filepath.Join(dir, "db")} {
		fi, err := os.Stat(d)
		if err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %v, %v; want 0700", d, fi.Mode().Perm(), err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	coll := connect(t, db.URI).Database("t").Collection("c")
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "a"}}); err != nil {
		t.Fatalf("insert through the socket: %v", err)
	}
	if _, err := Start(ctx, dir, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("a second start on the same directory: %v, want 'in use'", err)
	}
}

// TestStartAfterAKillRemovesTheStaleSocket leaves a socket file behind, as a
// killed process does, and starts on it.
func TestStartAfterAKillRemovesTheStaleSocket(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "db"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "db", "ferretdb.sock"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	db := startDB(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := connect(t, db.URI).Ping(ctx, nil); err != nil {
		t.Fatalf("ping after a stale socket: %v", err)
	}
}

// TestLongDataDirectoryPath puts the socket elsewhere when the data directory's
// path is too long for one.
func TestLongDataDirectoryPath(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), strings.Repeat("d", 120))
	db := startDB(t, dir)
	if strings.HasPrefix(db.Socket, dir) || len(db.Socket) > maxSocketPath {
		t.Fatalf("socket %q", db.Socket)
	}
	fi, err := os.Stat(filepath.Dir(db.Socket))
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("socket directory: %v, %v; want 0700", fi, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := connect(t, db.URI).Ping(ctx, nil); err != nil {
		t.Fatalf("ping: %v", err)
	}
}

// TestIndexIDsIsUsedByWritesByID checks that after IndexIDs, SQLite plans the
// statements FerretDB runs for an update or delete by _id with the new index
// (before, they scan), and that writes by _id still find their documents.
func TestIndexIDsIsUsedByWritesByID(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := startDB(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	coll := connect(t, db.URI).Database("papers").Collection("papers")
	var docs []any
	for i := range 100 {
		docs = append(docs, bson.D{{Key: "_id", Value: fmt.Sprintf("p%03d", i)}, {Key: "n", Value: i}})
	}
	if _, err := coll.InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}
	plan := func() string {
		conn, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "papers.sqlite"))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = conn.Close() }()
		var table string
		if err := conn.QueryRowContext(ctx, `SELECT table_name FROM _ferretdb_collections WHERE name = 'papers'`).Scan(&table); err != nil {
			t.Fatal(err)
		}
		// The statement of FerretDB's UpdateAll (internal/backends/sqlite).
		rows, err := conn.QueryContext(ctx, fmt.Sprintf(`EXPLAIN QUERY PLAN UPDATE %q SET _ferretdb_sjson = ? WHERE _ferretdb_sjson->'$._id' = ?`, table), "{}", `"p001"`)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = rows.Close() }()
		var out []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			out = append(out, detail)
		}
		return strings.Join(out, "; ")
	}
	if p := plan(); !strings.Contains(p, "SCAN") {
		t.Fatalf("before IndexIDs the update plan is %q; want a scan (has FerretDB changed?)", p)
	}
	n, err := db.IndexIDs(ctx, "papers")
	if err != nil || n != 1 {
		t.Fatalf("IndexIDs: %d, %v; want 1 index created", n, err)
	}
	if p := plan(); !strings.Contains(p, "USING INDEX") || !strings.Contains(p, "_paperd_id") {
		t.Fatalf("after IndexIDs the update plan is %q; want our index", p)
	}
	if n, err := db.IndexIDs(ctx, "papers"); err != nil || n != 0 {
		t.Errorf("IndexIDs again: %d, %v; want nothing to do", n, err)
	}
	if res, err := coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: "p042"}}, bson.D{{Key: "n", Value: -1}}); err != nil || res.MatchedCount != 1 {
		t.Fatalf("replace by _id: %+v, %v", res, err)
	}
	if res, err := coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: "p043"}}); err != nil || res.DeletedCount != 1 {
		t.Fatalf("delete by _id: %+v, %v", res, err)
	}
	var got bson.M
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "p042"}}).Decode(&got); err != nil || got["n"] != int32(-1) {
		t.Errorf("after replace: %v, %v", got, err)
	}
	if n, err := coll.CountDocuments(ctx, bson.D{}); err != nil || n != 99 {
		t.Errorf("after delete: %d documents, %v; want 99", n, err)
	}
}

// TestNewDatabasesUsePagesThatHoldSeveralPapers checks that a database the
// embedded FerretDB creates has pages of PageSize, and that one made before with
// SQLite's default pages keeps working.
func TestNewDatabasesUsePagesThatHoldSeveralPapers(t *testing.T) {
	t.Parallel()
	pageSize := func(dir string) int {
		conn, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "papers.sqlite")+"?mode=ro")
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = conn.Close() }()
		var n int
		if err := conn.QueryRow(`PRAGMA page_size`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	dir := t.TempDir()
	db := startDB(t, dir)
	if _, err := connect(t, db.URI).Database("papers").Collection("papers").InsertOne(ctx, bson.D{{Key: "_id", Value: "p1"}}); err != nil {
		t.Fatal(err)
	}
	if got := pageSize(dir); got != PageSize {
		t.Errorf("a new database has pages of %d bytes; want %d", got, PageSize)
	}

	// A database of 4 KiB pages, as paperd made them before: its metadata table
	// made with FerretDB v1.24's statement (internal/backends/sqlite/metadata).
	old := t.TempDir()
	conn, err := sql.Open("sqlite", "file:"+filepath.Join(old, "papers.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(`PRAGMA page_size = 4096; CREATE TABLE _ferretdb_collections (name TEXT NOT NULL UNIQUE CHECK(name != ''), table_name TEXT NOT NULL UNIQUE CHECK(table_name != ''), settings TEXT NOT NULL CHECK(settings != '')) STRICT`); err != nil {
		t.Fatal(err)
	}
	_ = conn.Close()
	db = startDB(t, old)
	coll := connect(t, db.URI).Database("papers").Collection("papers")
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "p1"}}); err != nil {
		t.Fatalf("insert into a database of 4 KiB pages: %v", err)
	}
	if n, err := coll.CountDocuments(ctx, bson.D{}); err != nil || n != 1 {
		t.Errorf("count in a database of 4 KiB pages: %d, %v", n, err)
	}
	if got := pageSize(old); got != 4096 {
		t.Errorf("a database of 4 KiB pages now has pages of %d bytes; SQLite cannot change them in place", got)
	}
}

// TestDroppedCollectionsGiveTheirSpaceBack checks that a database the embedded
// FerretDB creates is in full auto-vacuum mode: a dropped collection's pages
// leave the file instead of staying in it as free pages.
func TestDroppedCollectionsGiveTheirSpaceBack(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	db := startDB(t, dir)
	papers := connect(t, db.URI).Database("papers")
	if _, err := papers.Collection("kept").InsertOne(ctx, bson.D{{Key: "_id", Value: "p1"}}); err != nil {
		t.Fatal(err)
	}
	pragma := func(name string) int {
		t.Helper()
		conn, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "papers.sqlite")+"?mode=ro")
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = conn.Close() }()
		var n int
		if err := conn.QueryRow(`PRAGMA ` + name).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if got := pragma("auto_vacuum"); got != 1 {
		t.Errorf("auto_vacuum is %d in a new database; want 1 (full)", got)
	}
	empty := pragma("page_count")
	big := papers.Collection("change_payloads_1")
	text := strings.Repeat("payload ", 1000)
	for i := range 20 {
		var docs []any
		for j := range 100 {
			docs = append(docs, bson.D{{Key: "_id", Value: fmt.Sprintf("%d-%d", i, j)}, {Key: "content", Value: text}})
		}
		if _, err := big.InsertMany(ctx, docs); err != nil {
			t.Fatal(err)
		}
	}
	full := pragma("page_count")
	if full-empty < 100 { // 2,000 documents of 8 KB: about a thousand pages of 16 KiB
		t.Fatalf("%d pages before the inserts, %d after: the collection takes too little room to tell", empty, full)
	}
	if err := big.Drop(ctx); err != nil {
		t.Fatal(err)
	}
	if pages, free := pragma("page_count"), pragma("freelist_count"); free != 0 || pages > empty+(full-empty)/10 {
		t.Errorf("after the drop: %d pages, %d of them free; before the inserts %d, after %d", pages, free, empty, full)
	}
}
