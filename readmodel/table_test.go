package readmodel

import (
	"fmt"
	"slices"
	"testing"
	"time"

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

func TestTableFindsThePapersOfADayRange(t *testing.T) {
	tb := newTable(0)
	day := func(d int) time.Time { return time.Date(2024, 1, d, 12, 0, 0, 0, time.UTC) }
	put := func(id string, d int, cats ...string) {
		tb.put(&repository.Paper{ID: id, SubmitTime: day(d), Categories: cats})
	}
	put("a", 1, "cs.LG")
	put("b", 2, "cs.CV")
	put("c", 3, "cs.LG")
	put("a", 5, "cs.LG") // a moves to the 5th
	tb.remove("b")
	all, err := listing.ParseFilter("")
	if err != nil {
		t.Fatal(err)
	}
	lg, err := listing.ParseFilter(`categories:"cs.LG"`)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		f    listing.Filter
		want []string
	}{
		{all.SubmittedIn(day(1), day(4)), []string{"c"}},
		{all.SubmittedIn(day(1).Add(-12*time.Hour), day(30)), []string{"a", "c"}},
		{all.SubmittedIn(day(4), day(4)), nil}, // an empty range
		{lg.SubmittedFrom(day(4)), []string{"a"}},
		{all.SubmittedIn(day(2).Add(-time.Hour), day(2).Add(time.Hour)), nil}, // b is gone
		// Whole days: the 3rd is looked at, and Match decides.
		{all.SubmittedIn(day(2), day(3)), []string{"c"}},
	} {
		slots, ok := tb.candidates(c.f)
		if !ok {
			t.Fatalf("%q: no candidates", c.f.Text)
		}
		var ids []string
		for _, s := range slots.ToArray() {
			ids = append(ids, tb.rows[s].ID)
		}
		slices.Sort(ids)
		if !slices.Equal(ids, c.want) {
			t.Errorf("%q: %v, want %v", c.f.Text, ids, c.want)
		}
	}
	if len(tb.days) != 2 {
		t.Errorf("%d days posted, want 2 (the 3rd and the 5th)", len(tb.days))
	}
}

func TestCachedListsHoldABoundedNumberOfPapers(t *testing.T) {
	m := New()
	var all []*repository.Paper
	for i := range 20000 {
		all = append(all, &repository.Paper{ID: fmt.Sprintf("p%05d", i), Version: 1, Upvotes: int64(i)})
	}
	m.Replace(all, 0)
	o, err := listing.ParseOrder("upvotes desc")
	if err != nil {
		t.Fatal(err)
	}
	bound := cachedPapersPerPaper*len(all) + cachedPapersSlack
	for i := range 40 { // each matches every paper: 800,000 papers in all
		f, err := listing.ParseFilter(fmt.Sprintf("upvotes >= %d", -i))
		if err != nil {
			t.Fatal(err)
		}
		if n := len(m.List(f, o).Papers); n != len(all) {
			t.Fatalf("upvotes >= %d: %d papers, want %d", -i, n, len(all))
		}
		m.mu.RLock()
		held, sum := m.cachedLen, 0
		for _, r := range m.cache {
			sum += len(r.Papers)
		}
		m.mu.RUnlock()
		if held != sum || held > bound {
			t.Fatalf("after %d lists the cache holds %d papers (counted %d), bound %d", i+1, sum, held, bound)
		}
	}
}
