package paperpb

import (
	lru "github.com/hashicorp/golang-lru/v2"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	"github.com/papercatalog/papers/repository"
)

// CacheSize is how many papers' messages a Cache keeps: the most recently read.
// A paper's messages weigh a few KiB; all of a large catalog's would weigh more
// than the catalog itself.
const CacheSize = 16384

// Cache keeps the proto form of recently read papers, per view, so reads do not
// rebuild it. Papers in the read model are immutable values and a write replaces
// the pointer, so an entry is current exactly when its source pointer is the
// paper's. Cached messages are shared and must not be modified.
type Cache struct {
	// Full, if set, returns a paper with the fields the read model leaves out
	// of its papers (the abstract), for the views that show them.
	Full func(*repository.Paper) (*repository.Paper, error)

	entries *lru.Cache[string, *entry]
}

type entry struct {
	src   *repository.Paper
	views [3]*catalogv1.Paper // indexed by PaperView
}

// NewCache returns an empty cache.
func NewCache(full func(*repository.Paper) (*repository.Paper, error)) *Cache {
	entries, err := lru.New[string, *entry](CacheSize)
	if err != nil {
		panic(err) // only for a size below 1
	}
	return &Cache{Full: full, entries: entries}
}

// Get returns p in view, converted once per paper version and view while it
// stays among the recently read.
func (c *Cache) Get(p *repository.Paper, view catalogv1.PaperView) (*catalogv1.Paper, error) {
	e, ok := c.entries.Get(p.ID)
	if ok && e.src == p {
		if m := e.views[view]; m != nil {
			return m, nil
		}
	}
	src := p
	if view != catalogv1.PaperView_PAPER_VIEW_BASIC && c.Full != nil {
		var err error
		if src, err = c.Full(p); err != nil {
			return nil, err
		}
	}
	m := From(src, view)
	// Entries are replaced, never changed: a reader may hold the old one.
	next := &entry{src: p}
	if ok && e.src == p {
		next.views = e.views
	}
	next.views[view] = m
	c.entries.Add(p.ID, next)
	return m, nil
}

// Forget drops the entry of a deleted paper.
func (c *Cache) Forget(id string) {
	c.entries.Remove(id)
}
