package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	"github.com/papercatalog/papers/server"
)

// fakeArxiv serves Atom responses to arXiv API queries from a list of entries,
// newest first, and records the requests.
type fakeArxiv struct {
	mu       sync.Mutex
	entries  []fakeEntry
	requests []*http.Request
	times    []time.Time
	failAt   int // answer 503 to the request with this start offset, once
}

type fakeEntry struct {
	id        string
	published time.Time
}

func (f *fakeArxiv) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r)
	f.times = append(f.times, time.Now())
	q := r.URL.Query()
	start, _ := strconv.Atoi(q.Get("start"))
	size, _ := strconv.Atoi(q.Get("max_results"))
	if f.failAt > 0 && start == f.failAt {
		f.failAt = 0
		http.Error(w, "Service Temporarily Unavailable", http.StatusServiceUnavailable)
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
<opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">%d</opensearch:totalResults>
`, len(f.entries))
	for i := start; i < min(start+size, len(f.entries)); i++ {
		e := f.entries[i]
		fmt.Fprintf(&b, `<entry><id>http://arxiv.org/abs/%sv1</id><published>%s</published><updated>%s</updated>
<title>Paper %s</title><summary>About %s.</summary><author><name>Ada Lovelace</name></author>
<arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" term="cs.LG"/><category term="cs.LG"/></entry>
`, e.id, e.published.Format(time.RFC3339), e.published.Format(time.RFC3339), e.id, e.id)
	}
	b.WriteString("</feed>\n")
	w.Header().Set("Content-Type", "application/atom+xml")
	_, _ = w.Write([]byte(b.String()))
}

func (f *fakeArxiv) starts() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, r := range f.requests {
		out = append(out, r.URL.Query().Get("start"))
	}
	return out
}

func TestArxivPollerImportsAndResumes(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC().Truncate(time.Second)
	fake := &fakeArxiv{failAt: 6}
	for i := range 7 {
		fake.entries = append(fake.entries, fakeEntry{fmt.Sprintf("2411.%05d", 10+i), now.Add(-time.Duration(i+1) * time.Hour)})
	}
	// An old paper the first round must not reach: beyond the backfill window.
	fake.entries = append(fake.entries, fakeEntry{"2401.00001", now.Add(-30 * 24 * time.Hour)})
	api := httptest.NewServer(fake)
	defer api.Close()

	cfg := testConfig(t)
	cfg.Arxiv = server.ArxivConfig{Categories: []string{"cs.LG", "cs.CL"}, URL: api.URL + "/api/query", Interval: time.Hour,
		PageSize: 3, RequestGap: 100 * time.Millisecond, Backfill: 72 * time.Hour}
	// The poller logs the end of each round; the next is an hour (Interval) away.
	start := func() (*testServer, *logBuffer) {
		logs := &logBuffer{}
		return startLogging(t, cfg, slog.New(slog.NewTextHandler(io.MultiWriter(logs, testWriter{t}), &slog.HandlerOptions{Level: slog.LevelInfo}))), logs
	}
	ts, logs := start()
	// The first round fails at the third page (start=6) and waits for the next.
	eventually30(t, "the first round to fail", func() bool { return strings.Contains(logs.String(), "arXiv poll failed") })
	if got := strings.Join(fake.starts(), ","); got != "0,3,6" {
		t.Fatalf("requests at %s, want 0,3,6", got)
	}
	r := fake.requests[0].URL.Query()
	if r.Get("search_query") != "cat:cs.LG OR cat:cs.CL" || r.Get("sortBy") != "submittedDate" || r.Get("sortOrder") != "descending" ||
		r.Get("max_results") != "3" || fake.requests[0].URL.Path != "/api/query" {
		t.Errorf("query %v", fake.requests[0].URL)
	}
	for i := 1; i < len(fake.times); i++ {
		// The gap runs from the end of one request, so arrivals are at least as far apart.
		if gap := fake.times[i].Sub(fake.times[i-1]); gap < 100*time.Millisecond {
			t.Errorf("requests %d and %d only %v apart", i-1, i, gap)
		}
	}
	ctx := testCtx(t)
	list := func(ts *testServer) []string {
		resp, err := ts.client.ListPapers(ctx, &catalogv1.ListPapersRequest{OrderBy: "published_time desc"})
		if err != nil {
			t.Fatal(err)
		}
		return ids(resp.GetPapers())
	}
	if got := list(ts); len(got) != 6 {
		t.Fatalf("after the failed page: %v", got)
	}
	// Restarted, paperd resumes the round at the page that failed, and stops at the
	// paper older than the backfill window.
	ctxStop, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	if err := ts.Shutdown(ctxStop); err != nil {
		t.Fatal(err)
	}
	cancel()
	ts, _ = start()
	eventually30(t, "the rest of the round", func() bool { return len(list(ts)) == 7 })
	if got := strings.Join(fake.starts(), ","); got != "0,3,6,6" {
		t.Errorf("requests at %s, want 0,3,6,6", got)
	}
	if got := list(ts); got[0] != "2411.00010" || got[6] != "2411.00016" {
		t.Errorf("papers %v", got)
	}
	// A new submission: the next round (after a restart) takes it and stops at the
	// papers it saw before.
	fake.mu.Lock()
	fake.entries = append([]fakeEntry{{"2411.00099", now}}, fake.entries...)
	fake.mu.Unlock()
	ctxStop, cancel = context.WithTimeout(context.Background(), 20*time.Second)
	if err := ts.Shutdown(ctxStop); err != nil {
		t.Fatal(err)
	}
	cancel()
	ts, logs = start()
	eventually30(t, "the new paper", func() bool { return len(list(ts)) == 8 })
	eventually30(t, "the end of the round", func() bool { return strings.Contains(logs.String(), "arXiv poll done") })
	if got := strings.Join(fake.starts(), ","); got != "0,3,6,6,0" {
		t.Errorf("requests at %s, want 0,3,6,6,0", got)
	}
}
