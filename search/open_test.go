package search

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/blevesearch/bleve/v2/index/scorch"
	index "github.com/blevesearch/bleve_index_api"
	segment "github.com/blevesearch/scorch_segment_api/v2"
)

// TestOpenKeepsOrRebuildsTheIndexOnDisk checks what Open does with the index a
// previous paperd left: one of this mapping or the one before is kept, with
// its papers, and answers searches with snippets; any other is removed, and
// Rebuilt says why.
func TestOpenKeepsOrRebuildsTheIndexOnDisk(t *testing.T) {
	t.Parallel()
	papers := loadSample(t)
	tests := []struct {
		name     string
		make     func(t *testing.T, dir string) // what a previous paperd left in dir
		kept     bool
		outdated string // in Outdated's answer
		rebuilt  string // in Rebuilt's reason
	}{
		{name: "none: a new index", make: func(*testing.T, string) {}},
		{name: "one of this mapping is kept", kept: true, make: func(t *testing.T, dir string) {
			ix, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			if err := ix.Apply(mapValues(papers), nil); err != nil {
				t.Fatal(err)
			}
			_ = ix.Close()
		}},
		{name: "one of the mapping before, without the text field, is kept", kept: true, outdated: "no field of all the text",
			make: func(t *testing.T, dir string) {
				_ = openNoText(t, dir, mapValues(papers)).Close()
			}},
		{name: "one of the mapping before that, which stored text, is kept", kept: true, outdated: "_all", make: func(t *testing.T, dir string) {
			_ = openLegacy(t, dir, papers).Close()
		}},
		{name: "one of an older mapping is rebuilt", rebuilt: `mapping version "2"`, make: func(t *testing.T, dir string) {
			ix := openLegacy(t, dir, papers)
			if err := ix.idx.SetInternal(mappingKey, []byte("2")); err != nil {
				t.Fatal(err)
			}
			_ = ix.Close()
		}},
		{name: "a damaged one is rebuilt", rebuilt: "cannot be opened", make: func(t *testing.T, dir string) {
			_ = openLegacy(t, dir, papers).Close()
			if err := os.WriteFile(filepath.Join(dir, "index_meta.json"), []byte("{"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "search")
			tt.make(t, dir)
			ix, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = ix.Close() }()
			if got := ix.Rebuilt(); (tt.rebuilt == "") != (got == "") || !strings.Contains(got, tt.rebuilt) {
				t.Errorf("Rebuilt() = %q, want %q in it", got, tt.rebuilt)
			}
			if got := ix.Outdated(); (tt.outdated == "") != (got == "") || !strings.Contains(got, tt.outdated) {
				t.Errorf("Outdated() = %q, want %q in it", got, tt.outdated)
			}
			want := uint64(0)
			if tt.kept {
				want = uint64(len(papers))
			}
			if n, err := ix.DocCount(); err != nil || n != want {
				t.Fatalf("%d papers indexed (%v), want %d", n, err, want)
			}
			if !tt.kept {
				return
			}
			// What was kept answers as it did, with snippets from the papers' text.
			ix.SetPapers(lookup(papers))
			f, err := ix.Find(context.Background(), mustParse(t, "diphoton"), 0, 10, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Hits) != 1 || f.Hits[0].ID != "0704.0001" ||
				!strings.Contains(strings.Join(f.Snippets["0704.0001"].Title, ""), "<mark>diphoton</mark>") {
				t.Errorf("diphoton: hits %v, snippets %q", f.Hits, f.Snippets)
			}
			if v, err := ix.Versions(); err != nil || len(v) != len(papers) || v["0704.0001"] != 1 {
				t.Errorf("versions %v, %v", v, err)
			}
		})
	}
}

func mustParse(t *testing.T, text string) Query {
	t.Helper()
	q, err := Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// TestIndexStoresNoText checks that the index keeps of a paper only what
// searches read: its version stored, and facet terms as doc values; no text.
func TestIndexStoresNoText(t *testing.T) {
	t.Parallel()
	ix := sampleIndex(t, loadSample(t))
	d, err := ix.idx.Document("0704.0001")
	if err != nil || d == nil {
		t.Fatalf("document: %v", err)
	}
	var stored []string
	d.VisitFields(func(f index.Field) { stored = append(stored, f.Name()) })
	if strings.Join(stored, ",") != "version" {
		t.Errorf("stored fields %v, want only version", stored)
	}
	// The snapshot's doc value reader makes up values of fields that have
	// none from their terms: ask the segments.
	r := indexReader(t, ix)
	withValues := map[string]bool{}
	for _, ss := range r.(*scorch.IndexSnapshot).Segments() {
		seg := ss.Segment()
		v, ok := seg.(segment.DocValueVisitable)
		if !ok {
			t.Fatalf("segment %T has no doc values", seg)
		}
		for n := range seg.Count() {
			if _, err := v.VisitDocValues(n, []string{"title", "abstract", "authors", "keywords", "organization", "version", facetsField},
				func(field string, _ []byte) { withValues[field] = true }, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(withValues) != 1 || !withValues[facetsField] {
		t.Errorf("fields with doc values %v, want only %s", withValues, facetsField)
	}
}

// indexReader returns a reader of ix's current snapshot, closed when the test ends.
func indexReader(t *testing.T, ix *Index) index.IndexReader {
	t.Helper()
	adv, err := ix.idx.Advanced()
	if err != nil {
		t.Fatal(err)
	}
	r, err := adv.Reader()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}
