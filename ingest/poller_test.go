package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/papercatalog/papers/importer"
)

// TestPollerStoresTheEndOfARoundWhenStopped stops the poller (cancels its
// context) right after the last page of a round is imported, as paperd's
// shutdown may: the end of the round is stored all the same, so the next start
// begins a new round instead of fetching the last page again.
func TestPollerStoresTheEndOfARoundWhenStopped(t *testing.T) {
	newest := time.Date(2026, 11, 29, 20, 0, 0, 0, time.UTC)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/atom+xml")
		_, _ = fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
<opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">1</opensearch:totalResults>
<entry><id>http://arxiv.org/abs/2411.00001v1</id><published>%[1]s</published><updated>%[1]s</updated>
<title>A paper</title><summary>About it.</summary><author><name>Ada Lovelace</name></author>
<arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" term="cs.LG"/><category term="cs.LG"/></entry>
</feed>
`, newest.Format(time.RFC3339))
	}))
	defer api.Close()

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var saved []byte
	p := &Poller{BaseURL: api.URL, Categories: []string{"cs.LG"}, Interval: time.Hour, PageSize: 10, Backfill: 72 * time.Hour,
		Log: slog.New(slog.DiscardHandler), Client: api.Client(),
		Import: func(context.Context, []Record) (importer.Result, error) {
			stop() // paperd shuts down as the page is stored
			return importer.Result{Created: 1}, nil
		},
		LoadState: func(context.Context) ([]byte, error) { return nil, nil },
		SaveState: func(ctx context.Context, b []byte) error {
			if err := ctx.Err(); err != nil { // as the database driver does
				return err
			}
			saved = b
			return nil
		},
	}
	if err := p.Round(ctx); err != nil {
		t.Fatalf("round: %v", err)
	}
	var st pollState
	if err := json.Unmarshal(saved, &st); err != nil {
		t.Fatalf("stored state %q: %v", saved, err)
	}
	if st.Round != nil || !st.Seen.Equal(newest) {
		t.Errorf("stored state %s: want the round finished, seen until %v", saved, newest)
	}
}
