package readmodel

import (
	"bufio"
	"encoding/gob"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/papercatalog/papers/repository"
)

// A snapshot is the read model written to a file on a clean shutdown, so that the
// next start does not have to read every paper and vote from the database (which
// takes a minute at 50,000 papers and 500,000 votes on the embedded FerretDB).
// It is derived data: a start that uses it removes it first, so after a crash
// there is none and the model is loaded from the database; a snapshot of another
// database, or older than the change log reaches back, is ignored.

// snapshotVersion changes whenever the snapshot's layout does.
const snapshotVersion = 1

type snapshot struct {
	Version    int
	DatabaseID string
	// Synced is when the model had seen every change recorded before it (the
	// start of the last poll).
	Synced     time.Time
	Papers     []*repository.Paper
	Tombstones map[string]int64
	Votes      map[string]map[string]int64
	Unvoted    map[string]int64
}

// SaveSnapshot writes the model to path atomically, tagged with the database's
// identity and the time up to which it had seen all changes.
func (m *Model) SaveSnapshot(path, databaseID string, synced time.Time) error {
	m.mu.RLock()
	snap := snapshot{
		Version: snapshotVersion, DatabaseID: databaseID, Synced: synced,
		Papers:     make([]*repository.Paper, 0, len(m.papers)),
		Tombstones: m.tombstones, Votes: m.votes, Unvoted: m.unvoted,
	}
	for _, p := range m.papers {
		snap.Papers = append(snap.Papers, p)
	}
	err := writeFileAtomic(path, func(w *bufio.Writer) error { return gob.NewEncoder(w).Encode(&snap) })
	m.mu.RUnlock()
	return err
}

// takeSnapshot reads the snapshot at path and removes the file, so that it is used
// at most once. It returns nil, and no error, when there is no usable snapshot.
func takeSnapshot(path, databaseID string) (*snapshot, error) {
	f, err := os.Open(path) //nolint:gosec // a path under the data directory
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var snap snapshot
	derr := gob.NewDecoder(bufio.NewReaderSize(f, 1<<20)).Decode(&snap)
	_ = f.Close()
	if err := os.Remove(path); err != nil {
		return nil, fmt.Errorf("remove the used snapshot: %w", err)
	}
	if derr != nil || snap.Version != snapshotVersion || snap.DatabaseID != databaseID {
		return nil, nil
	}
	return &snap, nil
}

func writeFileAtomic(path string, write func(*bufio.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".snapshot-*")
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	w := bufio.NewWriterSize(tmp, 1<<20)
	if err := write(w); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// restore sets the model from a snapshot.
func (m *Model) restore(snap *snapshot) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.papers = make(map[string]*repository.Paper, len(snap.Papers))
	m.requests = map[string]string{}
	for _, p := range snap.Papers {
		m.papers[p.ID] = p
		if p.RequestID != "" {
			m.requests[p.RequestID] = p.ID
		}
		m.markDirty(p.ID)
	}
	m.tombstones = orEmpty(snap.Tombstones)
	m.votes = snap.Votes
	if m.votes == nil {
		m.votes = map[string]map[string]int64{}
	}
	m.unvoted = orEmpty(snap.Unvoted)
	for id := range m.papers {
		m.recount(id)
	}
	m.reset()
	m.loaded.Store(true)
}

func orEmpty(m map[string]int64) map[string]int64 {
	if m == nil {
		return map[string]int64{}
	}
	return m
}
