package paperpb

import (
	"sync"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	"github.com/papercatalog/papers/repository"
)

// CacheSize is how many papers' messages a Cache keeps. A paper's messages weigh
// 1 to 3 KiB: a catalog of up to CacheSize papers is kept whole, a larger one's
// cache stays under about 200 MiB.
const CacheSize = 1 << 16

// Cache keeps the proto form of papers, per view, so reads do not rebuild it.
// Papers in the read model are immutable values and a write replaces the
// pointer, so an entry is current exactly when its source pointer is the paper's.
// Cached messages are shared and must not be modified. A read takes a shared
// lock only; when the cache is full, an eighth of it, chosen at random (Go's map
// order), makes room.
type Cache struct {
	// Full, if set, returns a paper with the fields the read model leaves out
	// of its papers (the abstract), for the views that show them.
	Full func(*repository.Paper) (*repository.Paper, error)

	mu      sync.RWMutex
	entries map[string]*entry
}

type entry struct {
	src   *repository.Paper
	views [3]*catalogv1.Paper // indexed by PaperView
}

// NewCache returns an empty cache.
func NewCache(full func(*repository.Paper) (*repository.Paper, error)) *Cache {
	return &Cache{Full: full, entries: map[string]*entry{}}
}

// Get returns p in view, converted once per paper version and view while it
// stays in the cache.
func (c *Cache) Get(p *repository.Paper, view catalogv1.PaperView) (*catalogv1.Paper, error) {
	c.mu.RLock()
	e := c.entries[p.ID]
	var m *catalogv1.Paper
	if e != nil && e.src == p {
		m = e.views[view]
	}
	c.mu.RUnlock()
	if m != nil {
		return m, nil
	}
	src := p
	if view != catalogv1.PaperView_PAPER_VIEW_BASIC && c.Full != nil {
		var err error
		if src, err = c.Full(p); err != nil {
			return nil, err
		}
	}
	m = From(src, view)
	c.mu.Lock()
	e = c.entries[p.ID]
	if e == nil || e.src != p {
		if e == nil && len(c.entries) >= CacheSize {
			c.evict()
		}
		e = &entry{src: p}
		c.entries[p.ID] = e
	}
	e.views[view] = m
	c.mu.Unlock()
	return m, nil
}

// evict drops an eighth of the entries. Callers hold c.mu for writing.
func (c *Cache) evict() {
	n := len(c.entries) / 8
	for id := range c.entries {
		if n == 0 {
			return
		}
		delete(c.entries, id)
		n--
	}
}

// Forget drops the entry of a deleted paper.
func (c *Cache) Forget(id string) {
	c.mu.Lock()
	delete(c.entries, id)
	c.mu.Unlock()
}
