package listing

import "sync"

// Parsed is a filter and an order parsed together, with the error of each.
type Parsed struct {
	Filter    Filter
	Order     Order
	FilterErr error
	OrderErr  error
}

// maxParsed is how many parsed queries a Cache keeps before it starts over.
const maxParsed = 1024

// Cache keeps parsed filters and orders by their text: parsing and type-checking
// a filter costs more than serving a cached listing. The zero Cache is ready.
type Cache struct {
	mu      sync.RWMutex
	entries map[[2]string]*Parsed
}

// Parse returns filter and order parsed, from the cache when it can. The result
// is shared and must not be modified.
func (c *Cache) Parse(filter, order string) *Parsed {
	key := [2]string{filter, order}
	c.mu.RLock()
	q := c.entries[key]
	c.mu.RUnlock()
	if q != nil {
		return q
	}
	q = &Parsed{}
	q.Filter, q.FilterErr = ParseFilter(filter)
	q.Order, q.OrderErr = ParseOrder(order)
	c.mu.Lock()
	if c.entries == nil || len(c.entries) >= maxParsed {
		c.entries = map[[2]string]*Parsed{}
	}
	c.entries[key] = q
	c.mu.Unlock()
	return q
}
