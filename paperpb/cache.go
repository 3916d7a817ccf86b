package paperpb

import (
	"sync"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	"github.com/papercatalog/papers/repository"
)

// CacheSize is how many papers' messages a Cache keeps. A paper's basic message
// weighs about 1 KiB: a catalog of up to CacheSize papers is kept whole, a larger
// one's cache stays under about 100 MiB.
const CacheSize = 1 << 16

// Cache keeps the basic proto form of papers, so reads do not rebuild it.
// Papers in the read model are immutable values and a write replaces the
// pointer, so an entry is current exactly when its source pointer is the paper's.
// Cached messages are shared and must not be modified. A read takes a shared
// lock only; when the cache is full, an eighth of it, chosen at random (Go's map
// order), makes room.
//
// The full view is not kept: it is the basic message's fields, shared, and the
// abstract, read again for each call (see WithAbstract). Abstracts are what the
// read model keeps off the heap; a cache of full views would bring one back in
// for every paper it holds (about 1 KiB each, as much again as the message).
type Cache struct {
	// Full, if set, returns a paper with the fields the read model leaves out
	// of its papers (the abstract), for the views that show them.
	Full func(*repository.Paper) (*repository.Paper, error)

	mu      sync.RWMutex
	entries map[string]*entry
}

type entry struct {
	src   *repository.Paper
	basic *catalogv1.Paper
}

// NewCache returns an empty cache.
func NewCache(full func(*repository.Paper) (*repository.Paper, error)) *Cache {
	return &Cache{Full: full, entries: map[string]*entry{}}
}

// Get returns p in view. The basic view is converted once per paper version
// while it stays in the cache; the full view is that message with the abstract.
func (c *Cache) Get(p *repository.Paper, view catalogv1.PaperView) (*catalogv1.Paper, error) {
	basic := c.basic(p)
	if view == catalogv1.PaperView_PAPER_VIEW_BASIC {
		return basic, nil
	}
	abstract := p.Abstract
	if abstract == "" && c.Full != nil {
		full, err := c.Full(p)
		if err != nil {
			return nil, err
		}
		abstract = full.Abstract
	}
	return WithAbstract(basic, abstract), nil
}

// basic returns p's basic message, from the cache or converted and cached.
func (c *Cache) basic(p *repository.Paper) *catalogv1.Paper {
	c.mu.RLock()
	e := c.entries[p.ID]
	c.mu.RUnlock()
	if e != nil && e.src == p {
		return e.basic
	}
	m := From(p, catalogv1.PaperView_PAPER_VIEW_BASIC)
	c.mu.Lock()
	if e := c.entries[p.ID]; e == nil && len(c.entries) >= CacheSize {
		c.evict()
	}
	c.entries[p.ID] = &entry{src: p, basic: m}
	c.mu.Unlock()
	return m
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
