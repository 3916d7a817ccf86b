package service

import (
	"sync"

	"google.golang.org/protobuf/proto"
)

// responseCache keeps whole responses of the read-only listing calls, and their
// wire encoding, for one read-model generation: an identical request made before
// the catalog changes gets the same response without listing, converting or
// encoding anything again. Cached responses are shared and must not be modified.
type responseCache struct {
	mu    sync.RWMutex
	gen   uint64
	size  int // encoded bytes held
	byKey map[string]proto.Message
	wire  map[proto.Message][]byte
}

// maxCachedResponseBytes bounds the encoded responses the cache holds.
const maxCachedResponseBytes = 64 << 20

func (c *responseCache) get(key string, gen uint64) (proto.Message, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.gen != gen {
		return nil, false
	}
	m, ok := c.byKey[key]
	return m, ok
}

func (c *responseCache) put(key string, gen uint64, m proto.Message) {
	b, err := proto.Marshal(m)
	if err != nil {
		return // not cached; the transport reports the problem
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen < c.gen {
		return // the catalog changed while m was made
	}
	if gen > c.gen || c.byKey == nil || c.size+len(b) > maxCachedResponseBytes {
		c.gen, c.size = gen, 0
		c.byKey, c.wire = map[string]proto.Message{}, map[proto.Message][]byte{}
	}
	if len(b) > maxCachedResponseBytes/16 {
		return
	}
	c.byKey[key], c.wire[m] = m, b
	c.size += len(b)
}

func (c *responseCache) encoded(m any) ([]byte, bool) {
	pm, ok := m.(proto.Message)
	if !ok {
		return nil, false
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	b, ok := c.wire[pm]
	return b, ok
}

// Encoded returns the wire encoding of a response this service handed out from
// its cache, so the gRPC codec can send it without marshalling it again.
func (s *Catalog) Encoded(m any) ([]byte, bool) { return s.responses.encoded(m) }

// cachedResponse returns the cached response to the request identified by key
// (the method and the request's encoding, plus anything else the answer depends
// on), or makes it with build and caches it until the read model changes.
func cachedResponse[T proto.Message](s *Catalog, key string, build func() (T, error)) (T, error) {
	gen := s.Model.Generation()
	if m, ok := s.responses.get(key, gen); ok {
		if t, ok := m.(T); ok {
			return t, nil
		}
	}
	m, err := build()
	if err != nil {
		return m, err
	}
	s.responses.put(key, gen, m)
	return m, nil
}

// requestKey identifies a request by method and content.
func requestKey(method string, req proto.Message, extra ...string) string {
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(req)
	key := method + "\x00" + string(b)
	for _, e := range extra {
		key += "\x00" + e
	}
	return key
}
