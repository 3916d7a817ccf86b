package paperpb

import (
	"sync"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	"github.com/papercatalog/papers/repository"
)

// Cache keeps the proto form of each paper, per view, so reads do not rebuild
// it. Papers in the read model are immutable values and a write replaces the
// pointer, so an entry is current exactly when its source pointer is the paper's.
// Cached messages are shared and must not be modified.
type Cache struct {
	mu      sync.RWMutex
	entries map[string]*entry
}

type entry struct {
	src   *repository.Paper
	views [3]*catalogv1.Paper // indexed by PaperView
}

// Get returns p in view, converted once per paper version and view.
func (c *Cache) Get(p *repository.Paper, view catalogv1.PaperView) *catalogv1.Paper {
	c.mu.RLock()
	e := c.entries[p.ID]
	var m *catalogv1.Paper
	if e != nil && e.src == p {
		m = e.views[view]
	}
	c.mu.RUnlock()
	if m != nil {
		return m
	}
	m = From(p, view)
	c.mu.Lock()
	if c.entries == nil {
		c.entries = map[string]*entry{}
	}
	e = c.entries[p.ID]
	if e == nil || e.src != p {
		e = &entry{src: p}
		c.entries[p.ID] = e
	}
	e.views[view] = m
	c.mu.Unlock()
	return m
}

// Forget drops the entry of a deleted paper.
func (c *Cache) Forget(id string) {
	c.mu.Lock()
	delete(c.entries, id)
	c.mu.Unlock()
}
