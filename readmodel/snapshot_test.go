package readmodel

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/papercatalog/papers/repository"
)

func TestSnapshotRoundTripIsUsedOnce(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "readmodel.snapshot")
	m := New()
	m.Replace([]*repository.Paper{paper("a", 1, 3), paper("b", 2, 0)}, 0)
	m.AddVote(repository.Vote{PaperID: "a", User: "u1"}, 10)
	m.Remove("gone", 7)
	synced := time.Now().UTC().Truncate(time.Millisecond)
	if err := m.SaveSnapshot(path, "db-1", synced); err != nil {
		t.Fatal(err)
	}

	if snap, err := takeSnapshot(filepath.Join(t.TempDir(), "none"), "db-1"); err != nil || snap != nil {
		t.Errorf("a missing snapshot: %v %v", snap, err)
	}
	snap, err := takeSnapshot(path, "db-1")
	if err != nil || snap == nil {
		t.Fatalf("take: %v %v", snap, err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Error("a used snapshot is still there: a crash after this start would reuse it")
	}
	r := New()
	r.restore(snap)
	if got, ok := r.Get("a"); !ok || got.Upvotes != 4 || !r.HasVote(repository.Vote{PaperID: "a", User: "u1"}) {
		t.Errorf("restored paper a: %v %v", got, ok)
	}
	if r.Put(paper("gone", 5, 0)) {
		t.Error("the restored tombstone did not hold back an older version")
	}
	if !snap.Synced.Equal(synced) || !r.Loaded() || r.Len() != 2 {
		t.Errorf("synced %v loaded %v len %d", snap.Synced, r.Loaded(), r.Len())
	}

	if err := m.SaveSnapshot(path, "db-1", synced); err != nil {
		t.Fatal(err)
	}
	if snap, err := takeSnapshot(path, "db-2"); err != nil || snap != nil {
		t.Errorf("a snapshot of another database was used: %v %v", snap, err)
	}
	if err := os.WriteFile(path, []byte("not a snapshot"), 0o600); err != nil {
		t.Fatal(err)
	}
	if snap, err := takeSnapshot(path, "db-1"); err != nil || snap != nil {
		t.Errorf("a damaged snapshot was used: %v %v", snap, err)
	}
}
