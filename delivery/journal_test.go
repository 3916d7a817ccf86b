package delivery

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/papercatalog/papers/repository"
)

// TestReplayJournalStoresWhatADeadProcessTookDownOnlyThere writes a journal as
// a process that died before its outcomes reached the database leaves it (the
// last line cut short), replays it, and finds the outcomes stored, the journal
// empty, and a second replay harmless.
func TestReplayJournalStoresWhatADeadProcessTookDownOnlyThere(t *testing.T) {
	s, _ := newSender(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s.JournalPath = filepath.Join(t.TempDir(), "digest-outcomes.journal")
	now := time.Now().UTC().Truncate(time.Millisecond)
	claims := []*repository.Delivery{
		{SubscriptionID: "a", Edition: "2026-11-28", State: repository.DeliveryClaimed, Owner: "dead", ClaimTime: now, Version: 1},
		{SubscriptionID: "b", Edition: "2026-11-28", State: repository.DeliveryClaimed, Owner: "dead", ClaimTime: now, Version: 1},
	}
	if _, err := s.Deliveries.Insert(ctx, claims); err != nil {
		t.Fatal(err)
	}
	var data []byte
	for _, c := range claims {
		sent := *c
		sent.State, sent.DoneTime, sent.Version = repository.DeliverySent, now, 2
		line, err := json.Marshal(&sent)
		if err != nil {
			t.Fatal(err)
		}
		data = append(append(data, line...), '\n')
	}
	data = append(data, `{"SubscriptionID":"c","Edi`...) // the write a kill cut short
	if err := os.WriteFile(s.JournalPath, data, 0o600); err != nil {
		t.Fatal(err)
	}
	n, err := s.ReplayJournal(ctx)
	if err != nil || n != 2 {
		t.Fatalf("replay: %d outcomes, %v; want 2", n, err)
	}
	got, err := s.Deliveries.Edition(ctx, "2026-11-28")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b"} {
		if d := got[id]; d == nil || d.State != repository.DeliverySent || d.Version != 2 {
			t.Errorf("delivery %s after the replay: %+v, want sent (version 2)", id, d)
		}
	}
	if fi, err := os.Stat(s.JournalPath); err != nil || fi.Size() != 0 {
		t.Errorf("the journal after the replay: %v, %v; want empty", fi, err)
	}
	if n, err := s.ReplayJournal(ctx); err != nil || n != 0 {
		t.Errorf("a second replay: %d, %v", n, err)
	}
}
