package search

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"

	"github.com/papercatalog/papers/cpu"
)

// Limits bound what one search may cost, whoever sends it. The zero value of a
// field takes its default.
type Limits struct {
	// MaxExpansions is the most words of the index one search may look up, all
	// its terms together: a wildcard, regular-expression or fuzzy term counts
	// every word it matches, a plain word one (default DefaultMaxExpansions).
	MaxExpansions int
	// Timeout is the longest a search may run, waiting for its turn aside
	// (default DefaultSearchTimeout).
	Timeout time.Duration
	// Concurrent is how many expensive searches (with wildcard,
	// regular-expression or fuzzy terms, or *) run at once (default: half the
	// CPUs Go uses, at least one, so that they leave the rest to other calls).
	// A turn is taken again only after as long as it was held, so expensive
	// searches keep at most half of Concurrent CPUs busy.
	Concurrent int
	// Wait is the longest an expensive search waits for its turn before it is
	// refused with ErrBusy (default DefaultSearchWait).
	Wait time.Duration
}

// Defaults of Limits.
const (
	DefaultMaxExpansions = 1000
	DefaultSearchTimeout = 5 * time.Second
	DefaultSearchWait    = 2 * time.Second
)

// MaxExpensiveTerms is the most wildcard, regular-expression, fuzzy and *
// terms a query may have; Parse refuses more.
const MaxExpensiveTerms = 4

// ErrBusy is returned, unwrapped, when an expensive search waited Limits.Wait
// for its turn in vain; the caller may retry after RetryAfter.
var ErrBusy = errors.New("too many wildcard, regular-expression or fuzzy searches are running; retry in a moment")

// RetryAfter is how long a caller refused with ErrBusy should wait.
const RetryAfter = time.Second

// WithDefaults returns l with its unset fields set to their defaults.
func (l Limits) WithDefaults() Limits {
	if l.MaxExpansions <= 0 {
		l.MaxExpansions = DefaultMaxExpansions
	}
	if l.Timeout <= 0 {
		l.Timeout = DefaultSearchTimeout
	}
	if l.Concurrent <= 0 {
		l.Concurrent = max(1, runtime.GOMAXPROCS(0)/2)
	}
	if l.Wait <= 0 {
		l.Wait = DefaultSearchWait
	}
	return l
}

// SetLimits sets the limits of every search; call it before the index is used.
func (ix *Index) SetLimits(l Limits) {
	ix.limits = l.WithDefaults()
	ix.slots = make(chan struct{}, ix.limits.Concurrent)
}

// SetGate makes every search take a turn of g while it runs (see package cpu);
// call it before the index is used.
func (ix *Index) SetGate(g *cpu.Gate) { ix.gate = g }

// admittedKey marks a context whose caller holds a turn of the expensive-search
// budget (or whose query needs none), so that the searches made under it do not
// wait for another.
type admittedKey struct{}

// Admit waits for a turn of the expensive-search budget when q is expensive
// (see Limits.Concurrent), and returns a context under which searches for q
// wait for no other turn, and the function that gives the turn back. It returns
// ErrBusy when no turn came within Limits.Wait, and ctx's error when ctx ends
// first. A cheap q needs no turn: Admit returns at once.
func (ix *Index) Admit(ctx context.Context, q Query) (context.Context, func(), error) {
	return ix.admit(ctx, q.q, ix.limits.Wait)
}

func (ix *Index) admit(ctx context.Context, q query.Query, wait time.Duration) (context.Context, func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if ctx.Value(admittedKey{}) != nil || !expensive(q) {
		return context.WithValue(ctx, admittedKey{}, true), func() {}, nil
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case ix.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	case <-timer.C:
		return nil, nil, ErrBusy
	}
	// The turn comes back after as long again as it was held: expensive
	// searches keep at most half of Concurrent CPUs busy, whatever their
	// number, and the rest of the API has the others.
	took := time.Now()
	var once sync.Once
	release := func() {
		once.Do(func() { time.AfterFunc(time.Since(took), func() { <-ix.slots }) })
	}
	return context.WithValue(ctx, admittedKey{}, true), release, nil
}

// errTimeout is the cause of a search context that ran out of Limits.Timeout.
var errTimeout = errors.New("search timeout")

// run runs req within the limits: it takes a turn of the budget if the caller
// holds none, bounds the run by Limits.Timeout and the number of index words
// looked up by Limits.MaxExpansions, and stops when ctx ends. Errors from the
// limits wrap ErrQuery and name the limit; when ctx ends, the error is ctx's.
func (ix *Index) run(ctx context.Context, req *bleve.SearchRequest) (*bleve.SearchResult, error) {
	return ix.runIn(ctx, ix.idx, req)
}

// runIn is run on idx: the index, or the small one Highlight makes.
func (ix *Index) runIn(ctx context.Context, idx bleve.Index, req *bleve.SearchRequest) (*bleve.SearchResult, error) {
	ctx, release, err := ix.admit(ctx, req.Query, ix.limits.Wait)
	if err != nil {
		return nil, err
	}
	defer release()
	return ix.runAdmitted(ctx, idx, req)
}

func (ix *Index) runAdmitted(ctx context.Context, idx bleve.Index, req *bleve.SearchRequest) (*bleve.SearchResult, error) {
	leave, err := ix.gate.Enter(ctx)
	if err != nil {
		return nil, err
	}
	defer leave()
	sctx, cancel := context.WithTimeoutCause(ctx, ix.limits.Timeout, errTimeout)
	defer cancel()
	sctx = context.WithValue(sctx, search.MaxTermSearchersKey, ix.limits.MaxExpansions)
	res, err := idx.SearchInContext(sctx, req)
	switch {
	case err == nil:
		return res, nil
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.Is(context.Cause(sctx), errTimeout):
		return nil, fmt.Errorf("%w: the search ran longer than %s, the limit; use fewer or more specific wildcard, regular-expression or fuzzy terms",
			ErrQuery, ix.limits.Timeout)
	case strings.Contains(err.Error(), "TooManyTermSearchers"):
		// bleve's error for search.MaxTermSearchersKey; it has no sentinel.
		return nil, fmt.Errorf("%w: the query's wildcard, regular-expression or fuzzy terms match more than %d words of the index, the limit; make them more specific",
			ErrQuery, ix.limits.MaxExpansions)
	}
	return nil, fmt.Errorf("search: %w", err)
}

// expensive reports whether q has terms whose cost grows with the index's
// vocabulary or size: wildcards, regular expressions, prefixes, fuzzy terms and
// match-all.
func expensive(q query.Query) bool {
	return countExpensive(q) > 0
}

// countExpensive counts q's expensive terms.
func countExpensive(q query.Query) int {
	n := 0
	_ = walk(q, func(q query.Query) error {
		switch q := q.(type) {
		case *query.RegexpQuery, *query.WildcardQuery, *query.PrefixQuery, *query.MatchAllQuery:
			n++
		case *query.FuzzyQuery:
			if q.Fuzziness != 0 {
				n++
			}
		case *query.MatchQuery:
			if q.Fuzziness != 0 {
				n++
			}
		case *query.MatchPhraseQuery:
			if q.Fuzziness != 0 {
				n++
			}
		}
		return nil
	})
	return n
}

// walk calls f for q and every query inside it, depth first, until f fails.
func walk(q query.Query, f func(query.Query) error) error {
	if q == nil {
		return nil
	}
	if err := f(q); err != nil {
		return err
	}
	var subs []query.Query
	switch q := q.(type) {
	case *query.BooleanQuery:
		subs = []query.Query{q.Must, q.Should, q.MustNot}
	case *query.ConjunctionQuery:
		subs = q.Conjuncts
	case *query.DisjunctionQuery:
		subs = q.Disjuncts
	}
	for _, sub := range subs {
		if err := walk(sub, f); err != nil {
			return err
		}
	}
	return nil
}

// matchAll turns wildcard terms that are only asterisks (*, title:*) into
// match-all queries: the wildcard would look up every word of the index, and
// matches every paper anyway.
func matchAll(q query.Query) query.Query {
	if w, ok := q.(*query.WildcardQuery); ok && strings.Trim(w.Wildcard, "*") == "" {
		return bleve.NewMatchAllQuery()
	}
	return rewriteParts(q, matchAll)
}

// rewriteParts replaces each query inside a boolean, conjunction or disjunction
// query q with what rewrite returns for it, in place, and returns q.
func rewriteParts(q query.Query, rewrite func(query.Query) query.Query) query.Query {
	switch q := q.(type) {
	case *query.BooleanQuery:
		q.Must, q.Should, q.MustNot = rewrite(q.Must), rewrite(q.Should), rewrite(q.MustNot)
	case *query.ConjunctionQuery:
		for i, sub := range q.Conjuncts {
			q.Conjuncts[i] = rewrite(sub)
		}
	case *query.DisjunctionQuery:
		for i, sub := range q.Disjuncts {
			q.Disjuncts[i] = rewrite(sub)
		}
	}
	return q
}
