package site

import (
	"strconv"
	"strings"
	"sync"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
)

// pageCacheBytes bounds the rendered paper pages kept (each under 100 KB).
const pageCacheBytes = 16 << 20

// pageCache keeps the last rendered page of each paper with the key of what
// it was rendered from (renderKey), so that the page of a paper that has not
// changed is not rendered again: rendering costs more than the calls. Its zero
// value is empty and ready.
type pageCache struct {
	mu    sync.Mutex
	pages map[string]cachedPage // by paper name
	bytes int
}

type cachedPage struct {
	key  string
	html []byte
}

// renderKey is what a paper's page shows changes with: the paper's etag
// (every write) and upvotes (which are not writes of the paper), and each
// similar paper's name and etag.
func renderKey(p *catalogv1.Paper, similar []*catalogv1.SimilarPaper) string {
	var b strings.Builder
	b.WriteString(p.GetEtag() + "/" + strconv.FormatInt(p.GetUpvotes(), 10))
	for _, sp := range similar {
		b.WriteString("/" + sp.GetPaper().GetName() + "@" + sp.GetPaper().GetEtag())
	}
	return b.String()
}

// get returns the page of name rendered from key, if kept.
func (c *pageCache) get(name, key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.pages[name]
	return p.html, ok && p.key == key
}

// put keeps the page of name rendered from key, in place of an older one;
// past pageCacheBytes, it first drops pages at random (a map's order).
func (c *pageCache) put(name, key string, html []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pages == nil {
		c.pages = map[string]cachedPage{}
	}
	if old, ok := c.pages[name]; ok {
		c.bytes -= len(old.html)
		delete(c.pages, name)
	}
	for n := range c.pages {
		if c.bytes+len(html) <= pageCacheBytes {
			break
		}
		c.bytes -= len(c.pages[n].html)
		delete(c.pages, n)
	}
	c.pages[name] = cachedPage{key, html}
	c.bytes += len(html)
}
