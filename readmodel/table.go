package readmodel

import (
	"iter"
	"slices"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/papercatalog/papers/listing"
	"github.com/papercatalog/papers/repository"
)

// table holds the model's papers by ID, each in a slot of a dense slice. A scan
// of every paper (a list computed from scratch) walks the slice, in about the
// order the papers were allocated, rather than a map's random order: at a
// million papers such a scan is bound by memory, and walking in allocation order
// made it about four times faster (BenchmarkScanOrder). A paper keeps its slot
// when it changes; a deleted paper's slot is taken by the next new one.
//
// For each category and each day, the table keeps the slots of the papers in
// the category or submitted on the day, as bitmaps (a few bytes a paper): a
// filter that requires a category, or bounds the submit time, looks at those
// papers only (see candidates).
type table struct {
	slots      map[string]int32
	rows       []*repository.Paper // by slot; nil: free
	refs       []textRef           // by slot: where the paper's abstract is in the abstracts' file (see texts)
	free       []int32
	categories map[string]*roaring.Bitmap // category -> slots of the papers in it
	days       map[int64]*roaring.Bitmap  // UTC day of the submit time -> slots of the papers submitted then
	pending    *pendingPostings           // appendNew's, until postPending
}

// pendingPostings are the slots appendNew gave papers, by category and by day,
// in increasing order: added to the bitmaps all at once (postPending), they
// cost a fraction of one Add a paper and category (0.8 s of a restore's 5.5 s
// at 2.7 million papers).
type pendingPostings struct {
	categories map[string][]uint32
	days       map[int64][]uint32
}

func newTable(capacity int) *table {
	return &table{slots: make(map[string]int32, capacity), rows: make([]*repository.Paper, 0, capacity),
		refs:       make([]textRef, 0, capacity),
		categories: map[string]*roaring.Bitmap{}, days: map[int64]*roaring.Bitmap{}}
}

// get returns the paper with ID id.
func (t *table) get(id string) (*repository.Paper, bool) {
	s, ok := t.slots[id]
	if !ok {
		return nil, false
	}
	return t.rows[s], true
}

// at returns the paper with ID id, or nil.
func (t *table) at(id string) *repository.Paper {
	p, _ := t.get(id)
	return p
}

// putRef stores p, as put does, with ref, the place of its abstract.
func (t *table) putRef(p *repository.Paper, ref textRef) {
	t.put(p)
	t.refs[t.slots[p.ID]] = ref
}

// ref returns the place of paper id's abstract; false when the abstracts' file
// holds none of it.
func (t *table) ref(id string) (textRef, bool) {
	s, ok := t.slots[id]
	if !ok {
		return textRef{}, false
	}
	r := t.refs[s]
	return r, r.stored()
}

// clearRefs forgets every paper's abstract.
func (t *table) clearRefs() { clear(t.refs) }

// appendNew stores p, whose ID the table must not have, in a new slot, with
// ref, the place of its abstract: a restore's put, without put's look-up of
// the ID (a third of the restore's time in the table at 2.7 million papers).
// A second paper of an ID takes the ID's slot, and leaves the first in a slot
// no ID names: len then counts fewer papers than were appended.
// Its postings wait in t.pending until postPending, which must come before
// the table is used.
func (t *table) appendNew(p *repository.Paper, ref textRef) {
	s := int32(len(t.rows)) //nolint:gosec // fewer than 2^31 papers
	t.rows, t.refs = append(t.rows, p), append(t.refs, ref)
	t.slots[p.ID] = s
	if t.pending == nil {
		t.pending = &pendingPostings{categories: map[string][]uint32{}, days: map[int64][]uint32{}}
	}
	for _, c := range p.Categories {
		t.pending.categories[c] = append(t.pending.categories[c], uint32(s)) //nolint:gosec // slots are not negative
	}
	d := submitDay(p.SubmitTime)
	t.pending.days[d] = append(t.pending.days[d], uint32(s)) //nolint:gosec // slots are not negative
}

// postPending adds the postings appendNew left pending to the bitmaps.
func (t *table) postPending() {
	if t.pending == nil {
		return
	}
	addAll(t.categories, t.pending.categories)
	addAll(t.days, t.pending.days)
	t.pending = nil
}

func addAll[K comparable](postings map[K]*roaring.Bitmap, pending map[K][]uint32) {
	for k, slots := range pending {
		b := postings[k]
		if b == nil {
			b = roaring.New()
			postings[k] = b
		}
		b.AddMany(slots)
	}
}

// put stores p in place of the paper with its ID, which keeps its abstract's
// place, or in a new slot, without one.
func (t *table) put(p *repository.Paper) {
	if s, ok := t.slots[p.ID]; ok {
		if old := t.rows[s]; !slices.Equal(old.Categories, p.Categories) || submitDay(old.SubmitTime) != submitDay(p.SubmitTime) {
			t.unpost(old, s)
			t.post(p, s)
		}
		t.rows[s] = p
		return
	}
	var s int32
	if n := len(t.free); n > 0 {
		s = t.free[n-1]
		t.free = t.free[:n-1]
		t.rows[s], t.refs[s] = p, textRef{}
	} else {
		s = int32(len(t.rows)) //nolint:gosec // fewer than 2^31 papers
		t.rows, t.refs = append(t.rows, p), append(t.refs, textRef{})
	}
	t.slots[p.ID] = s
	t.post(p, s)
}

// post adds slot s to the postings of p's categories and submit day.
func (t *table) post(p *repository.Paper, s int32) {
	for _, c := range p.Categories {
		add(t.categories, c, s)
	}
	add(t.days, submitDay(p.SubmitTime), s)
}

// unpost removes slot s from the postings of p's categories and submit day.
func (t *table) unpost(p *repository.Paper, s int32) {
	for _, c := range p.Categories {
		drop(t.categories, c, s)
	}
	drop(t.days, submitDay(p.SubmitTime), s)
}

func add[K comparable](postings map[K]*roaring.Bitmap, k K, s int32) {
	b := postings[k]
	if b == nil {
		b = roaring.New()
		postings[k] = b
	}
	b.Add(uint32(s)) //nolint:gosec // slots are not negative
}

func drop[K comparable](postings map[K]*roaring.Bitmap, k K, s int32) {
	if b := postings[k]; b != nil {
		if b.Remove(uint32(s)); b.IsEmpty() { //nolint:gosec // slots are not negative
			delete(postings, k)
		}
	}
}

// submitDay is the UTC day (since 1970) of p's submit time.
func submitDay(t time.Time) int64 {
	d := t.Unix() / 86400
	if t.Unix() < 0 && t.Unix()%86400 != 0 {
		d--
	}
	return d
}

// candidates returns the slots of every paper that passes f's category terms
// and is within its submit-time bounds (a paper f matches passes them all), or
// false when f has neither. The bitmap is the caller's.
func (t *table) candidates(f listing.Filter) (*roaring.Bitmap, bool) {
	var out *roaring.Bitmap
	if from, to, ok := f.SubmitBounds(); ok {
		out = roaring.New()
		if from.Before(to) {
			first, last := submitDay(from), submitDay(to.Add(-time.Nanosecond))
			if last-first < int64(len(t.days)) {
				for d := first; d <= last; d++ {
					if b := t.days[d]; b != nil {
						out.Or(b)
					}
				}
			} else {
				for d, b := range t.days {
					if d >= first && d <= last {
						out.Or(b)
					}
				}
			}
		}
	}
	for _, term := range f.Terms() {
		if term.Field != "categories" {
			continue
		}
		in := roaring.New()
		for c, b := range t.categories {
			if term.Holds(c) {
				in.Or(b)
			}
		}
		if out == nil {
			out = in
		} else {
			out.And(in)
		}
	}
	return out, out != nil
}

// remove deletes the paper with ID id, if there is one.
func (t *table) remove(id string) {
	s, ok := t.slots[id]
	if !ok {
		return
	}
	delete(t.slots, id)
	t.unpost(t.rows[s], s)
	t.rows[s], t.refs[s] = nil, textRef{}
	t.free = append(t.free, s)
}

// len returns the number of papers.
func (t *table) len() int { return len(t.slots) }

// withRefs yields every paper with the place of its abstract, in the order of
// their slots.
func (t *table) withRefs() iter.Seq2[*repository.Paper, textRef] {
	return func(yield func(*repository.Paper, textRef) bool) {
		for s, p := range t.rows {
			if p != nil && !yield(p, t.refs[s]) {
				return
			}
		}
	}
}

// all yields every paper, in the order of their slots.
func (t *table) all() iter.Seq[*repository.Paper] {
	return func(yield func(*repository.Paper) bool) {
		for _, p := range t.rows {
			if p != nil && !yield(p) {
				return
			}
		}
	}
}
