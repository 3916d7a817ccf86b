package readmodel

import (
	"slices"

	"github.com/papercatalog/papers/repository"
)

// maxInterned bounds each of the interner's tables: values past it are kept as
// they come, so input made of ever-new values cannot grow them without end.
const maxInterned = 1 << 16

// interner shares the values that many papers repeat: category lists (a list of
// a few arXiv categories stands for thousands of papers), primary categories and
// organizations. A paper decoded or written on its own holds its own copies, a
// slice and a few strings, about 100 bytes a paper. Its methods are called with
// the model's lock held for writing.
type interner struct {
	strs map[string]string
	sets map[string][]string // the elements joined by NUL -> one shared list
	buf  []byte
}

func newInterner() *interner {
	return &interner{strs: map[string]string{}, sets: map[string][]string{}}
}

// str returns the shared copy of s.
func (in *interner) str(s string) string {
	if s == "" {
		return s
	}
	if v, ok := in.strs[s]; ok {
		return v
	}
	if len(in.strs) < maxInterned {
		in.strs[s] = s
	}
	return s
}

// list returns the shared copy of l. It is clipped: an append to it makes a
// new array, so no holder can change another's list.
func (in *interner) list(l []string) []string {
	if len(l) == 0 {
		return l
	}
	in.buf = in.buf[:0]
	for _, s := range l {
		in.buf = append(append(in.buf, s...), 0)
	}
	if v, ok := in.sets[string(in.buf)]; ok {
		return v
	}
	if len(in.sets) >= maxInterned {
		return l
	}
	v := make([]string, len(l))
	for i, s := range l {
		v[i] = in.str(s)
	}
	v = slices.Clip(v)
	in.sets[string(in.buf)] = v
	return v
}

// paper points p's repeated values at their shared copies. p must be the
// model's own, not yet shared.
func (in *interner) paper(p *repository.Paper) {
	p.Categories = in.list(p.Categories)
	p.PrimaryCategory = in.str(p.PrimaryCategory)
	p.Organization.ID = in.str(p.Organization.ID)
	p.Organization.DisplayName = in.str(p.Organization.DisplayName)
}
