package service

import (
	"context"

	"sort"
	"strconv"
	"strings"

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
	resp, err := s.searchPapers(req)
	if err != nil {
		return nil, s.fail(ctx, "SearchPapers", err)
	}
	return resp, nil
}

func (s *Catalog) searchPapers(req *catalogv1.SearchPapersRequest) (*catalogv1.SearchPapersResponse, error) {
	var v violations
	size := defaultSearchPageSize
	switch n := req.GetPageSize(); {
	case n < 0:
		v.add("page_size", "must not be negative")
	case n > 0:
		size = min(int(n), maxSearchPageSize)
	}
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
	hits, _, err := s.Search.Search(q)
	if err != nil {
		return nil, err
	}
	type match struct {
		p     *repository.Paper
		score float64
	}
	matches := make([]match, 0, len(hits))
	orgs, cats, years := map[string]int{}, map[string]int{}, map[string]int{}
	for _, h := range hits {
		p, ok := s.Model.Get(h.ID)
		if !ok || !pq.filter.Match(p) {
			continue // deleted since it was indexed, or filtered out
		}
		matches = append(matches, match{p, h.Score})
		if p.Organization.ID != "" {
			orgs[p.Organization.ID]++
		}
		if p.PrimaryCategory != "" {
			cats[p.PrimaryCategory]++
		}
		t := p.PublishedTime
		if t.IsZero() {
			t = p.SubmitTime
		}
		years[strconv.Itoa(t.Year())]++
	}
	if offset < 0 || offset > int64(len(matches)) {
		return nil, s.invalidToken()
	}
	end := min(int(offset)+size, len(matches))
	page := matches[offset:end]
	ids := make([]string, len(page))
	for i, m := range page {
		ids[i] = m.p.ID
	}
	snippets, err := s.Search.Highlight(q, ids)
	if err != nil {
		return nil, err
	}
	resp := &catalogv1.SearchPapersResponse{
		Results:               make([]*catalogv1.SearchResult, len(page)),
		TotalSize:             int32(min(len(matches), 1<<31-1)), //nolint:gosec // clamped
		OrganizationFacets:    facets(orgs, false),
		PrimaryCategoryFacets: facets(cats, false),
		YearFacets:            facets(years, true),
	}
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

// query0 is the sort key of search page tokens, which continue by offset.
var query0 = query.Key{{S: "offset"}}

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
	return out
}

// ListSimilarPapers implements catalogv1.CatalogServiceServer.
func (s *Catalog) ListSimilarPapers(ctx context.Context, req *catalogv1.ListSimilarPapersRequest) (*catalogv1.ListSimilarPapersResponse, error) {
	resp, err := s.listSimilar(req)
	if err != nil {
		return nil, s.fail(ctx, "ListSimilarPapers", err)
	}
	return resp, nil
}

func (s *Catalog) listSimilar(req *catalogv1.ListSimilarPapersRequest) (*catalogv1.ListSimilarPapersResponse, error) {
	var v violations
	size := defaultSimilarPageSize
	switch n := req.GetPageSize(); {
	case n < 0:
		v.add("page_size", "must not be negative")
	case n > 0:
		size = min(int(n), maxSimilarPageSize)
	}
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
	hits, err := s.Search.Similar(p, size+10)
	if err != nil {
		return nil, err
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
