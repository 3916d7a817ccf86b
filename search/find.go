package search

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/papercatalog/papers/repository"
)

// ErrPastEnd is returned by Find for an offset past the matches.
var ErrPastEnd = errors.New("offset past the matches")

// Found is one page of a search's matches, with their snippets.
type Found struct {
	// Hits are the page's matches, best first.
	Hits []Hit
	// Papers are the papers of Hits, when Find had a keep function.
	Papers []*repository.Paper
	// Snippets are the highlighted fragments of the hits, by paper id.
	Snippets map[string]Snippets
	// Total is how many papers matched in all; Facets counts them.
	Total  uint64
	Facets FacetCounts
	// More reports whether matches follow the page.
	More bool
}

// Find returns the matches from..from+size of q, best first, with their
// snippets and facet counts over every match, in one turn of the
// expensive-search budget (see Admit).
//
// Without keep, the page comes from the index, with the index's facet counts,
// and is cached until the index changes: callers must not modify it. With keep,
// Find considers the first MaxHits matches, keeps those keep returns a paper for
// (deleted papers, papers a filter refuses are dropped) and counts their facets;
// an offset past them returns ErrPastEnd.
func (ix *Index) Find(ctx context.Context, q Query, from, size int, keep func(id string) (*repository.Paper, bool)) (*Found, error) {
	if keep == nil {
		key := fmt.Sprintf("%s\x00%d\x00%d", q.text, from, size)
		gen := ix.Generation()
		if f, ok := ix.results.get(key, gen); ok {
			return f.(*Found), nil
		}
		f, err := ix.find(ctx, q, from, size)
		if err != nil {
			return nil, err
		}
		ix.results.put(key, gen, f)
		return f, nil
	}
	ctx, release, err := ix.Admit(ctx, q)
	if err != nil {
		return nil, err
	}
	defer release()
	hits, _, err := ix.SearchContext(ctx, q)
	if err != nil {
		return nil, err
	}
	f := &Found{Facets: FacetCounts{}}
	var kept []Hit
	var papers []*repository.Paper
	for _, h := range hits {
		p, ok := keep(h.ID)
		if !ok {
			continue
		}
		kept = append(kept, h)
		papers = append(papers, p)
		f.Facets.Add(p)
	}
	if from < 0 || from > len(kept) {
		return nil, ErrPastEnd
	}
	end := min(from+size, len(kept))
	f.Hits, f.Papers, f.Total, f.More = kept[from:end], papers[from:end], uint64(len(kept)), end < len(kept)
	if f.Snippets, err = ix.Highlight(ctx, q, ids(f.Hits)); err != nil {
		return nil, err
	}
	return f, nil
}

// find serves Find without keep from one page of the index.
func (ix *Index) find(ctx context.Context, q Query, from, size int) (*Found, error) {
	ctx, release, err := ix.Admit(ctx, q)
	if err != nil {
		return nil, err
	}
	defer release()
	page, err := ix.SearchPage(ctx, q, from, size)
	if err != nil {
		return nil, err
	}
	snippets, err := ix.Highlight(ctx, q, ids(page.Hits))
	if err != nil {
		return nil, err
	}
	more := uint64(from+size) < page.Total && from+size < MaxHits //nolint:gosec // non-negative
	return &Found{Hits: page.Hits, Snippets: snippets, Total: page.Total, Facets: page.Facets, More: more}, nil
}

func ids(hits []Hit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.ID
	}
	return out
}

// SimilarCached is Similar, its hits cached until the index changes (or p does):
// callers must not modify them.
func (ix *Index) SimilarCached(ctx context.Context, p *repository.Paper, limit int) ([]Hit, error) {
	key := fmt.Sprintf("similar\x00%s\x00%d\x00%d", p.ID, p.Version, limit)
	gen := ix.Generation()
	if hits, ok := ix.results.get(key, gen); ok {
		return hits.([]Hit), nil
	}
	hits, err := ix.Similar(ctx, p, limit)
	if err != nil {
		return nil, err
	}
	ix.results.put(key, gen, hits)
	return hits, nil
}

// MatchingCached returns the ids of every paper the query text matches, cached
// until the index changes: subscribers share topics, so each distinct query is
// run once per index generation. Callers must not modify the set.
func (ix *Index) MatchingCached(text string) (map[string]bool, error) {
	key, gen := "matching\x00"+text, ix.Generation()
	if ids, ok := ix.results.get(key, gen); ok {
		return ids.(map[string]bool), nil
	}
	q, err := Parse(text)
	if err != nil {
		return nil, err
	}
	hits, _, err := ix.Search(q)
	if err != nil {
		return nil, err
	}
	ids := make(map[string]bool, len(hits))
	for _, h := range hits {
		ids[h.ID] = true
	}
	ix.results.put(key, gen, ids)
	return ids, nil
}

// resultCache keeps recent results of one index generation.
type resultCache struct {
	mu      sync.Mutex
	gen     uint64
	entries map[string]any
}

const maxCachedResults = 4096

func (c *resultCache) get(key string, gen uint64) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return nil, false
	}
	e, ok := c.entries[key]
	return e, ok
}

func (c *resultCache) put(key string, gen uint64, e any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen || c.entries == nil || len(c.entries) >= maxCachedResults {
		c.gen, c.entries = gen, map[string]any{}
	}
	c.entries[key] = e
}

// FacetValue is a value of a facet and how many matches have it.
type FacetValue struct {
	Value string
	Count int
}

// Top returns at most n values of facet: those with most matches first (ties by
// value), or, for FacetYear, by value, newest first.
func (c FacetCounts) Top(facet string, n int) []FacetValue {
	out := make([]FacetValue, 0, len(c[facet]))
	for v, k := range c[facet] {
		out = append(out, FacetValue{v, k})
	}
	slices.SortFunc(out, func(a, b FacetValue) int {
		if facet == FacetYear {
			return strings.Compare(b.Value, a.Value)
		}
		if a.Count != b.Count {
			return cmp.Compare(b.Count, a.Count)
		}
		return strings.Compare(a.Value, b.Value)
	})
	return out[:min(len(out), n)]
}
