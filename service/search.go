package service

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/grpc/codes"

	"github.com/papercatalog/papers/apierror"
	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	"github.com/papercatalog/papers/listing"
	"github.com/papercatalog/papers/reason"
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
		return &apierror.Error{Code: codes.Unavailable, Reason: reason.IndexRebuilding, Message: "the search index is being rebuilt; retry in a moment"}
	}
	return nil
}

// SearchPapers implements catalogv1.CatalogServiceServer.
func (s *Catalog) SearchPapers(ctx context.Context, req *catalogv1.SearchPapersRequest) (*catalogv1.SearchPapersResponse, error) {
	return answer(ctx, s, "SearchPapers", req, s.searchPapers)
}

func (s *Catalog) searchPapers(ctx context.Context, req *catalogv1.SearchPapersRequest) (*catalogv1.SearchPapersResponse, error) {
	var v apierror.Violations
	size := pageSize(&v, req.GetPageSize(), defaultSearchPageSize, maxSearchPageSize)
	view := resolveView(&v, req.GetView(), catalogv1.PaperView_PAPER_VIEW_BASIC)
	q, err := search.Parse(req.GetQuery())
	if err != nil {
		v.Add("query", "%s", err.Error())
	}
	pq := s.queries.Parse(req.GetFilter(), "")
	if pq.FilterErr != nil {
		v.Add("filter", "%s", pq.FilterErr.Error())
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := s.searchReady(); err != nil {
		return nil, err
	}
	tokenQuery := "search\x00" + strings.TrimSpace(req.GetQuery()) + "\x00" + pq.Filter.Text
	_, offset, err := s.Tokens.Resume(tokenQuery, req.GetPageToken(), nil)
	if err != nil {
		return nil, err
	}
	var keep func(string) (*repository.Paper, bool)
	if pq.Filter.Text != "" {
		keep = func(id string) (*repository.Paper, bool) {
			p, ok := s.Model.Get(id)
			return p, ok && pq.Filter.Match(p) // not deleted since it was indexed, nor filtered out
		}
	}
	found, err := s.Search.Find(ctx, q, int(offset), size, keep)
	if errors.Is(err, search.ErrPastEnd) {
		return nil, listing.ErrInvalidToken
	}
	if err != nil {
		return nil, err
	}
	resp := &catalogv1.SearchPapersResponse{
		Results:   make([]*catalogv1.SearchResult, 0, len(found.Hits)),
		TotalSize: int32(min(found.Total, 1<<31-1)), //nolint:gosec // clamped
	}
	resp.OrganizationFacets = facets(found.Facets, search.FacetOrganization)
	resp.PrimaryCategoryFacets = facets(found.Facets, search.FacetPrimaryCategory)
	resp.YearFacets = facets(found.Facets, search.FacetYear)
	for i, h := range found.Hits {
		var p *repository.Paper
		if found.Papers != nil {
			p = found.Papers[i]
		} else if p, _ = s.Model.Get(h.ID); p == nil {
			continue // deleted a moment ago; the index follows
		}
		sn := found.Snippets[h.ID]
		m, err := s.proto(p, view)
		if err != nil {
			return nil, err
		}
		resp.Results = append(resp.Results, &catalogv1.SearchResult{Paper: m, Score: h.Score,
			TitleSnippets: sn.Title, AbstractSnippets: sn.Abstract})
	}
	if found.More {
		resp.NextPageToken = s.Tokens.EncodeExtra(tokenQuery, query0, offset+int64(size))
	}
	return resp, nil
}

// query0 is the sort key of search page tokens, which continue by offset.
var query0 = listing.Key{{S: "offset"}}

// facets returns a response's values of a facet.
func facets(counts search.FacetCounts, facet string) []*catalogv1.Facet {
	top := counts.Top(facet, maxFacetValues)
	out := make([]*catalogv1.Facet, len(top))
	for i, f := range top {
		out[i] = &catalogv1.Facet{Value: f.Value, Count: int32(min(f.Count, 1<<31-1))} //nolint:gosec // clamped
	}
	return out
}

// maxFacetValues is the most values a response lists per facet.
const maxFacetValues = 100

// ListSimilarPapers implements catalogv1.CatalogServiceServer.
func (s *Catalog) ListSimilarPapers(ctx context.Context, req *catalogv1.ListSimilarPapersRequest) (*catalogv1.ListSimilarPapersResponse, error) {
	return answer(ctx, s, "ListSimilarPapers", req, s.listSimilar)
}

func (s *Catalog) listSimilar(ctx context.Context, req *catalogv1.ListSimilarPapersRequest) (*catalogv1.ListSimilarPapersResponse, error) {
	var v apierror.Violations
	size := pageSize(&v, req.GetPageSize(), defaultSimilarPageSize, maxSimilarPageSize)
	view := resolveView(&v, req.GetView(), catalogv1.PaperView_PAPER_VIEW_BASIC)
	if err := v.Err(); err != nil {
		return nil, err
	}
	p, err := s.get("name", req.GetName())
	if err != nil {
		return nil, err
	}
	if err := s.searchReady(); err != nil {
		return nil, err
	}
	if p, err = s.Model.Full(p); err != nil { // its abstract says what it is about
		return nil, err
	}
	hits, err := s.Search.SimilarCached(ctx, p, size+10)
	if err != nil {
		return nil, err
	}
	resp := &catalogv1.ListSimilarPapersResponse{}
	for _, h := range hits {
		sp, ok := s.Model.Get(h.ID)
		if !ok || sp.ID == p.ID {
			continue
		}
		m, err := s.proto(sp, view)
		if err != nil {
			return nil, err
		}
		resp.Papers = append(resp.Papers, &catalogv1.SimilarPaper{Paper: m, Score: h.Score})
		if len(resp.Papers) == size {
			break
		}
	}
	return resp, nil
}
