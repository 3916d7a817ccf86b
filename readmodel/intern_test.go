package readmodel

import (
	"fmt"
	"testing"
	"unsafe"

	"github.com/papercatalog/papers/repository"
)

func TestPapersShareTheirRepeatedValues(t *testing.T) {
	m := New()
	a := &repository.Paper{ID: "a", Version: 1, Categories: []string{"cs.LG", "cs.CV"}, PrimaryCategory: "cs.LG",
		Organization: repository.Organization{ID: "naver-ai", DisplayName: "NAVER AI Lab"}}
	b := &repository.Paper{ID: "b", Version: 1, Categories: []string{"cs." + "LG", "cs.CV"}, PrimaryCategory: string([]byte("cs.LG")),
		Organization: repository.Organization{ID: string([]byte("naver-ai")), DisplayName: string([]byte("NAVER AI Lab"))}}
	aCats, bOrg := &a.Categories[0], b.Organization.ID
	m.Put(a)
	m.Put(b)
	if &a.Categories[0] != aCats || unsafe.StringData(b.Organization.ID) != unsafe.StringData(bOrg) {
		t.Error("the writer's own paper was changed")
	}
	ga, _ := m.Get("a")
	gb, _ := m.Get("b")
	if &ga.Categories[0] != &gb.Categories[0] {
		t.Error("two papers with the same categories hold two lists")
	}
	if unsafe.StringData(ga.PrimaryCategory) != unsafe.StringData(gb.PrimaryCategory) ||
		unsafe.StringData(ga.Organization.ID) != unsafe.StringData(gb.Organization.ID) ||
		unsafe.StringData(ga.Organization.DisplayName) != unsafe.StringData(gb.Organization.DisplayName) {
		t.Error("two papers hold two copies of the same primary category or organization")
	}
	// A holder that appends to its list gets a new one: the other's stays.
	grown := append(ga.Categories, "stat.ML")
	grown[0] = "changed"
	if gb.Categories[0] != "cs.LG" || len(gb.Categories) != 2 {
		t.Errorf("an append to a's categories changed b's: %v", gb.Categories)
	}

	in := newInterner()
	for i := range maxInterned + 10 {
		in.str(fmt.Sprint(i))
		in.list([]string{fmt.Sprint(i)})
	}
	if len(in.strs) > maxInterned || len(in.sets) > maxInterned {
		t.Errorf("the interner grew past its bound: %d strings, %d lists", len(in.strs), len(in.sets))
	}
}
