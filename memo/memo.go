// Package memo keeps whole responses of read-only calls, and their wire
// encoding, for one generation of the data they were made from: an identical
// request made before the data changes gets the same response without listing,
// converting or encoding anything again.
package memo

import (
	"sync"

	"google.golang.org/protobuf/proto"
)

// maxBytes bounds the encoded responses a Responses holds.
const maxBytes = 64 << 20

// Responses is a cache of responses by request key. Cached responses are shared
// and must not be modified. The zero Responses is ready.
type Responses struct {
	mu    sync.RWMutex
	gen   uint64
	size  int // encoded bytes held
	byKey map[string]proto.Message
	wire  map[proto.Message][]byte
}

// Get returns the response cached for key in generation gen.
func (c *Responses) Get(key string, gen uint64) (proto.Message, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.gen != gen {
		return nil, false
	}
	m, ok := c.byKey[key]
	return m, ok
}

// Put caches m, made from generation gen, for key. A newer generation empties
// the cache; a response of an older one is not kept.
func (c *Responses) Put(key string, gen uint64, m proto.Message) {
	b, err := proto.Marshal(m)
	if err != nil {
		return // not cached; the transport reports the problem
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen < c.gen {
		return // the data changed while m was made
	}
	if gen > c.gen || c.byKey == nil || c.size+len(b) > maxBytes {
		c.gen, c.size = gen, 0
		c.byKey, c.wire = map[string]proto.Message{}, map[proto.Message][]byte{}
	}
	if len(b) > maxBytes/16 {
		return
	}
	c.byKey[key], c.wire[m] = m, b
	c.size += len(b)
}

// Encoded returns the wire encoding of a response the cache handed out, so a
// codec can send it without marshalling it again.
func (c *Responses) Encoded(m any) ([]byte, bool) {
	pm, ok := m.(proto.Message)
	if !ok {
		return nil, false
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	b, ok := c.wire[pm]
	return b, ok
}

// Do returns the response cached for key in generation gen, or makes it with
// build and caches it.
func Do[T proto.Message](c *Responses, key string, gen uint64, build func() (T, error)) (T, error) {
	if m, ok := c.Get(key, gen); ok {
		if t, ok := m.(T); ok {
			return t, nil
		}
	}
	m, err := build()
	if err != nil {
		return m, err
	}
	c.Put(key, gen, m)
	return m, nil
}

// Key identifies a request by method and content, plus anything else the answer
// depends on.
func Key(method string, req proto.Message, extra ...string) string {
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(req)
	key := method + "\x00" + string(b)
	for _, e := range extra {
		key += "\x00" + e
	}
	return key
}
