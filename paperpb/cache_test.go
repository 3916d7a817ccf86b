package paperpb

import (
	"fmt"
	"testing"

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
	p := &repository.Paper{ID: "2401.00001", Title: "A"}
	basic, err := c.Get(p, catalogv1.PaperView_PAPER_VIEW_BASIC)
	if err != nil || basic.GetAbstract() != "" || fulls != 0 {
		t.Fatalf("basic view: %v %v, %d abstracts read", basic, err, fulls)
	}
	full, err := c.Get(p, catalogv1.PaperView_PAPER_VIEW_FULL)
	if err != nil || full.GetAbstract() != "The abstract of 2401.00001" {
		t.Fatalf("full view: %v %v", full, err)
	}
	if again, _ := c.Get(p, catalogv1.PaperView_PAPER_VIEW_FULL); again != full || fulls != 1 {
		t.Errorf("a second read converted again (%d abstracts read)", fulls)
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
