package service

import (
	"sync"

	"google.golang.org/protobuf/proto"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	"github.com/papercatalog/papers/memo"
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

// Encoded returns the wire encoding of a response this service handed out from
// its cache, so the gRPC codec can send it without marshalling it again.
func (s *Catalog) Encoded(m any) ([]byte, bool) { return s.responses.Encoded(m) }

// cachedResponse returns the cached response to the request identified by key
// (see memo.Key), or makes it with build and caches it until the read model
// changes.
func cachedResponse[T proto.Message](s *Catalog, key string, build func() (T, error)) (T, error) {
	return memo.Do(&s.responses, key, s.Model.Generation(), build)
}
