package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/papercatalog/papers/importer"
)

// DefaultArxivAPI is the arXiv API's query endpoint.
const DefaultArxivAPI = "https://export.arxiv.org/api/query"

// MaxArxivPage is the most results arXiv allows one request to ask for.
const MaxArxivPage = 2000

// Poller imports the newest submissions of some arXiv categories from the arXiv
// API on a schedule. Each round pages through the categories' submissions, newest
// first, until it reaches papers the previous round saw (or, on the first round,
// papers older than Backfill). Its progress is stored after every page, so a
// restarted paperd resumes where it stopped. It keeps to arXiv's terms: one
// request at a time, at least RequestGap from the end of one to the start of the
// next, at most 2,000 results a request,
// and it talks to the configured host only.
type Poller struct {
	BaseURL    string
	Categories []string
	Interval   time.Duration // between rounds
	PageSize   int
	RequestGap time.Duration
	Backfill   time.Duration
	// Import stores one page of records and says what happened to them; an
	// error ends the round (the next one resumes at the page).
	Import func(ctx context.Context, records []Record) (importer.Result, error)
	// LoadState and SaveState keep the poller's progress.
	LoadState func(ctx context.Context) ([]byte, error)
	SaveState func(ctx context.Context, state []byte) error
	Client    *http.Client
	Log       *slog.Logger

	lastRequest time.Time
}

// pollState is the stored progress.
type pollState struct {
	// Categories the state is about; another set starts over.
	Categories string `json:"categories"`
	// Seen is the newest submission time of the last finished round: the next
	// round stops at papers published before it.
	Seen time.Time `json:"seen"`
	// Round is the unfinished round, if any: the offset of its next page and the
	// newest submission time it has seen so far.
	Round *roundState `json:"round,omitempty"`
}

type roundState struct {
	Start  int       `json:"start"`
	Newest time.Time `json:"newest"`
	Began  time.Time `json:"began"`
}

// Check validates the configuration.
func (p *Poller) Check() error {
	u, err := url.Parse(p.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("arXiv API URL %q is not an http(s) URL", p.BaseURL)
	}
	if len(p.Categories) == 0 {
		return errors.New("no arXiv categories")
	}
	for _, c := range p.Categories {
		if !arxivCategory.MatchString(c) {
			return fmt.Errorf("%q is not an arXiv category such as cs.LG", c)
		}
	}
	if p.PageSize < 1 || p.PageSize > MaxArxivPage {
		return fmt.Errorf("page size %d: must be 1 to %d (arXiv's limit)", p.PageSize, MaxArxivPage)
	}
	if p.Interval <= 0 || p.Backfill <= 0 || p.RequestGap < 0 {
		return errors.New("interval and backfill must be positive")
	}
	return nil
}

// Run polls until ctx ends: a round at once, then one every Interval.
func (p *Poller) Run(ctx context.Context) {
	if p.Client == nil {
		host := ""
		if u, err := url.Parse(p.BaseURL); err == nil {
			host = u.Host
		}
		p.Client = &http.Client{Timeout: 2 * time.Minute, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
			if req.URL.Host != host {
				return fmt.Errorf("refusing a redirect to %s: the poller talks to %s only", req.URL.Host, host)
			}
			return nil
		}}
	}
	for {
		if err := p.Round(ctx); err != nil && ctx.Err() == nil {
			p.Log.Warn("arXiv poll failed; retrying at the next round", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(p.Interval):
		}
	}
}

// Round runs one round, or finishes an interrupted one.
func (p *Poller) Round(ctx context.Context) error {
	st, err := p.load(ctx)
	if err != nil {
		return err
	}
	cats := strings.Join(p.Categories, ",")
	if st.Categories != cats {
		st = pollState{Categories: cats}
	}
	if st.Round == nil {
		// Real time, not paperd's clock: it is compared with arXiv's dates.
		st.Round = &roundState{Began: time.Now().UTC()}
	}
	stopAt := st.Seen
	if stopAt.IsZero() {
		stopAt = st.Round.Began.Add(-p.Backfill)
	}
	var created, updated int64
	for {
		records, reachedOld, err := p.page(ctx, st.Round.Start, stopAt, &st.Round.Newest)
		if err != nil {
			return err
		}
		if len(records) > 0 {
			res, err := p.Import(ctx, records)
			if err != nil {
				return fmt.Errorf("import arXiv page at %d: %w", st.Round.Start, err)
			}
			created, updated = created+res.Created, updated+res.Updated
			for _, r := range res.Rejections {
				p.Log.Warn("arXiv record rejected", "paper", r.PaperID, "reason", r.Reason)
			}
		}
		if reachedOld {
			break
		}
		st.Round.Start += p.PageSize
		if err := p.save(ctx, st); err != nil {
			return err
		}
	}
	if st.Round.Newest.After(st.Seen) {
		st.Seen = st.Round.Newest
	}
	st.Round = nil
	p.Log.Info("arXiv poll done", "categories", cats, "created", created, "updated", updated, "seen_until", st.Seen)
	return p.save(ctx, st)
}

// page fetches the results from start on and returns the records published at or
// after stopAt, and whether the page reached older ones (or the end).
func (p *Poller) page(ctx context.Context, start int, stopAt time.Time, newest *time.Time) ([]Record, bool, error) {
	var terms []string
	for _, c := range p.Categories {
		terms = append(terms, "cat:"+c)
	}
	q := url.Values{}
	q.Set("search_query", strings.Join(terms, " OR "))
	q.Set("sortBy", "submittedDate")
	q.Set("sortOrder", "descending")
	q.Set("start", strconv.Itoa(start))
	q.Set("max_results", strconv.Itoa(p.PageSize))
	if wait := p.RequestGap - time.Since(p.lastRequest); wait > 0 {
		select {
		case <-ctx.Done():
			return nil, false, ctx.Err()
		case <-time.After(wait):
		}
	}
	// The gap runs from the end of one request to the start of the next, so a
	// slow answer does not shorten it.
	defer func() { p.lastRequest = time.Now() }()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.BaseURL+"?"+q.Encode(), nil)
	if err != nil {
		return nil, false, err
	}
	req.Header.Set("User-Agent", "paperd (self-hosted paper catalog)")
	resp, err := p.Client.Do(req)
	if err != nil {
		return nil, false, fmt.Errorf("arXiv API: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, false, fmt.Errorf("arXiv API answered %s: %s", resp.Status, oneLine(string(b)))
	}
	r, err := Open(io.LimitReader(resp.Body, 256<<20), ArxivAtom)
	if err != nil {
		return nil, false, err
	}
	var out []Record
	n, old := 0, false
	for {
		it, ok := r.Next()
		if !ok {
			break
		}
		n++
		if it.Err != nil {
			p.Log.Warn("arXiv entry unreadable", "start", start, "err", it.Err)
			continue
		}
		pub := it.Record.Paper.PublishedTime
		if pub.Before(stopAt) {
			old = true
			continue
		}
		if pub.After(*newest) {
			*newest = pub
		}
		it.Record.Position = int64(start + n)
		out = append(out, *it.Record)
	}
	if err := r.Err(); err != nil {
		return nil, false, fmt.Errorf("arXiv API response at %d: %w", start, err)
	}
	return out, old || n < p.PageSize, nil
}

func (p *Poller) load(ctx context.Context) (pollState, error) {
	var st pollState
	b, err := p.LoadState(ctx)
	if err != nil || len(b) == 0 {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		p.Log.Warn("arXiv poller state unreadable; starting over", "err", err)
		return pollState{}, nil
	}
	return st, nil
}

// save stores the progress of a round. What was imported is imported: the
// progress is stored even when ctx has just ended (paperd shutting down), with
// a deadline of its own, so that the next start does not fetch and import the
// same pages again.
func (p *Poller) save(ctx context.Context, st pollState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	return p.SaveState(ctx, b)
}

// saveTimeout bounds the write of the poller's progress.
const saveTimeout = 10 * time.Second
