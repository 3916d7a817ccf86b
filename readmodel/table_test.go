package readmodel

import (
	"slices"
	"testing"

	"github.com/papercatalog/papers/listing"
	"github.com/papercatalog/papers/repository"
)

func TestTableFindsThePapersOfACategory(t *testing.T) {
	tb := newTable(0)
	put := func(id string, cats ...string) {
		tb.put(&repository.Paper{ID: id, Categories: cats})
	}
	put("a", "cs.LG", "cs.CV")
	put("b", "cs.CV")
	put("c", "math.OC")
	put("a", "cs.CV") // a leaves cs.LG
	tb.remove("c")
	put("d", "cs.LG") // takes c's slot
	find := func(filter string) []string {
		t.Helper()
		f, err := listing.ParseFilter(filter)
		if err != nil {
			t.Fatal(err)
		}
		slots, ok := tb.candidates(f)
		if !ok {
			return nil
		}
		var ids []string
		for _, s := range slots.ToArray() {
			ids = append(ids, tb.rows[s].ID)
		}
		slices.Sort(ids)
		return ids
	}
	for filter, want := range map[string][]string{
		`categories:"cs.LG"`:                 {"d"},
		`categories:"CV"`:                    {"a", "b"},
		`categories:"cs" AND upvotes > 3`:    {"a", "b", "d"},
		`categories:"cs.CV" categories:"lg"`: nil,
		`categories:"math"`:                  nil,
		`upvotes > 3`:                        nil, // no category term: every paper is looked at
		`categories:"cs.LG" OR upvotes > 3`:  nil,
	} {
		if got := find(filter); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", filter, got, want)
		}
	}
	if _, ok := tb.categories["math.OC"]; ok {
		t.Error("a category without papers is still posted")
	}
	if len(tb.rows) != 3 || tb.len() != 3 {
		t.Errorf("%d slots for %d papers, want 3 (a removed paper's slot is taken again)", len(tb.rows), tb.len())
	}
}
