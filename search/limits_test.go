package search

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2"

	"github.com/papercatalog/papers/repository"
)

// variedIndex returns an index of n papers whose words are random strings, a
// vocabulary of tens of thousands of words, as real abstracts have, plus one
// paper about quantization.
func variedIndex(t *testing.T, n int, limits Limits) *Index {
	t.Helper()
	ix, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ix.Close() })
	ix.SetLimits(limits)
	r := rand.New(rand.NewPCG(3, 4)) //nolint:gosec // test data
	text := func(words int) string {
		var b strings.Builder
		for range words {
			for range 4 + r.IntN(7) {
				b.WriteByte(byte('a' + r.IntN(26)))
			}
			b.WriteByte(' ')
		}
		return b.String()
	}
	var ps []*repository.Paper
	for i := range n {
		ps = append(ps, &repository.Paper{ID: fmt.Sprintf("2401.%05d", i), Title: text(8), Abstract: text(60), Version: 1})
	}
	ps = append(ps, &repository.Paper{ID: "quantization", Title: "Post-training quantization", Abstract: "Quantized transformers.", Version: 1})
	if err := ix.Apply(ps, nil); err != nil {
		t.Fatal(err)
	}
	return ix
}

// TestAdversarialQueriesAreBounded sends the queries that made one search take
// 46 s and paperd run out of memory (many regular expressions, many fuzzy
// terms, long prefix lists, broad patterns) to an index with a varied
// vocabulary: each is refused with an error that names the limit it passes, or
// answered.
func TestAdversarialQueriesAreBounded(t *testing.T) {
	t.Parallel()
	const papers = 1000
	// Searches wait for their turn however long it takes (the budget is not
	// what this test is about): a slow machine must not turn ErrQuery into ErrBusy.
	ix := variedIndex(t, papers, Limits{Wait: time.Minute})
	var regexps, fuzzy, prefixes []string
	for c := 'a'; c <= 'z'; c++ {
		regexps = append(regexps, fmt.Sprintf("/.*%c.*/", c))
		fuzzy = append(fuzzy, fmt.Sprintf("%c%c~2", c, c))
		prefixes = append(prefixes, fmt.Sprintf("%c*", c))
	}
	tests := []struct {
		name, query string
		refused     string // a part of the error naming the limit; "" when answered
		total       uint64 // the answer's total when answered
	}{
		{"twenty regular expressions", strings.Join(regexps[:20], " "), "at most 4 are allowed", 0},
		{"twenty-six fuzzy terms", strings.Join(fuzzy, " "), "at most 4 are allowed", 0},
		{"a long prefix list", strings.Join(prefixes, " "), "at most 4 are allowed", 0},
		{"one regular expression matching most words", "/.*a.*/", "match more than 1000 words", 0},
		{"four prefixes matching thousands of words", "a* e* i* o*", "match more than 1000 words", 0},
		{"everything", "*", "", papers + 1},
		{"everything with a title", "title:*", "", papers + 1},
		{"a specific prefix", "quantiz*", "", 1},
		{"a specific fuzzy word", "transformrs~1", "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q, err := Parse(tt.query)
			var page *Page
			if err == nil {
				page, err = ix.SearchPage(context.Background(), q, 0, 10)
			}
			switch {
			case tt.refused != "" && (!errors.Is(err, ErrQuery) || !strings.Contains(err.Error(), tt.refused)):
				t.Errorf("got %v, want an invalid query error with %q", err, tt.refused)
			case tt.refused == "" && err != nil:
				t.Errorf("got %v, want an answer", err)
			case tt.refused == "" && page.Total != tt.total:
				t.Errorf("got %d matches, want %d", page.Total, tt.total)
			}
		})
	}
}

// TestSearchTimeLimit checks that a search that runs out of its time is refused
// with an error naming the limit.
func TestSearchTimeLimit(t *testing.T) {
	t.Parallel()
	ix := variedIndex(t, 100, Limits{Timeout: 1}) // 1 ns: every search runs out
	q, err := Parse("quantiz* transformers")
	if err != nil {
		t.Fatal(err)
	}
	_, err = ix.SearchPage(context.Background(), q, 0, 10)
	if !errors.Is(err, ErrQuery) || !strings.Contains(err.Error(), "ran longer than 1ns") {
		t.Errorf("got %v, want an invalid query error naming the time limit", err)
	}
}

// TestSearchStopsWhenItsCallerLeaves checks that a search whose caller has gone
// returns the context's error instead of working for nobody, whether it was
// running or waiting for its turn.
func TestSearchStopsWhenItsCallerLeaves(t *testing.T) {
	t.Parallel()
	ix := variedIndex(t, 100, Limits{Concurrent: 1, Wait: time.Hour})
	q, err := Parse("/.*e.*/ quantiz*")
	if err != nil {
		t.Fatal(err)
	}
	// Past the wait for a turn, the caller goes: bleve itself stops (it would
	// otherwise answer: every paper matches).
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	all, err := Parse("*")
	if err != nil {
		t.Fatal(err)
	}
	if res, err := ix.runAdmitted(ctx, ix.idx, bleve.NewSearchRequest(all.q)); !errors.Is(err, context.Canceled) {
		t.Errorf("running: got %v, %v, want context.Canceled", res, err)
	}
	if _, err := ix.SearchPage(ctx, q, 0, 10); !errors.Is(err, context.Canceled) {
		t.Errorf("search: got %v, want context.Canceled", err)
	}
	if _, err := ix.Similar(ctx, &repository.Paper{ID: "x", Title: "quantization"}, 10); !errors.Is(err, context.Canceled) {
		t.Errorf("similar: got %v, want context.Canceled", err)
	}

	// Waiting for a turn that another search holds (for an hour at most).
	_, release, err := ix.Admit(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	ctx, cancel = context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := ix.SearchPage(ctx, q, 0, 10)
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("waiting: got %v, want context.Canceled", err)
	}
}

// TestExpensiveSearchesShareABudget checks that while the expensive searches'
// budget is taken, another expensive search is refused with ErrBusy after
// waiting, and a plain search runs at once.
func TestExpensiveSearchesShareABudget(t *testing.T) {
	t.Parallel()
	ix := variedIndex(t, 100, Limits{Concurrent: 2, Wait: 20 * time.Millisecond})
	expensive, err := Parse("quantiz*")
	if err != nil {
		t.Fatal(err)
	}
	plain, err := Parse("quantization")
	if err != nil {
		t.Fatal(err)
	}
	var releases []func()
	for range 2 {
		_, release, err := ix.Admit(context.Background(), expensive)
		if err != nil {
			t.Fatal(err)
		}
		releases = append(releases, release)
	}
	if _, err := ix.SearchPage(context.Background(), expensive, 0, 10); !errors.Is(err, ErrBusy) {
		t.Errorf("expensive search with the budget taken: got %v, want ErrBusy", err)
	}
	if page, err := ix.SearchPage(context.Background(), plain, 0, 10); err != nil || page.Total != 1 {
		t.Errorf("plain search with the budget taken: got %v, %v, want one match", page, err)
	}
	releases[0]()
	// The turn comes back after as long again as it was held.
	for deadline := time.Now().Add(10 * time.Second); ; {
		page, err := ix.SearchPage(context.Background(), expensive, 0, 10)
		if err == nil && page.Total == 1 {
			break
		}
		if !errors.Is(err, ErrBusy) || time.Now().After(deadline) {
			t.Fatalf("expensive search with a turn given back: got %v, %v, want one match", page, err)
		}
	}
	releases[1]()
}
