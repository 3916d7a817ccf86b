package delivery

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/papercatalog/papers/repository"
)

// journal keeps the outcomes of digest deliveries in a local file from the
// moment the mail server took a mail until the database has the outcome, so
// that the outcomes can be written to the database in large batches and still
// survive a crash (kill -9: what a process wrote to a file outlives it). A
// start replays it (ReplayJournal) before sending anything.
type journal struct {
	path string

	mu      sync.Mutex
	f       *os.File
	pending int // outcomes appended and not yet stored in the database
}

// append writes d to the journal and returns once the file has it.
func (j *journal) append(d *repository.Delivery) error {
	line, err := json.Marshal(d)
	if err != nil {
		return err
	}
	line = append(line, '\n')
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		if j.f, err = os.OpenFile(j.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600); err != nil {
			return fmt.Errorf("digest journal: %w", err)
		}
	}
	if _, err := j.f.Write(line); err != nil {
		return fmt.Errorf("digest journal: %w", err)
	}
	j.pending++
	return nil
}

// stored records that n appended outcomes are in the database; once all are,
// the journal is emptied.
func (j *journal) stored(n int) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.pending -= n
	if j.pending > 0 || j.f == nil {
		return nil
	}
	j.pending = 0
	if err := j.f.Truncate(0); err != nil {
		return fmt.Errorf("digest journal: %w", err)
	}
	return nil
}

// ReplayJournal stores in the database the delivery outcomes that a process
// which stopped (or died) on this data directory recorded only in its journal,
// and empties the journal. Call it at start, before sending digests. Without a
// journal (JournalPath unset) it does nothing.
func (s *Sender) ReplayJournal(ctx context.Context) (int, error) {
	if s.JournalPath == "" {
		return 0, nil
	}
	f, err := os.Open(s.JournalPath)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("digest journal: %w", err)
	}
	defer func() { _ = f.Close() }()
	var ds []*repository.Delivery
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var d repository.Delivery
		if json.Unmarshal(sc.Bytes(), &d) != nil || d.Version < 1 {
			continue // a line cut short: its outcome was not taken for stored
		}
		ds = append(ds, &d)
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("digest journal: %w", err)
	}
	for i := 0; i < len(ds); i += outcomeBatch {
		// A version already stored is skipped: replaying twice is harmless.
		if _, err := s.Deliveries.Insert(ctx, ds[i:min(i+outcomeBatch, len(ds))]); err != nil {
			return 0, err
		}
	}
	if err := os.Truncate(s.JournalPath, 0); err != nil {
		return 0, fmt.Errorf("digest journal: %w", err)
	}
	return len(ds), nil
}
