package service

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"google.golang.org/grpc/codes"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	"github.com/papercatalog/papers/query"
	"github.com/papercatalog/papers/repository"
	"github.com/papercatalog/papers/search"
)

// Page sizes of SearchPapers and ListSimilarPapers.
const (
	defaultSearchPageSize  = 20
	maxSearchPageSize      = 100
	defaultSimilarPageSize = 10
	maxSimilarPageSize     = 50
)

func (s *Catalog) searchReady() error {
	if s.Search == nil || s.Indexer == nil || !s.Indexer.Ready() {
		return errorf(codes.Unavailable, "the search index is being rebuilt; retry in a moment")
	}
	return nil
}

// SearchPapers implements catalogv1.CatalogServiceServer.
func (s *Catalog) SearchPapers(ctx context.Context, req *catalogv1.SearchPapersRequest) (*catalogv1.SearchPapersResponse, error) {
	resp, err := s.searchPapers(ctx, req)
	if err != nil {
		return nil, s.fail(ctx, "SearchPapers", err)
	}
	return resp, nil
}

func (s *Catalog) searchPapers(ctx context.Context, req *catalogv1.SearchPapersRequest) (*catalogv1.SearchPapersResponse, error) {
	var v violations
	size := pageSize(&v, req.GetPageSize(), defaultSearchPageSize, maxSearchPageSize)
	view := resolveView(&v, req.GetView(), catalogv1.PaperView_PAPER_VIEW_BASIC)
	q, err := search.Parse(req.GetQuery())
	if err != nil {
		v.add("query", "%s", err.Error())
	}
	pq := s.queries.parse(req.GetFilter(), "")
	if pq.ferr != nil {
		v.add("filter", "%s", pq.ferr.Error())
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	if err := s.searchReady(); err != nil {
		return nil, err
	}
	tokenQuery := "search\x00" + strings.TrimSpace(req.GetQuery()) + "\x00" + pq.filter.Text
	_, offset, err := s.decodeToken(tokenQuery, req.GetPageToken(), nil)
	if err != nil {
		return nil, err
	}
	if pq.filter.Text == "" {
		return s.searchUnfiltered(ctx, q, strings.TrimSpace(req.GetQuery()), tokenQuery, int(offset), size, view)
	}
	// One turn of the expensive-search budget for the search and its snippets.
	ctx, release, err := s.Search.Admit(ctx, q)
	if err != nil {
		return nil, err
	}
	defer release()
	hits, _, err := s.Search.SearchContext(ctx, q)
	if err != nil {
		return nil, err
	}
	type match struct {
		p     *repository.Paper
		score float64
	}
	matches := make([]match, 0, len(hits))
	counts := search.FacetCounts{}
	for _, h := range hits {
		p, ok := s.Model.Get(h.ID)
		if !ok || !pq.filter.Match(p) {
			continue // deleted since it was indexed, or filtered out
		}
		matches = append(matches, match{p, h.Score})
		counts.Add(p)
	}
	if offset < 0 || offset > int64(len(matches)) {
		return nil, invalidToken()
	}
	end := min(int(offset)+size, len(matches))
	page := matches[offset:end]
	ids := make([]string, len(page))
	for i, m := range page {
		ids[i] = m.p.ID
	}
	snippets, err := s.Search.Highlight(ctx, q, ids)
	if err != nil {
		return nil, err
	}
	resp := &catalogv1.SearchPapersResponse{
		Results:   make([]*catalogv1.SearchResult, len(page)),
		TotalSize: int32(min(len(matches), 1<<31-1)), //nolint:gosec // clamped
	}
	setFacets(resp, counts)
	for i, m := range page {
		sn := snippets[m.p.ID]
		resp.Results[i] = &catalogv1.SearchResult{Paper: s.protos.get(m.p, view), Score: m.score,
			TitleSnippets: sn.Title, AbstractSnippets: sn.Abstract}
	}
	if end < len(matches) {
		resp.NextPageToken = s.Tokens.EncodeExtra(tokenQuery, query0, int64(end))
	}
	return resp, nil
}

// searchUnfiltered serves a search without filter from one page of the index, with
// the index's own facet counts, cached until the index changes. Paper data comes
// from the read model at every call, so counts such as upvotes are current.
func (s *Catalog) searchUnfiltered(ctx context.Context, q search.Query, text, tokenQuery string, offset, size int, view catalogv1.PaperView) (*catalogv1.SearchPapersResponse, error) {
	key := fmt.Sprintf("%s\x00%d\x00%d", text, offset, size)
	gen := s.Search.Generation()
	cached, ok := s.searches.get(key, gen)
	if !ok {
		// One turn of the expensive-search budget for the search and its snippets.
		ctx, release, err := s.Search.Admit(ctx, q)
		if err != nil {
			return nil, err
		}
		defer release()
		page, err := s.Search.SearchPage(ctx, q, offset, size)
		if err != nil {
			return nil, err
		}
		ids := make([]string, len(page.Hits))
		for i, h := range page.Hits {
			ids[i] = h.ID
		}
		snippets, err := s.Search.Highlight(ctx, q, ids)
		if err != nil {
			return nil, err
		}
		cached = &cachedSearch{page: page, snippets: snippets}
		s.searches.put(key, gen, cached)
	}
	page := cached.page
	resp := &catalogv1.SearchPapersResponse{
		TotalSize: int32(min(page.Total, 1<<31-1)), //nolint:gosec // clamped
	}
	setFacets(resp, page.Facets)
	for _, h := range page.Hits {
		p, ok := s.Model.Get(h.ID)
		if !ok {
			continue // deleted a moment ago; the index follows
		}
		sn := cached.snippets[h.ID]
		resp.Results = append(resp.Results, &catalogv1.SearchResult{Paper: s.protos.get(p, view), Score: h.Score,
			TitleSnippets: sn.Title, AbstractSnippets: sn.Abstract})
	}
	if uint64(offset+size) < page.Total && offset+size < search.MaxHits { //nolint:gosec // non-negative
		resp.NextPageToken = s.Tokens.EncodeExtra(tokenQuery, query0, int64(offset+size))
	}
	return resp, nil
}

// cachedSearch is a search page with its snippets, or, for digests, the set of
// all the papers a query matches.
type cachedSearch struct {
	page     *search.Page
	snippets map[string]search.Snippets
	ids      map[string]bool
}

// searchCache keeps recent search results of one index generation.
type searchCache struct {
	mu      sync.Mutex
	gen     uint64
	entries map[string]*cachedSearch
}

const maxCachedSearches = 4096

func (c *searchCache) get(key string, gen uint64) (*cachedSearch, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return nil, false
	}
	e, ok := c.entries[key]
	return e, ok
}

func (c *searchCache) put(key string, gen uint64, e *cachedSearch) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen || c.entries == nil || len(c.entries) >= maxCachedSearches {
		c.gen, c.entries = gen, map[string]*cachedSearch{}
	}
	c.entries[key] = e
}

// query0 is the sort key of search page tokens, which continue by offset.
var query0 = query.Key{{S: "offset"}}

// setFacets fills a response's facets from counts.
func setFacets(resp *catalogv1.SearchPapersResponse, counts search.FacetCounts) {
	resp.OrganizationFacets = facets(counts[search.FacetOrganization], false)
	resp.PrimaryCategoryFacets = facets(counts[search.FacetPrimaryCategory], false)
	resp.YearFacets = facets(counts[search.FacetYear], true)
}

// facets orders facet counts: most first (ties by value), or by value, newest
// first, for years.
func facets(counts map[string]int, byValueDesc bool) []*catalogv1.Facet {
	out := make([]*catalogv1.Facet, 0, len(counts))
	for v, n := range counts {
		out = append(out, &catalogv1.Facet{Value: v, Count: int32(min(n, 1<<31-1))}) //nolint:gosec // clamped
	}
	sort.Slice(out, func(i, j int) bool {
		if byValueDesc {
			return out[i].GetValue() > out[j].GetValue()
		}
		if out[i].GetCount() != out[j].GetCount() {
			return out[i].GetCount() > out[j].GetCount()
		}
		return out[i].GetValue() < out[j].GetValue()
	})
	return out[:min(len(out), maxFacetValues)]
}

// maxFacetValues is the most values a response lists per facet.
const maxFacetValues = 100

// ListSimilarPapers implements catalogv1.CatalogServiceServer.
func (s *Catalog) ListSimilarPapers(ctx context.Context, req *catalogv1.ListSimilarPapersRequest) (*catalogv1.ListSimilarPapersResponse, error) {
	resp, err := s.listSimilar(ctx, req)
	if err != nil {
		return nil, s.fail(ctx, "ListSimilarPapers", err)
	}
	return resp, nil
}

func (s *Catalog) listSimilar(ctx context.Context, req *catalogv1.ListSimilarPapersRequest) (*catalogv1.ListSimilarPapersResponse, error) {
	var v violations
	size := pageSize(&v, req.GetPageSize(), defaultSimilarPageSize, maxSimilarPageSize)
	view := resolveView(&v, req.GetView(), catalogv1.PaperView_PAPER_VIEW_BASIC)
	if err := v.err(); err != nil {
		return nil, err
	}
	p, err := s.get("name", req.GetName())
	if err != nil {
		return nil, err
	}
	if err := s.searchReady(); err != nil {
		return nil, err
	}
	key := fmt.Sprintf("similar\x00%s\x00%d\x00%d", p.ID, p.Version, size)
	gen := s.Search.Generation()
	var hits []search.Hit
	if c, ok := s.searches.get(key, gen); ok {
		hits = c.page.Hits
	} else {
		if hits, err = s.Search.Similar(ctx, p, size+10); err != nil {
			return nil, err
		}
		s.searches.put(key, gen, &cachedSearch{page: &search.Page{Hits: hits}})
	}
	resp := &catalogv1.ListSimilarPapersResponse{}
	for _, h := range hits {
		sp, ok := s.Model.Get(h.ID)
		if !ok || sp.ID == p.ID {
			continue
		}
		resp.Papers = append(resp.Papers, &catalogv1.SimilarPaper{Paper: s.protos.get(sp, view), Score: h.Score})
		if len(resp.Papers) == size {
			break
		}
	}
	return resp, nil
}
