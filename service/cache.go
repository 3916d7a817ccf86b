package service

import (
	"sync"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	"github.com/papercatalog/papers/query"
	"github.com/papercatalog/papers/repository"
)

// protoCache keeps the proto form of each paper, per view, so reads do not rebuild
// it. Papers in the read model are immutable values and a write replaces the
// pointer, so an entry is current exactly when its source pointer is the paper's.
// Cached messages are shared and must not be modified.
type protoCache struct {
	mu      sync.RWMutex
	entries map[string]*protoEntry
}

type protoEntry struct {
	src   *repository.Paper
	views [3]*catalogv1.Paper // indexed by PaperView
}

func (c *protoCache) get(p *repository.Paper, view catalogv1.PaperView) *catalogv1.Paper {
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
	m = toProto(p, view)
	c.mu.Lock()
	if c.entries == nil {
		c.entries = map[string]*protoEntry{}
	}
	e = c.entries[p.ID]
	if e == nil || e.src != p {
		e = &protoEntry{src: p}
		c.entries[p.ID] = e
	}
	e.views[view] = m
	c.mu.Unlock()
	return m
}

// forget drops the entry of a deleted paper.
func (c *protoCache) forget(id string) {
	c.mu.Lock()
	delete(c.entries, id)
	c.mu.Unlock()
}

// parsedQuery is a parsed filter and order, cached by their text: parsing and
// type-checking a filter costs more than serving a cached listing.
type parsedQuery struct {
	filter query.Filter
	order  query.Order
	ferr   error
	oerr   error
}

const maxParsed = 1024

type queryCache struct {
	mu      sync.RWMutex
	entries map[[2]string]*parsedQuery
}

func (c *queryCache) parse(filter, order string) *parsedQuery {
	key := [2]string{filter, order}
	c.mu.RLock()
	q := c.entries[key]
	c.mu.RUnlock()
	if q != nil {
		return q
	}
	q = &parsedQuery{}
	q.filter, q.ferr = query.ParseFilter(filter)
	q.order, q.oerr = query.ParseOrder(order)
	c.mu.Lock()
	if c.entries == nil || len(c.entries) >= maxParsed {
		c.entries = map[[2]string]*parsedQuery{}
	}
	c.entries[key] = q
	c.mu.Unlock()
	return q
}
