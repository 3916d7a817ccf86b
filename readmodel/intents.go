package readmodel

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"

	"github.com/papercatalog/papers/repository"
)

// Intents is a replica's journal of the writes it has begun and not yet seen
// through to the change log: the window in which kill -9 leaves the database
// changed and the change log without the change. A writer calls Begin before it
// writes to the database and Done once the change is recorded in the change log
// (or nothing was stored); a start after a crash re-reads from the database the
// papers and votes of every intent left open (see Syncer.Start), because replaying
// the change log since a checkpoint would miss them.
//
// Each Begin and Done is one append to a file under the data directory, made
// before the database write it guards: the kernel keeps it through kill -9 of the
// process, without an fsync (a power cut may lose the last appends; the checkpoint
// itself is fsynced). The file is rewritten with only the open intents when it
// grows past compactAt, so it stays small.
//
// A nil *Intents journals nothing (tests of writers without a data directory).
type Intents struct {
	path string

	mu      sync.Mutex
	f       *os.File
	size    int64
	seq     uint64
	open    map[uint64][]byte // open intents: their begin lines
	left    []Intent          // open intents of the previous process, until Forget
	onWrite func()            // test hook: called after each append
}

// Intent is a write a replica began: the papers and votes it may have changed.
type Intent struct {
	Seq    uint64                  `json:"s"`
	Papers []string                `json:"p,omitempty"`
	Votes  []repository.VoteRecord `json:"v,omitempty"`
	Done   bool                    `json:"d,omitempty"`
}

// compactAt is the journal size past which it is rewritten with the open intents only.
const compactAt = 4 << 20

// OpenIntents opens the journal at path, reading the intents the previous process
// left open (Left), which stay in the file until Forget.
func OpenIntents(path string) (*Intents, error) {
	j := &Intents{path: path, open: map[uint64][]byte{}}
	b, err := os.ReadFile(path) //nolint:gosec // a path under the data directory
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	open := map[uint64]Intent{}
	for line := range bytes.Lines(b) {
		var in Intent
		if !bytes.HasSuffix(line, []byte("\n")) || json.Unmarshal(line, &in) != nil {
			continue // the torn last line of a process killed while appending: its write had not begun
		}
		if in.Done {
			delete(open, in.Seq)
		} else {
			open[in.Seq] = in
		}
		j.seq = max(j.seq, in.Seq)
	}
	for _, in := range open {
		j.left = append(j.left, in)
	}
	slices.SortFunc(j.left, func(a, b Intent) int { return cmp.Compare(a.Seq, b.Seq) })
	if err := j.rewrite(); err != nil {
		return nil, err
	}
	return j, nil
}

// Left returns the intents the previous process began and never finished.
func (j *Intents) Left() []Intent {
	if j == nil {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.left)
}

// Forget drops the previous process's open intents, once the model has been
// repaired from the database (or loaded from it whole).
func (j *Intents) Forget() error {
	if j == nil {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.left = nil
	return j.rewrite()
}

// Begin journals that a write of these papers and votes is about to start. Call
// Done on the result once the change is in the change log, or nothing was
// stored; a write that ends otherwise stays open, for the next start to repair.
func (j *Intents) Begin(papers []string, votes []repository.VoteRecord) (*Began, error) {
	if j == nil {
		return nil, nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.seq++
	line, err := json.Marshal(Intent{Seq: j.seq, Papers: papers, Votes: votes})
	if err != nil {
		return nil, err
	}
	line = append(line, '\n')
	if err := j.append(line); err != nil {
		return nil, fmt.Errorf("journal the intent to write: %w", err)
	}
	j.open[j.seq] = line
	return &Began{j: j, seq: j.seq}, nil
}

// Close closes the journal's file.
func (j *Intents) Close() error {
	if j == nil {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.f.Close()
}

// Began is an intent journalled by Begin.
type Began struct {
	j   *Intents
	seq uint64
}

// Done marks the intent finished: its change is in the change log, or it stored
// nothing. An error to append is not returned: the intent then stays open, and
// the next start re-reads what it names, which is harmless.
func (b *Began) Done() {
	if b == nil {
		return
	}
	j := b.j
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, ok := j.open[b.seq]; !ok {
		return
	}
	delete(j.open, b.seq)
	if j.append(fmt.Appendf(nil, `{"s":%d,"d":true}`+"\n", b.seq)) != nil {
		return
	}
	if j.size > compactAt {
		_ = j.rewrite() // on failure the old file stays, complete
	}
}

// append writes line at the end of the journal. Callers hold j.mu.
func (j *Intents) append(line []byte) error {
	n, err := j.f.Write(line)
	j.size += int64(n)
	if j.onWrite != nil {
		j.onWrite()
	}
	return err
}

// rewrite replaces the journal with one holding the open intents of this and
// the previous process. Callers hold j.mu.
func (j *Intents) rewrite() error {
	var lines [][]byte
	for _, in := range j.left {
		line, err := json.Marshal(in)
		if err != nil {
			return err
		}
		lines = append(lines, append(line, '\n'))
	}
	for _, line := range j.open {
		lines = append(lines, line)
	}
	if err := writeFileAtomic(j.path, func(w *bufio.Writer) error {
		for _, line := range lines {
			if _, err := w.Write(line); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	f, err := os.OpenFile(j.path, os.O_WRONLY|os.O_APPEND, 0) //nolint:gosec // a path under the data directory
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return err
	}
	if j.f != nil {
		_ = j.f.Close()
	}
	j.f, j.size = f, st.Size()
	return nil
}
