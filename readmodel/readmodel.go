// Package readmodel keeps every paper in memory, but for its abstract (kept
// compressed in a file under the data directory, see texts), and answers the
// catalog's frequent reads (get, batch get, filtered and ordered lists) from there,
// because the embedded FerretDB scans and decodes a whole collection for anything
// but a find by _id. MongoDB stays the source of truth: the model is loaded from it at start,
// updated by each write this process makes, and caught up with writes of other
// replicas from the change log (see Syncer).
package readmodel

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/papercatalog/papers/cpu"
	"github.com/papercatalog/papers/listing"
	"github.com/papercatalog/papers/repository"
)

// maxCached is how many list results are kept; when the cache is full, the
// result of the oldest generation leaves it. It is emptied whenever the papers
// are loaded.
const maxCached = 256

// cachedPapersPerPaper bounds the papers the cached list results hold in all,
// per paper of the model (plus cachedPapersSlack): each holds a pointer a paper,
// and 256 filters that each match most of 2.7 million papers would otherwise
// hold 5 GiB. Beyond it, results of the oldest generations leave.
const (
	cachedPapersPerPaper = 4
	cachedPapersSlack    = 1 << 16
)

// maxJournal is how many paper changes the model remembers to patch cached list
// results with.
const maxJournal = 4096

// Model is the in-memory read model. Papers it returns are shared and must not be
// modified; writers hand it new values instead. It is safe for concurrent use.
type Model struct {
	mu         sync.RWMutex
	papers     *table
	requests   map[string]string           // create request_id -> paper ID
	tombstones map[string]int64            // deleted paper ID -> version of the deletion
	votes      map[string]map[string]int64 // paper ID -> user -> version of the upvote
	unvoted    map[string]int64            // paper ID|user -> version of the last removal
	gen        uint64                      // bumped on every change; list results of older generations are stale
	journal    []change                    // the papers changed in recent generations, oldest first
	floor      uint64                      // the journal covers every change after this generation
	cache      map[string]*Result
	cachedLen  int                  // the papers of the cached results, in all
	listing    map[string]*inflight // list results being computed, by cache key
	gate       *cpu.Gate            // the turns of long computations, shared with the search index
	stretch    int                  // how many papers a scan looks at between letting writers in
	dirty      map[string]struct{}  // papers whose content changed since TakeDirty
	dirtyCh    chan struct{}
	at         Position    // where the model's history of paper changes stands
	restored   *Checkpoint // the checkpoint the model was restored from, until a full load
	loaded     atomic.Bool
	// texts, when set (see StoreAbstracts), holds the papers' abstracts: the
	// papers of the model have none then, the table says where each is.
	texts   *texts
	intern  *interner
	packBuf []byte // pack's, reused
	slab    slab   // pack's, for papers kept for long
}

// New returns an empty model that is not yet loaded.
func New() *Model {
	return &Model{
		papers:     newTable(0),
		requests:   map[string]string{},
		tombstones: map[string]int64{},
		votes:      map[string]map[string]int64{},
		unvoted:    map[string]int64{},
		cache:      map[string]*Result{},
		listing:    map[string]*inflight{},
		dirty:      map[string]struct{}{},
		dirtyCh:    make(chan struct{}, 1),
		stretch:    scanStretch,
		intern:     newInterner(),
	}
}

// StoreAbstracts keeps the papers' abstracts in the file at path instead of in
// memory (see texts); call it before the model is loaded. Papers the model then
// returns have no abstract: Full gives a paper with it.
func (m *Model) StoreAbstracts(path string) error {
	t, err := openTexts(path)
	if err != nil {
		return fmt.Errorf("abstracts file: %w", err)
	}
	m.texts = t
	return nil
}

// Close closes the abstracts' file, if any.
func (m *Model) Close() error {
	if m.texts == nil {
		return nil
	}
	return m.texts.close()
}

// Full returns paper p with its abstract, which the model's papers leave in the
// abstracts' file: the model's current version of p (newer than p if it changed
// since p was read), or p itself when the model no longer has it or keeps no
// abstract of it.
func (m *Model) Full(p *repository.Paper) (*repository.Paper, error) {
	if p == nil || p.Abstract != "" || m.texts == nil {
		return p, nil
	}
	m.mu.RLock()
	cur, ok := m.papers.get(p.ID)
	ref, stored := m.papers.ref(p.ID)
	m.mu.RUnlock()
	if !ok || !stored || cur.Version < p.Version {
		return p, nil
	}
	abstract, err := m.texts.get(ref)
	if err != nil {
		return nil, fmt.Errorf("paper %s: %w", p.ID, err)
	}
	full := *cur
	full.Abstract = abstract
	return &full, nil
}

// offload returns the paper to keep for p, and the place of its abstract: the
// model's own copy, packed (see pack) and its repeated values shared (see
// interner), without its abstract, which goes to the abstracts' file unless the
// file holds it already (sum is its hash, 0: not computed). Without a file, or
// when the write fails, the copy keeps its abstract, and the place is none.
// long says the copy is expected to be kept for long (see pack). Callers hold
// m.mu for writing.
func (m *Model) offload(p *repository.Paper, sum uint64, long bool) (*repository.Paper, textRef) {
	own := *p
	var ref textRef
	if m.texts != nil && p.Abstract != "" {
		cur, _ := m.papers.ref(p.ID)
		if cur.sameSum(p.Abstract, sum) {
			ref, own.Abstract = cur, ""
		} else if put, err := m.texts.put(p.Abstract); err == nil {
			ref, own.Abstract = put, ""
		}
	}
	kept := m.pack(&own, long)
	m.intern.paper(kept)
	return kept, ref
}

// pack returns a copy of p laid out as a paper restored from a checkpoint is:
// its strings in one allocation of their exact size, its lists of their exact
// length. A paper as a write or a load hands it over holds each string in an
// allocation of its own, rounded up to the allocator's size classes, and lists
// grown by appends: about 150 bytes a paper more, for as long as it is kept.
// When long is set, the copy is expected to be kept for long (a paper loaded or
// created, not a new copy of a changed one), and comes from the model's slab.
// Callers hold m.mu for writing.
func (m *Model) pack(p *repository.Paper, long bool) *repository.Paper {
	var in *slab
	if long {
		in = &m.slab
	}
	m.packBuf = appendPaper(m.packBuf[:0], p)
	kept, _, err := decodePaper(m.packBuf, in)
	if err != nil { // cannot happen: appendPaper wrote it
		return p
	}
	return kept
}

// SetGate makes every list computed from scratch take a turn of g (see package
// cpu); call it before the model is used.
func (m *Model) SetGate(g *cpu.Gate) { m.gate = g }

// markDirty records that paper id's content changed, for derived indexes. Callers
// hold m.mu for writing.
func (m *Model) markDirty(id string) {
	m.at.Changes++
	m.dirty[id] = struct{}{}
	select {
	case m.dirtyCh <- struct{}{}:
	default:
	}
}

// Dirty signals when TakeDirty has something to return.
func (m *Model) Dirty() <-chan struct{} { return m.dirtyCh }

// TakeDirty returns the IDs of the papers whose content changed (created, updated
// or deleted) since the last call, and forgets them, with the position of the
// model's history they bring a derived index to: once it has applied them, and
// what every earlier call returned, it holds every change up to there.
func (m *Model) TakeDirty() ([]string, Position) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := make([]string, 0, len(m.dirty))
	for id := range m.dirty {
		ids = append(ids, id)
	}
	if len(ids) > 4096 {
		// A map keeps its size when cleared: after a load marked every
		// paper, that is tens of bytes a paper for as long as paperd runs.
		m.dirty = map[string]struct{}{}
	} else {
		clear(m.dirty)
	}
	return ids, m.at
}

// Restored returns the checkpoint the model was restored from (see
// Syncer.Start), and false when it was loaded from the database instead or has
// been reloaded since. The changes made since the restore are those TakeDirty
// returns.
func (m *Model) Restored() (Checkpoint, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.restored == nil {
		return Checkpoint{}, false
	}
	return *m.restored, true
}

// All returns every paper, in no particular order.
func (m *Model) All() []*repository.Paper {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]*repository.Paper, 0, m.papers.len())
	for p := range m.papers.all() {
		out = append(out, p)
	}
	return out
}

// Loaded reports whether Replace has been called: the model holds the database's
// papers.
func (m *Model) Loaded() bool { return m.loaded.Load() }

// Len returns the number of papers.
func (m *Model) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.papers.len()
}

// Replace sets the model's papers to all, as read from the database by a scan that
// began at version scanStart (a writer's clock in nanoseconds), and marks the model
// loaded. Papers written at or after scanStart that the model already holds are
// kept, and deletions the model saw after the scan began still win, so a reload
// never undoes a write that raced with it.
func (m *Model) Replace(all []*repository.Paper, scanStart int64) {
	loaded := make([]Loaded, len(all))
	for i, p := range all {
		loaded[i] = m.Prepare(p)
	}
	m.ReplaceLoaded(loaded, scanStart)
}

// Loaded is a paper read by a load, prepared for ReplaceLoaded (see Prepare).
type Loaded struct {
	p   *repository.Paper // packed; without its abstract when ref is one
	ref textRef
}

// Prepare makes of p, a paper a load read, the copy ReplaceLoaded keeps: its
// abstract written to the model's file of abstracts (unless the model holds
// it already), the rest packed (see pack). A load calls it for each paper as
// it reads them, so that what it read does not pile up on the heap in the
// driver's layout until the load ends (at 2.7 million papers that took more
// than 13 GiB), and the abstracts are compressed before ReplaceLoaded takes
// the model's lock, which every read waits for. Safe to call concurrently with
// reads and writes: it holds the lock only to pack.
func (m *Model) Prepare(p *repository.Paper) Loaded {
	var ref textRef
	if m.texts != nil && p.Abstract != "" {
		h := sum(p.Abstract)
		m.mu.RLock()
		cur, _ := m.papers.ref(p.ID)
		m.mu.RUnlock()
		if cur.sameSum(p.Abstract, h) {
			ref = cur
		} else if put, err := m.texts.put(p.Abstract); err == nil {
			ref = put
		} // else kept on the paper: ReplaceLoaded tries again (see offload)
	}
	own := *p
	if ref.stored() {
		own.Abstract = ""
	}
	m.mu.Lock()
	kept := m.pack(&own, true) // loaded: kept for long
	m.intern.paper(kept)
	m.mu.Unlock()
	return Loaded{p: kept, ref: ref}
}

// ReplaceLoaded is Replace for papers Prepare returned.
func (m *Model) ReplaceLoaded(all []Loaded, scanStart int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.at.Loads++
	m.restored = nil
	next := newTable(len(all))
	for _, l := range all {
		if v, ok := m.tombstones[l.p.ID]; ok && v >= l.p.Version {
			continue
		}
		next.put(l.p)
	}
	for p := range m.papers.all() {
		if p.Version < scanStart {
			continue
		}
		if cur, ok := next.get(p.ID); !ok || cur.Version < p.Version {
			ref, _ := m.papers.ref(p.ID)
			next.putRef(p, ref)
		}
	}
	for _, l := range all {
		if next.at(l.p.ID) != l.p { // a newer copy won
			continue
		}
		if l.ref.stored() || l.p.Abstract == "" {
			next.putRef(l.p, l.ref)
		} else {
			next.putRef(m.offload(l.p, 0, true))
		}
	}
	for p := range next.all() {
		if cur, ok := m.papers.get(p.ID); !ok || cur.Version != p.Version {
			m.markDirty(p.ID)
		}
	}
	for p := range m.papers.all() {
		if _, ok := next.get(p.ID); !ok {
			m.markDirty(p.ID)
		}
	}
	m.papers = next
	m.requests = map[string]string{}
	for p := range next.all() {
		if p.RequestID != "" {
			m.requests[p.RequestID] = p.ID
		}
		m.recount(p.ID)
	}
	m.reset()
	m.loaded.Store(true)
}

// Tombstone returns the version at which paper id was last seen deleted.
func (m *Model) Tombstone(id string) int64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.tombstones[id]
}

// Get returns the paper with the given ID.
func (m *Model) Get(id string) (*repository.Paper, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.papers.get(id)
}

// ByRequestID returns the paper that the create with request_id rid made.
func (m *Model) ByRequestID(rid string) (*repository.Paper, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	id, ok := m.requests[rid]
	if !ok {
		return nil, false
	}
	return m.papers.get(id)
}

// Put stores p unless the model already has the same or a newer version of it, or
// saw it deleted at a later version. It reports whether p was stored.
func (m *Model) Put(p *repository.Paper) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, exists := m.papers.get(p.ID)
	if exists && cur.Version >= p.Version {
		return false
	}
	if v, ok := m.tombstones[p.ID]; ok && v >= p.Version {
		return false
	}
	delete(m.tombstones, p.ID)
	m.touch(p.ID, cur)
	p, ref := m.offload(p, 0, !exists) // created: kept for long; a change's copy is not
	m.papers.putRef(p, ref)
	m.markDirty(p.ID)
	if p.RequestID != "" {
		m.requests[p.RequestID] = p.ID
	}
	m.recountOne(p.ID)
	m.changed()
	return true
}

// Refresh sets paper id to what the store holds: the stored paper, or the
// paper's removal when the store has none. It settles what a write whose outcome
// is unknown, or a change the change log may lack, left, and returns the change
// it applied (nil: none), for other replicas.
func (m *Model) Refresh(ctx context.Context, papers repository.Papers, id string) (*repository.Change, error) {
	p, err := papers.Get(ctx, id)
	switch {
	case err == nil:
		m.Put(p)
		return &repository.Change{PaperID: id, Version: p.Version, Paper: p}, nil
	case errors.Is(err, repository.ErrNotFound):
		if cur, ok := m.Get(id); ok {
			m.Remove(id, cur.Version)
			return &repository.Change{PaperID: id, Version: cur.Version, Deleted: true}, nil
		}
		return nil, nil
	default:
		return nil, err
	}
}

// Remove deletes paper id as of version: a copy newer than version stays. It
// reports whether a paper was removed.
func (m *Model) Remove(id string, version int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if v, ok := m.tombstones[id]; !ok || v < version {
		m.tombstones[id] = version
	}
	cur, ok := m.papers.get(id)
	if !ok || cur.Version > version {
		return false
	}
	m.touch(id, cur)
	m.papers.remove(id)
	m.markDirty(id)
	if cur.RequestID != "" {
		delete(m.requests, cur.RequestID)
	}
	for user := range m.votes[id] {
		m.unvoted[id+"|"+user] = version
	}
	delete(m.votes, id)
	m.changed()
	return true
}

// Generation changes whenever the model does: results derived from it under one
// generation are current while it lasts.
func (m *Model) Generation() uint64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.gen
}

// changed starts a new generation, after the changes touch journaled. Callers
// hold m.mu for writing.
func (m *Model) changed() {
	m.gen++
	if len(m.journal) > maxJournal {
		// Forget the older half: results of the generations it covered are
		// computed again rather than patched.
		m.journal = append(m.journal[:0:0], m.journal[len(m.journal)/2:]...)
		m.floor = m.journal[0].gen
	}
}

// reset starts a new generation after a change of many papers at once (a load),
// which is not journaled: every cached result is computed again. Callers hold
// m.mu for writing.
func (m *Model) reset() {
	m.gen++
	m.journal = nil
	m.floor = m.gen
	clear(m.cache)
	m.cachedLen = 0
}

// touch journals that paper id changes in the generation changed is about to
// start; old is the paper before (nil: there was none). Callers hold m.mu for
// writing.
func (m *Model) touch(id string, old *repository.Paper) {
	m.journal = append(m.journal, change{gen: m.gen + 1, id: id, old: old})
}

// matching returns the papers that match f, looking at the papers of the days
// its submit-time bounds cover and of the categories it requires, when it has
// some, else at all (see table.candidates). Callers hold m.mu for reading; when
// stretch is set, matching lets writers in every scanStretch papers (releasing
// and taking the read lock again), so papers may change while it runs.
func (m *Model) matching(f listing.Filter, stretch bool) []*repository.Paper {
	var out []*repository.Paper
	n := 0
	step := func(p *repository.Paper) {
		if p != nil && f.Match(p) {
			out = append(out, p)
		}
		if n++; stretch && n%m.stretch == 0 {
			m.mu.RUnlock()
			m.mu.RLock()
		}
	}
	// By slot: the table may grow, or be replaced, while the lock is let go.
	// A slot that changes in the meantime is settled by compute.
	if slots, ok := m.papers.candidates(f); ok {
		for it := slots.Iterator(); it.HasNext(); {
			if s := int(it.Next()); s < len(m.papers.rows) {
				step(m.papers.rows[s])
			}
		}
		return out
	}
	for i := 0; i < len(m.papers.rows); i++ {
		step(m.papers.rows[i])
	}
	return out
}

// scanStretch is how many papers a scan looks at between letting writers in.
const scanStretch = 512

// change is a journal entry: paper id changed in generation gen, and was old
// before that (nil: it did not exist).
type change struct {
	gen uint64
	id  string
	old *repository.Paper
}

// Result is the outcome of a list query: the matching papers in order. It is
// shared and must not be modified. It keeps no sort keys: a paper it holds never
// changes (a change is a new paper), so its key is computed again when needed, at
// the cost of a few allocations per binary search, rather than kept for every
// paper of every cached result (the largest part of the cache's memory).
type Result struct {
	gen    uint64
	Papers []*repository.Paper
}

// search returns the index of the first paper whose key is at or after key
// (inclusive) or after it (not inclusive), in order o.
func (r *Result) search(o listing.Order, key listing.Key, inclusive bool) int {
	return sort.Search(len(r.Papers), func(i int) bool {
		c := o.Compare(o.KeyOf(r.Papers[i]), key)
		return c > 0 || (inclusive && c == 0)
	})
}

// After returns the index of the first paper that comes after key in order.
func (r *Result) After(o listing.Order, key listing.Key) int {
	return r.search(o, key, false)
}

// Page returns the papers of r after the key after (from the start when nil),
// at most size of them, and the key of the last one when more follow (the key
// a page token continues after), or else nil. o is the order r is sorted by.
func (r *Result) Page(o listing.Order, after listing.Key, size int) ([]*repository.Paper, listing.Key) {
	start := 0
	if after != nil {
		start = r.After(o, after)
	}
	end := min(start+size, len(r.Papers))
	if end < len(r.Papers) {
		return r.Papers[start:end], o.KeyOf(r.Papers[end-1])
	}
	return r.Papers[start:end], nil
}

// List returns the papers matching f, sorted by o. Results are cached per filter
// and order. A cached result of an earlier generation is patched with the papers
// that changed since, when they are few, rather than computed again: a vote or an
// edit costs a listing a copy, not a scan and a sort of every paper.
func (m *Model) List(f listing.Filter, o listing.Order) *Result {
	ck := f.Text + "\x00" + o.Text
	m.mu.RLock()
	if r, ok := m.cache[ck]; ok && r.gen == m.gen {
		m.mu.RUnlock()
		return r
	}
	m.mu.RUnlock()

	// One computation per query and generation: callers that ask while it runs
	// wait for it rather than filter and sort every paper themselves.
	m.mu.Lock()
	if r, ok := m.cache[ck]; ok && r.gen == m.gen {
		m.mu.Unlock()
		return r
	}
	if l := m.listing[ck]; l != nil && l.gen == m.gen {
		m.mu.Unlock()
		<-l.done
		if l.r != nil {
			return l.r
		}
		return m.List(f, o) // that computation failed
	}
	l := &inflight{gen: m.gen, done: make(chan struct{})}
	m.listing[ck] = l
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		if m.listing[ck] == l {
			delete(m.listing, ck)
		}
		m.mu.Unlock()
		close(l.done)
	}()

	m.mu.RLock()
	gen := m.gen
	var r *Result
	if prev := m.cache[ck]; prev != nil {
		if changes, ok := m.changesSince(prev.gen); ok {
			m.mu.RUnlock()
			r = prev.patched(changes, gen, f, o)
		} else {
			m.mu.RUnlock()
		}
	} else {
		m.mu.RUnlock()
	}
	if r == nil {
		// Taken without the lock held: writers must not wait for a turn.
		leave, _ := m.gate.Enter(context.Background()) // never fails: the context does not end
		r = m.compute(f, o)
		leave()
		gen = r.gen
	}

	m.mu.Lock()
	if cur := m.cache[ck]; cur == nil || cur.gen < gen {
		if cur == nil && len(m.cache) >= maxCached {
			m.evictOldest()
		}
		if cur != nil {
			m.cachedLen -= len(cur.Papers)
		}
		m.cache[ck] = r
		m.cachedLen += len(r.Papers)
		for m.cachedLen > cachedPapersPerPaper*m.papers.len()+cachedPapersSlack && len(m.cache) > 1 {
			m.evictOldest()
		}
	}
	m.mu.Unlock()
	l.r = r
	return r
}

// evictOldest removes the cached result of the oldest generation. Callers hold
// m.mu for writing.
func (m *Model) evictOldest() {
	var oldest string
	var gen uint64
	for k, r := range m.cache {
		if oldest == "" || r.gen < gen {
			oldest, gen = k, r.gen
		}
	}
	m.cachedLen -= len(m.cache[oldest].Papers)
	delete(m.cache, oldest)
}

// maxPatched is the most changed papers a cached result is patched with; beyond,
// computing it again costs less.
const maxPatched = maxJournal

// changed is a paper that changed since some generation: as it was then (nil:
// none) and as it is now (nil: deleted).
type changed struct {
	id       string
	then, is *repository.Paper
}

// changesSince returns the papers changed after generation gen, or false when
// the journal no longer covers gen or too many papers changed. Callers hold m.mu
// for reading.
func (m *Model) changesSince(gen uint64) ([]changed, bool) {
	if gen < m.floor {
		return nil, false
	}
	// The journal is in generation order: the first entry of an id after gen
	// holds the paper as it was then.
	i := sort.Search(len(m.journal), func(i int) bool { return m.journal[i].gen > gen })
	seen := map[string]bool{}
	var out []changed
	for _, c := range m.journal[i:] {
		if !seen[c.id] {
			seen[c.id] = true
			out = append(out, changed{id: c.id, then: c.old, is: m.papers.at(c.id)})
			if len(out) > maxPatched {
				return nil, false
			}
		}
	}
	return out, true
}

// patched returns r brought to generation gen with the papers changed since its
// own, or nil when a changed paper is not where r should hold it.
func (r *Result) patched(changes []changed, gen uint64, f listing.Filter, o listing.Order) *Result {
	// Each changed paper leaves its old place, if it had one, and goes to its
	// new one, if it matches now: the places to drop, and the entries to merge
	// in, in order.
	drop := make([]int, 0, len(changes))
	var add []entry
	for _, c := range changes {
		if c.then != nil && f.Match(c.then) {
			at := r.search(o, o.KeyOf(c.then), true)
			if at == len(r.Papers) || r.Papers[at].ID != c.id {
				return nil // not where it should be: compute the result again
			}
			drop = append(drop, at)
		}
		if c.is != nil && f.Match(c.is) {
			add = append(add, entry{p: c.is, key: o.KeyOf(c.is)})
		}
	}
	slices.Sort(drop)
	slices.SortFunc(add, func(a, b entry) int { return o.Compare(a.key, b.key) })
	for j := range add {
		add[j].at = r.search(o, add[j].key, true)
	}
	n := len(r.Papers) - len(drop) + len(add)
	out := &Result{gen: gen, Papers: make([]*repository.Paper, 0, n)}
	// Copy the stretches between the places that change, each at once.
	i := 0
	for len(drop) > 0 || len(add) > 0 {
		next := len(r.Papers)
		if len(drop) > 0 {
			next = drop[0]
		}
		if len(add) > 0 && add[0].at < next {
			next = add[0].at
		}
		out.Papers = append(out.Papers, r.Papers[i:next]...)
		i = next
		for len(add) > 0 && add[0].at == next {
			out.Papers = append(out.Papers, add[0].p)
			add = add[1:]
		}
		if len(drop) > 0 && drop[0] == next {
			i, drop = next+1, drop[1:]
		}
	}
	out.Papers = append(out.Papers, r.Papers[i:]...)
	return out
}

// compute returns the result of f and o computed from every paper. It scans
// in stretches, letting writers take the lock in between: a reader holding it
// through a scan of every paper would keep a writer waiting, and every reader
// after it, GetPaper included. The papers that changed during the scan are then
// taken as they are at its end, so the result is that of one generation.
func (m *Model) compute(f listing.Filter, o listing.Order) *Result {
	m.mu.RLock()
	start := m.gen
	papers := m.matching(f, true)
	if m.gen != start {
		changes, ok := m.changesSince(start)
		if ok {
			papers = settle(papers, changes, f)
		} else {
			papers = m.matching(f, false) // the journal moved on: scan again, holding the lock
		}
	}
	r := &Result{gen: m.gen, Papers: papers}
	m.mu.RUnlock()
	// The keys are computed once for the sort, into one allocation, and dropped
	// after it.
	n := o.KeyLen()
	parts := make([]listing.KeyPart, len(r.Papers)*n)
	sorted := make([]entry, len(r.Papers))
	for i, p := range r.Papers {
		sorted[i] = entry{p: p, key: o.AppendKey(parts[i*n:i*n:(i+1)*n], p)}
	}
	slices.SortFunc(sorted, func(a, b entry) int { return o.Compare(a.key, b.key) })
	for i, e := range sorted {
		r.Papers[i] = e.p
	}
	return r
}

// settle replaces, in papers (matching f, found by a scan during which changes
// were made), each changed paper by what it is now if it matches f: the scan may
// have seen it as it was at any point of its changes.
func settle(papers []*repository.Paper, changes []changed, f listing.Filter) []*repository.Paper {
	ids := make(map[string]bool, len(changes))
	for _, c := range changes {
		ids[c.id] = true
	}
	out := papers[:0]
	for _, p := range papers {
		if !ids[p.ID] {
			out = append(out, p)
		}
	}
	for _, c := range changes {
		if c.is != nil && f.Match(c.is) {
			out = append(out, c.is)
		}
	}
	return out
}

// entry is a paper of a result with its sort key.
type entry struct {
	p   *repository.Paper
	key listing.Key
	at  int // where it goes in the result it is merged into
}

// inflight is a list result being computed.
type inflight struct {
	gen  uint64 // the generation it was asked for
	done chan struct{}
	r    *Result // set before done is closed
}
