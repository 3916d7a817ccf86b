package paperpb

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	"github.com/papercatalog/papers/repository"
)

func TestCacheIsBoundedAndReadsAbstractsForFullViews(t *testing.T) {
	t.Parallel()
	fulls := 0
	c := NewCache(func(p *repository.Paper) (*repository.Paper, error) {
		fulls++
		cp := *p
		cp.Abstract = "The abstract of " + p.ID
		return &cp, nil
	})
	p := &repository.Paper{ID: "2401.00001", Title: "A", SubmitTime: time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)}
	basic, err := c.Get(p, catalogv1.PaperView_PAPER_VIEW_BASIC)
	if err != nil || basic.GetAbstract() != "" || fulls != 0 {
		t.Fatalf("basic view: %v %v, %d abstracts read", basic, err, fulls)
	}
	full, err := c.Get(p, catalogv1.PaperView_PAPER_VIEW_FULL)
	if err != nil || full.GetAbstract() != "The abstract of 2401.00001" {
		t.Fatalf("full view: %v %v", full, err)
	}
	if again, _ := c.Get(p, catalogv1.PaperView_PAPER_VIEW_BASIC); again != basic {
		t.Error("a second read of the basic view converted the paper again")
	}
	// The full view is the basic message's parts and the abstract, read again:
	// the cache keeps no abstract.
	if again, _ := c.Get(p, catalogv1.PaperView_PAPER_VIEW_FULL); again.GetAbstract() != full.GetAbstract() || fulls != 2 {
		t.Errorf("a second read of the full view: abstract %q, %d abstracts read (want 2)", again.GetAbstract(), fulls)
	}
	if full.GetSubmitTime() != basic.GetSubmitTime() {
		t.Error("the full view copied the basic view's parts instead of sharing them")
	}
	if kept := c.entries[p.ID]; kept.basic.GetAbstract() != "" {
		t.Errorf("the cache keeps an abstract: %q", kept.basic.GetAbstract())
	}
	// A paper that carries its abstract (a model without an abstracts' file)
	// needs no read.
	withText := &repository.Paper{ID: "2401.00002", Abstract: "Kept in memory"}
	if m, _ := c.Get(withText, catalogv1.PaperView_PAPER_VIEW_FULL); m.GetAbstract() != "Kept in memory" || fulls != 2 {
		t.Errorf("a paper with its abstract: %q, %d abstracts read", m.GetAbstract(), fulls)
	}
	newer := &repository.Paper{ID: p.ID, Title: "B"}
	if m, _ := c.Get(newer, catalogv1.PaperView_PAPER_VIEW_BASIC); m.GetTitle() != "B" {
		t.Errorf("a new version of the paper was served from the old one's entry: %q", m.GetTitle())
	}
	for i := range CacheSize + 100 {
		if _, err := c.Get(&repository.Paper{ID: fmt.Sprintf("p%d", i)}, catalogv1.PaperView_PAPER_VIEW_BASIC); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(c.entries); n > CacheSize {
		t.Errorf("the cache holds %d papers, more than %d", n, CacheSize)
	}
}

// TestWithAbstractKeepsEveryField fails when a field added to the Paper message
// is not carried into the full view.
func TestWithAbstractKeepsEveryField(t *testing.T) {
	t.Parallel()
	m := &catalogv1.Paper{}
	fill(m.ProtoReflect())
	want := proto.CloneOf(m)
	want.Abstract = "Another abstract"
	if got := WithAbstract(m, "Another abstract"); !proto.Equal(got, want) {
		t.Errorf("WithAbstract lost fields:\n got %v\nwant %v", got, want)
	}
}
