package search

import (
	"bufio"
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/mapping"

	"github.com/papercatalog/papers/repository"
)

// loadSample returns the papers of testdata/sample-arxiv.jsonl.
func loadSample(t *testing.T) map[string]*repository.Paper {
	t.Helper()
	f, err := os.Open("../testdata/sample-arxiv.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	papers := map[string]*repository.Paper{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec struct {
			ID, Title, Abstract string
			AuthorsParsed       [][]string `json:"authors_parsed"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		p := &repository.Paper{ID: rec.ID, Title: strings.Join(strings.Fields(rec.Title), " "),
			Abstract: strings.TrimSpace(rec.Abstract), Version: 1}
		for _, a := range rec.AuthorsParsed {
			p.Authors = append(p.Authors, repository.Author{Name: strings.TrimSpace(a[1] + " " + a[0])})
		}
		papers[p.ID] = p
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return papers
}

// storedHighlight is how Highlight worked while the index stored title and
// abstract (mapping version 3): bleve highlighted the hits from the stored text.
func storedHighlight(ctx context.Context, ix *Index, q Query, ids []string) (map[string]Snippets, error) {
	req := bleve.NewSearchRequestOptions(bleve.NewConjunctionQuery(q.q, bleve.NewDocIDQuery(ids)), len(ids), 0, false)
	req.Highlight = bleve.NewHighlightWithStyle("html")
	req.Highlight.Fields = []string{"title", "abstract"}
	res, err := ix.run(ctx, req)
	if err != nil {
		return nil, err
	}
	return fragments(res), nil
}

// sampleIndex returns a new index in a temporary directory holding papers.
func sampleIndex(t *testing.T, papers map[string]*repository.Paper) *Index {
	t.Helper()
	ix, err := Open(filepath.Join(t.TempDir(), "search"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ix.Close() })
	if err := ix.Apply(mapValues(papers), nil); err != nil {
		t.Fatal(err)
	}
	return ix
}

// openLegacy makes an index in dir of the mapping before (legacyMappingVersion),
// with the _all field, holding papers. It also stores title and abstract, as
// mapping version 3 did, for bleve's highlighter to mark them.
func openLegacy(t *testing.T, dir string, papers map[string]*repository.Paper) *Index {
	t.Helper()
	m := paperMapping(true, false).(*mapping.IndexMappingImpl)
	delete(m.DefaultMapping.Properties, "_all")
	idx, err := bleve.New(dir, m)
	if err != nil {
		t.Fatal(err)
	}
	if err := idx.SetInternal(mappingKey, []byte(legacyMappingVersion)); err != nil {
		t.Fatal(err)
	}
	ix := newIndex(idx)
	if err := ix.Apply(mapValues(papers), nil); err != nil {
		t.Fatal(err)
	}
	ix.version = legacyMappingVersion
	return ix
}

// openNoText makes an index in dir of noTextMappingVersion, holding papers.
func openNoText(t *testing.T, dir string, papers []*repository.Paper) *Index {
	t.Helper()
	idx, err := bleve.New(dir, paperMapping(false, false))
	if err != nil {
		t.Fatal(err)
	}
	if err := idx.SetInternal(mappingKey, []byte(noTextMappingVersion)); err != nil {
		t.Fatal(err)
	}
	ix := newIndex(idx)
	ix.version = noTextMappingVersion
	if err := ix.Apply(papers, nil); err != nil {
		t.Fatal(err)
	}
	return ix
}

// TestHighlightMarksAsStoredTextDid checks that the snippets Highlight makes
// from the papers' text are those bleve made from the text the index stored
// before, for every kind of query, on real arXiv records.
func TestHighlightMarksAsStoredTextDid(t *testing.T) {
	t.Parallel()
	papers := loadSample(t)
	legacy := openLegacy(t, filepath.Join(t.TempDir(), "legacy"), papers)
	defer func() { _ = legacy.Close() }()
	ix, err := Open(filepath.Join(t.TempDir(), "compact"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ix.Close() }()
	if err := ix.Apply(mapValues(papers), nil); err != nil {
		t.Fatal(err)
	}
	ix.SetPapers(lookup(papers))
	queries := map[string]string{
		"a word":                              "production",
		"a stemmed word":                      "calculations",
		"every word must match":               "quantum chromodynamics",
		"a quoted phrase marks the phrase":    `"photon pairs"`,
		"a phrase and a word":                 `"hadron colliders" energies`,
		"a title prefix":                      "title:diphoton",
		"an abstract prefix":                  "abstract:photon",
		"an author, and a word":               "author:Nadolsky production",
		"an excluded word is not marked":      "production -photon",
		"a required word":                     "+graph theory",
		"a wildcard":                          "pho*",
		"a fuzzy word":                        "fotons~2",
		"a regular expression":                "/dis.*/",
		"a word the stop list drops":          "the",
		"everything":                          "*",
		"a word next to an apostrophe":        "roche",
		"words next to an ampersand":          "king wynn",
		"a field prefix with a quoted phrase": `abstract:"massive photon"`,
		"many words":                          "model data results",
	}
	ctx := context.Background()
	marked := map[string]bool{}
	for name, text := range queries {
		t.Run(name, func(t *testing.T) {
			q, err := Parse(text)
			if err != nil {
				t.Fatal(err)
			}
			hits, _, err := legacy.SearchContext(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			ids := ids(hits)
			want, err := storedHighlight(ctx, legacy, q, ids)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ix.Highlight(ctx, q, ids)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				for _, id := range ids {
					if !reflect.DeepEqual(got[id], want[id]) {
						t.Errorf("%q, paper %s:\ngot  %q\nwant %q", text, id, got[id], want[id])
					}
				}
			}
			for _, s := range got {
				if strings.Contains(strings.Join(append(s.Title, s.Abstract...), ""), "<mark>") {
					marked[name] = true
				}
			}
		})
	}
	if len(marked) < len(queries)-3 { // the stop word, *, and the excluded word's papers may mark nothing
		t.Errorf("only %d of %d queries marked anything: %v", len(marked), len(queries), marked)
	}
}

// TestHighlightMarksTheCurrentText checks the snippets of papers whose text
// changed since the index took them (the index's places are of the old text):
// they are marked in the new text, and a paper gone from the model has none.
func TestHighlightMarksTheCurrentText(t *testing.T) {
	t.Parallel()
	papers := loadSample(t)
	ix := sampleIndex(t, papers)
	current := maps.Clone(papers)
	ix.SetPapers(lookup(current))
	changed := *papers["0704.0001"]
	changed.Title, changed.Abstract, changed.Version = "A short title: diphoton & more", "Diphoton pairs, again.", 2
	current[changed.ID] = &changed
	delete(current, "0704.0002")
	q := mustParse(t, "diphoton")
	got, err := ix.Highlight(context.Background(), q, []string{"0704.0001", "0704.0002"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Snippets{"0704.0001": {Title: []string{"A short title: <mark>diphoton</mark> &amp; more"},
		Abstract: []string{"<mark>Diphoton</mark> pairs, again."}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("snippets %q, want %q", got, want)
	}

	// Text shorter than the index's places, at the same version (an abstract
	// the model could not read): the places are not cut into it.
	short := *papers["0704.0001"]
	short.Abstract = ""
	current[short.ID] = &short
	got, err = ix.Highlight(context.Background(), q, []string{"0704.0001"})
	if err != nil {
		t.Fatal(err)
	}
	want = map[string]Snippets{"0704.0001": {Title: []string{"Calculation of prompt <mark>diphoton</mark> production cross sections at Tevatron and LHC energies"}, Abstract: []string{}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("snippets of a paper without its abstract %q, want %q", got, want)
	}
}
