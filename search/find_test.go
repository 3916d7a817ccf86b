package search

import (
	"context"
	"errors"
	"testing"

	"github.com/papercatalog/papers/repository"
)

func TestFind(t *testing.T) {
	t.Parallel()
	ix, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ix.Close() }()
	papers := map[string]*repository.Paper{}
	for i, org := range []string{"google", "google", "meta-ai", "naver-ai", "", "google"} {
		p := &repository.Paper{ID: "2401.0000" + string(rune('0'+i)), Title: "graph diffusion", Version: 1,
			Organization: repository.Organization{ID: org}}
		papers[p.ID] = p
	}
	if err := ix.Apply(mapValues(papers), nil); err != nil {
		t.Fatal(err)
	}
	ix.SetPapers(lookup(papers))
	q, err := Parse("graph")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	google := func(id string) (*repository.Paper, bool) {
		p, ok := papers[id]
		return p, ok && p.Organization.ID == "google"
	}
	tests := []struct {
		name       string
		from, size int
		keep       func(string) (*repository.Paper, bool)
		hits       int
		total      uint64
		more       bool
	}{
		{name: "an unfiltered first page says more follow", from: 0, size: 4, hits: 4, total: 6, more: true},
		{name: "an unfiltered last page says none follow", from: 4, size: 4, hits: 2, total: 6},
		{name: "a filter keeps only what it accepts", from: 0, size: 2, keep: google, hits: 2, total: 3, more: true},
		{name: "a filtered last page", from: 2, size: 2, keep: google, hits: 1, total: 3},
	}
	for _, tt := range tests {
		f, err := ix.Find(ctx, q, tt.from, tt.size, tt.keep)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if len(f.Hits) != tt.hits || f.Total != tt.total || f.More != tt.more {
			t.Errorf("%s: %d hits, total %d, more %v; want %d, %d, %v", tt.name, len(f.Hits), f.Total, f.More,
				tt.hits, tt.total, tt.more)
		}
		if tt.keep != nil && (len(f.Papers) != len(f.Hits) || f.Facets[FacetOrganization]["google"] != 3) {
			t.Errorf("%s: papers %d, facets %v", tt.name, len(f.Papers), f.Facets)
		}
		for _, h := range f.Hits {
			if sn := f.Snippets[h.ID]; len(sn.Title) != 1 || sn.Title[0] != "<mark>graph</mark> diffusion" {
				t.Errorf("%s: title snippets of %s: %q", tt.name, h.ID, sn.Title)
			}
		}
	}
	if _, err := ix.Find(ctx, q, 4, 2, google); !errors.Is(err, ErrPastEnd) {
		t.Errorf("an offset past the filtered matches: %v, want ErrPastEnd", err)
	}
	top := FacetCounts{FacetOrganization: {"google": 3, "meta-ai": 1, "naver-ai": 1}, FacetYear: {"2020": 9, "2024": 1}}
	if got := top.Top(FacetOrganization, 2); len(got) != 2 || got[0].Value != "google" || got[1].Value != "meta-ai" {
		t.Errorf("organizations: most first, ties by value, at most 2: %v", got)
	}
	if got := top.Top(FacetYear, 10); len(got) != 2 || got[0].Value != "2024" {
		t.Errorf("years: newest first: %v", got)
	}
}

// lookup returns a SetPapers function that reads papers.
func lookup(papers map[string]*repository.Paper) func(string) (*repository.Paper, bool, error) {
	return func(id string) (*repository.Paper, bool, error) {
		p, ok := papers[id]
		return p, ok, nil
	}
}

func mapValues(m map[string]*repository.Paper) []*repository.Paper {
	out := make([]*repository.Paper, 0, len(m))
	for _, p := range m {
		out = append(out, p)
	}
	return out
}

func TestMatchingCached(t *testing.T) {
	t.Parallel()
	ix, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ix.Close() }()
	p := &repository.Paper{ID: "2401.00001", Title: "graph diffusion", Version: 1}
	if err := ix.Apply([]*repository.Paper{p, {ID: "2401.00002", Title: "vision transformers", Version: 1}}, nil); err != nil {
		t.Fatal(err)
	}
	ids, err := ix.MatchingCached("graph")
	if err != nil || len(ids) != 1 || !ids[p.ID] {
		t.Fatalf("matching graph: %v %v", ids, err)
	}
	if _, err := ix.MatchingCached("\"graph"); err == nil {
		t.Error("a query that does not parse is an error")
	}
	// A change to the index is seen at once: the cached set is of the old generation.
	if err := ix.Apply([]*repository.Paper{{ID: "2401.00003", Title: "graph neural networks", Version: 1}}, nil); err != nil {
		t.Fatal(err)
	}
	if ids, err := ix.MatchingCached("graph"); err != nil || len(ids) != 2 {
		t.Errorf("matching graph after an index change: %v %v, want 2 papers", ids, err)
	}
}
