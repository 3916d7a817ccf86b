package readmodel

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/papercatalog/papers/repository"
)

// A checkpoint is the read model written to a file, tagged with the time up to
// which it had seen every change of the change log: the Syncer writes one every
// few minutes while it runs and one on a clean shutdown, and a start (after a
// clean stop or a kill -9 alike) restores the newest and replays only the changes
// recorded since, instead of reading every paper and vote from the database. A
// checkpoint of another database, or older than the change log reaches back, is
// not used. Writes this replica had begun but not recorded when it died are
// repaired from its intent journal (see Intents).
//
// It is derived data, written atomically and durably (fsync of the file, rename,
// fsync of the directory). The papers are streamed in checksummed chunks, in
// a layout of their own (see appendPaper), so that neither writing nor reading
// holds a second copy of the whole model in memory; a start decodes the chunks
// on every CPU. The model is locked only while its maps are copied, not while
// the file is written.

// checkpointVersion changes whenever the checkpoint's layout does, or the
// abstracts' file's (which the checkpoint points into): 5 is the first whose
// abstracts are zstd frames. A checkpoint of another layout is not used; the
// start then loads from the database and writes the abstracts' file anew.
const checkpointVersion = 5

// Position is a point of the model's history of paper changes, as a derived
// index (the search index) follows it: Changes counts the papers reported
// changed (see TakeDirty), Loads the full loads from the database, which change
// papers in ways a replay of the change log does not repeat. Both only grow,
// and only count within one process.
type Position struct {
	Changes uint64
	Loads   uint64
}

// Checkpoint names a checkpoint written or restored: ID is unique to it (a
// checkpoint written again has another), At is the position of the model's
// history when its papers were copied (or, restored, right after the restore).
// A derived index that has applied every change up to At, and no full load
// after it, may record ID with its own data: a start that restores that
// checkpoint then brings it up to date with the changes TakeDirty returns, which
// are those replayed and repaired since (see Syncer.Start).
type Checkpoint struct {
	ID string
	At Position
}

// checkpointChunk is how many papers one gob message holds, each in the layout
// of appendPaper, followed by the CRC-32C of those bytes: a damaged chunk is
// refused, not read as other papers.
const checkpointChunk = 1024

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type checkpointHeader struct {
	Version    int
	DatabaseID string
	// ID is unique to this checkpoint (see Checkpoint); empty in files written
	// before it was added.
	ID string
	// Synced is when the model had seen every change recorded before it (the
	// start of the last poll).
	Synced time.Time
	Papers int
	// TextsSize is the size of the abstracts' file the references of the tail
	// point into (see texts); 0 without one.
	TextsSize int64
}

type checkpointTail struct {
	Tombstones map[string]int64
	Votes      map[string]map[string]int64
	Unvoted    map[string]int64
}

// snapshot is a checkpoint as read back: its papers already in a table, built
// while later chunks were still being decoded.
type snapshot struct {
	checkpointHeader
	checkpointTail
	papers   *table
	requests map[string]string // create request_id -> paper ID
	intern   *interner         // the values the papers share
	stored   bool              // some paper's abstract is in the abstracts' file
}

// SaveSnapshot writes the model to path atomically and durably, tagged with the
// database's identity and the time up to which it had seen all changes, and
// returns what names it.
func (m *Model) SaveSnapshot(path, databaseID string, synced time.Time) (Checkpoint, error) {
	cp := Checkpoint{ID: rand.Text()}
	m.mu.RLock()
	cp.At = m.at
	papers := make([]*repository.Paper, 0, m.papers.len())
	refs := make([]textRef, 0, m.papers.len())
	for p, ref := range m.papers.withRefs() {
		papers = append(papers, p) // papers are never changed in place
		refs = append(refs, ref)
	}
	tail := checkpointTail{Tombstones: maps.Clone(m.tombstones), Unvoted: maps.Clone(m.unvoted),
		Votes: make(map[string]map[string]int64, len(m.votes))}
	for id, users := range m.votes {
		tail.Votes[id] = maps.Clone(users)
	}
	m.mu.RUnlock()
	var textsSize int64
	if m.texts != nil {
		// Every abstract the references copied above point to is in the file
		// (and on disk) before the checkpoint names them.
		var err error
		if textsSize, err = m.texts.sync(); err != nil {
			return Checkpoint{}, fmt.Errorf("write the abstracts: %w", err)
		}
	}
	err := writeFileAtomic(path, func(w *bufio.Writer) error {
		enc := gob.NewEncoder(w)
		if err := enc.Encode(checkpointHeader{Version: checkpointVersion, DatabaseID: databaseID, ID: cp.ID,
			Synced: synced, Papers: len(papers), TextsSize: textsSize}); err != nil {
			return err
		}
		var chunk []byte
		for i := 0; i < len(papers); i += checkpointChunk {
			chunk = chunk[:0]
			for j := i; j < min(i+checkpointChunk, len(papers)); j++ {
				chunk = appendRef(appendPaper(chunk, papers[j]), refs[j])
			}
			chunk = binary.LittleEndian.AppendUint32(chunk, crc32.Checksum(chunk, castagnoli))
			if err := enc.Encode(chunk); err != nil {
				return err
			}
		}
		return enc.Encode(&tail)
	})
	if err != nil {
		return Checkpoint{}, err
	}
	return cp, nil
}

// readSnapshot reads the checkpoint at path. It returns nil, and no error, when
// there is none; a checkpoint that is damaged, of another layout or of another
// database is an error that says which.
func readSnapshot(path, databaseID string) (*snapshot, error) {
	f, err := os.Open(path) //nolint:gosec // a path under the data directory
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	dec := gob.NewDecoder(bufio.NewReaderSize(f, 1<<20))
	var snap snapshot
	if err := dec.Decode(&snap.checkpointHeader); err != nil {
		return nil, fmt.Errorf("damaged checkpoint %s: %w", path, err)
	}
	switch {
	case snap.Version != checkpointVersion:
		return nil, fmt.Errorf("checkpoint %s has layout %d, not %d", path, snap.Version, checkpointVersion)
	case snap.DatabaseID != databaseID:
		return nil, fmt.Errorf("checkpoint %s is of another database (%q)", path, snap.DatabaseID)
	}
	if err = readPapers(dec, &snap); err != nil {
		return nil, fmt.Errorf("damaged checkpoint %s: %w", path, err)
	}
	if err := dec.Decode(&snap.checkpointTail); err != nil {
		return nil, fmt.Errorf("damaged checkpoint %s: %w", path, err)
	}
	return &snap, nil
}

// readPapers reads the papers of a checkpoint's chunks from dec, with the
// places of their abstracts, into snap's table. The chunks are read in order and
// decoded on every CPU, a few at a time, and each decoded chunk goes into the
// table (its values shared, see interner) while the next ones are decoded.
func readPapers(dec *gob.Decoder, snap *snapshot) error {
	type job struct {
		data   []byte
		papers []*repository.Paper
		refs   []textRef
		err    error
		done   chan struct{}
	}
	n := snap.Papers
	workers := max(1, runtime.GOMAXPROCS(0))
	jobs := make(chan *job, workers)
	order := make(chan *job, 2*workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			var in slab // the worker's own
			for j := range jobs {
				body, sum := j.data[:len(j.data)-4], j.data[len(j.data)-4:]
				if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(sum) {
					j.err = errors.New("a chunk of papers does not match its checksum")
				}
				for rest := body; len(rest) > 0 && j.err == nil; {
					var p *repository.Paper
					var ref textRef
					if p, rest, j.err = decodePaper(rest, &in); j.err == nil {
						if ref, rest, j.err = decodeRef(rest); j.err == nil {
							j.papers, j.refs = append(j.papers, p), append(j.refs, ref)
						}
					}
				}
				j.data = nil
				close(j.done)
			}
		})
	}
	var readErr error
	go func() {
		defer close(order)
		defer close(jobs)
		for read := 0; read < n; {
			j := &job{done: make(chan struct{})}
			if err := dec.Decode(&j.data); err != nil || len(j.data) <= 4 {
				readErr = fmt.Errorf("after %d papers: %w", read, orEOF(err))
				return
			}
			read += checkpointChunk // an upper bound: the count is checked below
			jobs <- j
			order <- j
		}
	}()
	snap.papers, snap.requests, snap.intern = newTable(n), map[string]string{}, newInterner()
	read := 0
	var err error
	for j := range order {
		<-j.done
		if err == nil && j.err != nil {
			err = fmt.Errorf("after %d papers: %w", read, j.err)
		}
		if err != nil {
			continue // drain: the workers and the reader end
		}
		for i, p := range j.papers {
			snap.intern.paper(p)                // decoded here: the model's own
			snap.papers.appendNew(p, j.refs[i]) // a duplicate fails the count below
			if p.RequestID != "" {
				snap.requests[p.RequestID] = p.ID
			}
			snap.stored = snap.stored || j.refs[i].stored()
		}
		read += len(j.papers)
	}
	wg.Wait()
	snap.papers.postPending()
	switch {
	case readErr != nil: // order is closed: readErr is set before
		return readErr
	case err != nil:
		return err
	case read != n || snap.papers.len() != n:
		return fmt.Errorf("%d papers (%d distinct), the header says %d", read, snap.papers.len(), n)
	}
	return nil
}

func orEOF(err error) error {
	if err == nil {
		return io.ErrUnexpectedEOF
	}
	return err
}

func writeFileAtomic(path string, write func(*bufio.Writer) error) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".checkpoint-*")
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
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir) //nolint:gosec // a directory under the data directory
	if err != nil {
		return err
	}
	defer func() { _ = d.Close() }()
	return d.Sync()
}

// restore sets the model from a snapshot. The abstracts' file is cut back to
// what the snapshot knows of it. No paper is reported changed (see TakeDirty):
// the changes after the restore are, and Restored names the snapshot.
func (m *Model) restore(snap *snapshot) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.texts == nil && snap.stored {
		return errors.New("the checkpoint's papers keep their abstracts in a file, and the model has none")
	}
	if m.texts != nil {
		if err := m.texts.truncate(snap.TextsSize); err != nil {
			return err
		}
	}
	m.papers, m.requests, m.intern = snap.papers, snap.requests, snap.intern
	m.tombstones = orEmpty(snap.Tombstones)
	m.votes = snap.Votes
	if m.votes == nil {
		m.votes = map[string]map[string]int64{}
	}
	m.unvoted = orEmpty(snap.Unvoted)
	// The checkpoint's counts and votes were copied together: a paper's count
	// is off only if it has votes, or counts some it has not.
	for id := range m.votes {
		m.recount(id)
	}
	for p := range m.papers.all() {
		if p.Upvotes != p.BaseUpvotes {
			if _, voted := m.votes[p.ID]; !voted {
				m.recount(p.ID)
			}
		}
	}
	m.reset()
	clear(m.dirty)
	m.restored = &Checkpoint{ID: snap.ID, At: m.at}
	m.loaded.Store(true)
	return nil
}

func orEmpty(m map[string]int64) map[string]int64 {
	if m == nil {
		return map[string]int64{}
	}
	return m
}
