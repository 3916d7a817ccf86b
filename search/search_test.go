package search

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2/search/query"

	"github.com/papercatalog/papers/repository"
)

var words = []string{"graph", "diffusion", "transformer", "quantization", "robot", "language",
	"vision", "kernel", "sparse", "attention", "policy", "reward", "protein", "molecule"}

func randomPaper(r *rand.Rand, i int) *repository.Paper {
	text := func(n int) string {
		s := ""
		for range n {
			s += words[r.IntN(len(words))] + " "
		}
		return s
	}
	p := &repository.Paper{
		ID: fmt.Sprintf("2401.%05d", i), Title: text(4), Abstract: text(30),
		PrimaryCategory: []string{"cs.LG", "cs.CV", "cs.CL", "", "math.OC"}[r.IntN(5)],
		PublishedTime:   time.Date(2018+r.IntN(8), 3, 1, 0, 0, 0, 0, time.UTC),
		Version:         int64(1 + r.IntN(1000)),
	}
	if r.IntN(3) > 0 {
		p.Organization.ID = []string{"google", "meta-ai", "naver-ai"}[r.IntN(3)]
	}
	return p
}

// TestFacetsCountEveryMatch checks SearchPage's facet counts against counts made
// from the matching papers themselves, after many small batches (which the index
// merges, renumbering its documents), updates that move papers between facet
// values, and deletes.
func TestFacetsCountEveryMatch(t *testing.T) {
	ix, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ix.Close() }()
	r := rand.New(rand.NewPCG(1, 2)) //nolint:gosec // test data
	papers := map[string]*repository.Paper{}
	check := func(when string) {
		t.Helper()
		for _, q := range []string{"graph", "graph diffusion", "robot -reward", `"sparse attention"`, "title:protein"} {
			pq, err := Parse(q)
			if err != nil {
				t.Fatal(err)
			}
			hits, total, err := ix.Search(pq)
			if err != nil {
				t.Fatal(err)
			}
			want := FacetCounts{}
			for _, h := range hits {
				p, ok := papers[h.ID]
				if !ok {
					t.Fatalf("%s: %q found %s, which is not indexed", when, q, h.ID)
				}
				want.Add(p)
			}
			page, err := ix.SearchPage(context.Background(), pq, 0, 10)
			if err != nil {
				t.Fatal(err)
			}
			if page.Total != total || total == 0 {
				t.Errorf("%s: %q: page total %d, search total %d", when, q, page.Total, total)
			}
			for _, facet := range []string{FacetOrganization, FacetPrimaryCategory, FacetYear} {
				if !maps.Equal(page.Facets[facet], want[facet]) {
					t.Errorf("%s: %q: %s facets %v, want %v", when, q, facet, page.Facets[facet], want[facet])
				}
			}
			if len(page.Hits) != min(10, len(hits)) || page.Hits[0] != hits[0] {
				t.Errorf("%s: %q: first page %v, want it to start with %v", when, q, page.Hits, hits[0])
			}
		}
		ix.facetMu.Lock()
		defer ix.facetMu.Unlock()
		if len(ix.segFacets) == 0 {
			t.Errorf("%s: the facet table was not built from per-segment tables", when)
		}
	}
	for batch := range 40 {
		var ps []*repository.Paper
		for i := range 50 {
			p := randomPaper(r, batch*50+i)
			papers[p.ID], ps = p, append(ps, p)
		}
		if err := ix.Apply(ps, nil); err != nil {
			t.Fatal(err)
		}
	}
	check("after 40 batches")
	ids := slices.Sorted(maps.Keys(papers))
	var updated []*repository.Paper
	var deleted []string
	for i, id := range ids {
		switch i % 5 {
		case 0:
			p := randomPaper(r, 0)
			p.ID = id
			papers[id], updated = p, append(updated, p)
		case 1:
			delete(papers, id)
			deleted = append(deleted, id)
		}
	}
	if err := ix.Apply(updated, deleted); err != nil {
		t.Fatal(err)
	}
	check("after updates and deletes")
}

// TestEveryWordIsRequired checks the query semantics: plain words must all match,
// stop words are ignored, -words exclude.
func TestEveryWordIsRequired(t *testing.T) {
	ix, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ix.Close() }()
	ps := []*repository.Paper{
		{ID: "1", Title: "Graph neural networks", Abstract: "Message passing on graphs.", Version: 1},
		{ID: "2", Title: "Diffusion models", Abstract: "Denoising diffusion for images.", Version: 1},
		{ID: "3", Title: "Graph diffusion", Abstract: "Diffusion on graphs and its kernels.", Version: 1},
	}
	if err := ix.Apply(ps, nil); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string][]string{
		"graph diffusion":         {"3"},
		"the graph of a network":  {"1"},
		"graphs":                  {"1", "3"},
		"diffusion -graph":        {"2"},
		`"graph neural" networks`: {"1"},
		"graph zeppelin":          nil,
	} {
		pq, err := Parse(q)
		if err != nil {
			t.Fatalf("%q: %v", q, err)
		}
		hits, _, err := ix.Search(pq)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, h := range hits {
			got = append(got, h.ID)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%q found %v, want %v", q, got, want)
		}
	}
}

// TestTermsWithoutAFieldLookInEveryField checks that a term, phrase, wildcard
// or fuzzy term without a field prefix finds the papers that have it in any
// field (a phrase within one field), in an index of this mapping, where plain
// words look in the text field, and in one of the mapping before, where they
// look in each field. The index has no _all field, and its text field has no
// positions.
func TestTermsWithoutAFieldLookInEveryField(t *testing.T) {
	t.Parallel()
	at := time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)
	papers := []*repository.Paper{
		{ID: "title", Title: "Zebra crossings", Abstract: "On roads.", Version: 1, SubmitTime: at},
		{ID: "abstract", Title: "Roads", Abstract: "We study the zebra crossing.", Version: 1, SubmitTime: at},
		{ID: "author", Title: "Roads", Authors: []repository.Author{{Name: "Ada Zebra"}}, Version: 1, SubmitTime: at},
		{ID: "keyword", Title: "Roads", Keywords: []string{"zebra"}, Version: 1, SubmitTime: at},
		{ID: "organization", Title: "Roads", Organization: repository.Organization{ID: "zebra-lab", DisplayName: "Zebra Lab"}, Version: 1, SubmitTime: at},
		// The phrase's words, but in two fields.
		{ID: "split", Title: "Zebra", Abstract: "A crossing.", Version: 1, SubmitTime: at},
		{ID: "none", Title: "Roads", Abstract: "Crossings of roads.", Version: 1, SubmitTime: at},
	}
	current, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = current.Close() }()
	if err := current.Apply(papers, nil); err != nil {
		t.Fatal(err)
	}
	noText := openNoText(t, t.TempDir(), papers)
	defer func() { _ = noText.Close() }()

	fields, err := current.idx.Fields()
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(fields, "_all") || !slices.Contains(fields, textField) {
		t.Errorf("the index's fields are %v: want %s and no _all", fields, textField)
	}
	if n, places := postings(t, current, textField, "zebra"); n != 6 || places != 0 {
		t.Errorf("the text field holds zebra in %d papers with %d places, want 6 papers and no places", n, places)
	}
	if n, places := postings(t, current, "title", "zebra"); n != 2 || places != 2 {
		t.Errorf("the title field holds zebra in %d papers with %d places, want 2 and 2", n, places)
	}
	// A plain word is looked up in the text field alone.
	if got := fmt.Sprint(searchedFields(current.query(mustParse(t, "zebra")))); got != "[text]" {
		t.Errorf("zebra searches the fields %s, want [text]", got)
	}
	for _, c := range []struct {
		query string
		want  []string
	}{
		{"zebra", []string{"abstract", "author", "keyword", "organization", "split", "title"}},
		{"the zebra", []string{"abstract", "author", "keyword", "organization", "split", "title"}},
		{"zeb*", []string{"abstract", "author", "keyword", "organization", "split", "title"}},
		{"zebrra~1", []string{"abstract", "author", "keyword", "organization", "split", "title"}},
		{`"zebra crossing"`, []string{"abstract", "title"}},
		{"zebra crossing", []string{"abstract", "split", "title"}},
		{"+zebra +crossing", []string{"abstract", "split", "title"}},
		{"title:zebra", []string{"split", "title"}},
		{"author:zebra", []string{"author"}},
		{"zebra -title:zebra", []string{"abstract", "author", "keyword", "organization"}},
		{"roads -zebra", []string{"none"}},
	} {
		q := mustParse(t, c.query)
		for name, ix := range map[string]*Index{"current": current, "without the text field": noText} {
			hits, total, err := ix.Search(q)
			if err != nil {
				t.Fatalf("%s: %v", c.query, err)
			}
			var got []string
			for _, h := range hits {
				got = append(got, h.ID)
			}
			slices.Sort(got)
			if !slices.Equal(got, c.want) || total != uint64(len(c.want)) {
				t.Errorf("%s, %s: found %v (%d in all), want %v", name, c.query, got, total, c.want)
			}
		}
	}
}

// postings returns in how many papers of ix the field holds term, and how many
// places (positions) it holds of it.
func postings(t *testing.T, ix *Index, field, term string) (papers, places int) {
	t.Helper()
	tfr, err := indexReader(t, ix).TermFieldReader(context.Background(), []byte(term), field, true, true, true)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tfr.Close() }()
	for {
		d, err := tfr.Next(nil)
		if err != nil {
			t.Fatal(err)
		}
		if d == nil {
			return papers, places
		}
		papers++
		places += len(d.Vectors)
	}
}

// searchedFields returns the fields the terms of q name, sorted, once each.
func searchedFields(q query.Query) []string {
	var out []string
	var walk func(q query.Query)
	walk = func(q query.Query) {
		switch q := q.(type) {
		case *query.BooleanQuery:
			walk(q.Must)
			walk(q.Should)
			walk(q.MustNot)
		case *query.ConjunctionQuery:
			for _, sub := range q.Conjuncts {
				walk(sub)
			}
		case *query.DisjunctionQuery:
			for _, sub := range q.Disjuncts {
				walk(sub)
			}
		case query.FieldableQuery:
			out = append(out, q.Field())
		}
	}
	walk(q)
	slices.Sort(out)
	return slices.Compact(out)
}
