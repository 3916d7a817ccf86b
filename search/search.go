// Package search keeps a full-text index of the papers (bleve, BM25 scoring,
// English stemming) under the data directory. The index is derived data: the read
// model feeds it, Reconcile repairs it against the read model at start (after a
// crash it may miss recent writes or keep deleted papers), and a deleted index is
// rebuilt from scratch.
package search

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"regexp"
	"regexp/syntax"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/keyword"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/standard"
	"github.com/blevesearch/bleve/v2/analysis/lang/en"
	"github.com/blevesearch/bleve/v2/document"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/collector"
	"github.com/blevesearch/bleve/v2/search/query"
	index "github.com/blevesearch/bleve_index_api"
	segment "github.com/blevesearch/scorch_segment_api/v2"
	vregexp "github.com/blevesearch/vellum/regexp"

	"github.com/papercatalog/papers/cpu"
	"github.com/papercatalog/papers/readmodel"
	"github.com/papercatalog/papers/repository"
)

// MaxHits is the most hits a search considers; results past it are not ranked.
const MaxHits = 10000

// Index is the full-text index.
type Index struct {
	idx    bleve.Index
	gen    atomic.Uint64 // bumped by every Apply; results of older generations are stale
	limits Limits
	// results caches Find's unfiltered pages and SimilarCached's hits.
	results resultCache
	slots   chan struct{} // the expensive-search budget: one element per running search
	gate    *cpu.Gate     // the turns of long computations, shared with the read model
	// papers gives Highlight the text it marks (see SetPapers).
	papers func(id string) (*repository.Paper, bool, error)
	// rebuilt is why Open replaced the index it found (see Rebuilt).
	rebuilt string
	version string // the mapping version the index was made with

	facetMu sync.Mutex
	facets  *facetTable // of the snapshot the last search ran on
	// The facet terms of every segment seen in the last snapshot, by
	// document number in the segment, and the terms' ordinals, which stay
	// the same for the index's life.
	segFacets  map[segment.Segment][][3]int32
	facetOrds  map[string]int32
	facetTerms []string
}

// Generation changes whenever the index does; callers key cached results with it.
func (ix *Index) Generation() uint64 { return ix.gen.Load() }

// doc is what is indexed of a paper.
type doc struct {
	Title        string   `json:"title"`
	Abstract     string   `json:"abstract"`
	Authors      []string `json:"authors"`
	Keywords     []string `json:"keywords"`
	Organization string   `json:"organization"`
	// Text is all of the above, for plain words (see inText).
	Text string `json:"text"`
	// Version is the paper's version, as text (it does not fit a float).
	Version string `json:"version"`
	// Facets holds the paper's facet values as "facet=value" terms (organization
	// id, primary category, year of publication or else of submission), all in one
	// field: counting them reads one doc-value column per match instead of three.
	Facets []string `json:"facets"`
}

// facetsField is the index field of the facet terms.
const facetsField = "facets"

// Facets.
const (
	FacetOrganization    = "org"
	FacetPrimaryCategory = "cat"
	FacetYear            = "year"
)

// indexMapping is the mapping of the index on disk. It keeps what queries,
// facets and Versions need: postings with term vectors for title and abstract
// (phrase queries need their positions), postings of all the text without
// positions for plain words (textField), the facets' doc values and the stored
// version. It stores no text and no other doc values (Highlight marks the read
// model's text, and nothing sorts by a field), and has no _all field.
func indexMapping() mapping.IndexMapping { return paperMapping(false, true) }

// snippetMapping is indexMapping with title and abstract stored, doc values
// left at bleve's default and no textField, as mapping version 3 was: the
// mapping of the small in-memory index highlightNew builds, so that it matches
// and marks as an index of the whole catalog with stored text did.
var snippetMapping = sync.OnceValue(func() mapping.IndexMapping { return paperMapping(true, false) })

// textField is the field of all of a paper's text (title, abstract, authors,
// keywords, organization), analyzed as English and indexed without positions:
// a plain word without a field prefix is looked up there, in one postings
// list, rather than in each field (see inText). Phrases, wildcards and fuzzy
// terms look in each field (see spread), with the positions and the terms of
// that field's analyzer.
const textField = "text"

func paperMapping(snippets, withText bool) mapping.IndexMapping {
	text := func(analyzer string, vectors bool) *mapping.FieldMapping {
		f := bleve.NewTextFieldMapping()
		f.Analyzer = analyzer
		f.Store = vectors && snippets
		f.IncludeTermVectors = vectors
		f.DocValues = snippets
		return f
	}
	d := bleve.NewDocumentStaticMapping()
	d.AddFieldMappingsAt("title", text(en.AnalyzerName, true))
	d.AddFieldMappingsAt("abstract", text(en.AnalyzerName, true))
	d.AddFieldMappingsAt("authors", text(standard.Name, false))
	d.AddFieldMappingsAt("keywords", text(en.AnalyzerName, false))
	d.AddFieldMappingsAt("organization", text(standard.Name, false))
	if withText {
		all := text(en.AnalyzerName, false)
		all.IncludeInAll = false
		d.AddFieldMappingsAt(textField, all)
	}
	version := text(keyword.Name, false)
	version.Store = true
	version.IncludeInAll = false
	d.AddFieldMappingsAt("version", version)
	facets := text(keyword.Name, false)
	facets.IncludeInAll = false
	facets.DocValues = true
	d.AddFieldMappingsAt(facetsField, facets)
	d.AddSubDocumentMapping("_all", bleve.NewDocumentDisabledMapping()) // see spread
	m := bleve.NewIndexMapping()
	m.DefaultMapping = d
	m.DefaultAnalyzer = en.AnalyzerName
	m.ScoringModel = "bm25"
	return m
}

// mappingVersion changes whenever indexMapping does.
const mappingVersion = "6"

// Indexes of the two mappings before mappingVersion are kept: bleve keeps
// indexing new papers with the mapping an index was made with, and queries
// answer alike on them, only slower. Rebuilding one makes a start index every
// paper again (one to two minutes per 100,000 papers on 2 cores). An index of
// any other version is rebuilt.
const (
	// noTextMappingVersion has no textField: a plain word looks in each field,
	// as a phrase does.
	noTextMappingVersion = "5"
	// legacyMappingVersion has no textField either, and has the _all field, a
	// second copy of every field's postings, with positions, that queries no
	// longer read: it takes about twice as much on disk (see Compact).
	legacyMappingVersion = "4"
)

var mappingKey = []byte("papers.mapping_version")

// Open opens the index in dir, creating it when absent. An index that cannot be
// opened (damaged, or made with a mapping other than this one or the one
// before) is removed and created anew, and Rebuilt says why; Reconcile then
// fills it.
func Open(dir string) (*Index, error) {
	idx, err := bleve.Open(dir)
	var rebuilt string
	switch {
	case err == nil:
		v, verr := idx.GetInternal(mappingKey)
		if verr == nil && slices.Contains([]string{mappingVersion, noTextMappingVersion, legacyMappingVersion}, string(v)) {
			ix := newIndex(idx)
			ix.version = string(v)
			return ix, nil
		}
		_ = idx.Close()
		rebuilt = fmt.Sprintf("the index on disk has mapping version %q, this paperd uses %q", v, mappingVersion)
	case !errors.Is(err, bleve.ErrorIndexPathDoesNotExist):
		rebuilt = "the index on disk cannot be opened: " + err.Error()
	}
	if rebuilt != "" {
		if rerr := os.RemoveAll(dir); rerr != nil {
			return nil, fmt.Errorf("remove unusable search index: %w", rerr)
		}
	}
	idx, err = bleve.New(dir, indexMapping())
	if err != nil {
		return nil, fmt.Errorf("create search index: %w", err)
	}
	if err := idx.SetInternal(mappingKey, []byte(mappingVersion)); err != nil {
		return nil, fmt.Errorf("create search index: %w", err)
	}
	ix := newIndex(idx)
	ix.rebuilt, ix.version = rebuilt, mappingVersion
	return ix, nil
}

// Rebuilt returns why Open removed the index it found in its directory and
// made an empty one in its place, or "" when it opened the index there (or
// there was none): the caller logs it, as every paper is indexed again.
func (ix *Index) Rebuilt() string { return ix.rebuilt }

// Outdated says how the index differs from one of this version's mapping, or
// returns "" when it has this version's mapping. Open keeps an index of either
// mapping before: it answers every search alike, but looks each plain word up
// in five fields. Removing the index's directory while paperd is stopped makes
// the next start rebuild it with this mapping.
func (ix *Index) Outdated() string {
	switch ix.version {
	case mappingVersion:
		return ""
	case legacyMappingVersion:
		return "it looks each plain word up in five fields, and holds an _all field searches no longer read (about twice the size)"
	}
	return "it looks each plain word up in five fields, as it has no field of all the text: searches of plain words are slower"
}

// query returns the form of q to search this index with: plain words in
// textField when the index has it.
func (ix *Index) query(q Query) query.Query {
	if ix.version == mappingVersion {
		return q.plain
	}
	return q.q
}

func newIndex(idx bleve.Index) *Index {
	ix := &Index{idx: idx, facetOrds: map[string]int32{}}
	ix.SetLimits(Limits{})
	return ix
}

// SetPapers sets where Highlight reads the papers it marks: get returns the
// paper of an id with its abstract, or false when there is none. Call it before
// the index is used; without it, Highlight returns no snippets.
func (ix *Index) SetPapers(get func(id string) (*repository.Paper, bool, error)) { ix.papers = get }

// ModelPapers returns, for SetPapers, a function that reads the papers of m with
// their abstracts.
func ModelPapers(m *readmodel.Model) func(id string) (*repository.Paper, bool, error) {
	return func(id string) (*repository.Paper, bool, error) {
		p, ok := m.Get(id)
		if !ok {
			return nil, false, nil
		}
		full, err := m.Full(p)
		return full, true, err
	}
}

// Close closes the index.
func (ix *Index) Close() error { return ix.idx.Close() }

// DocCount returns how many papers the index holds.
func (ix *Index) DocCount() (uint64, error) { return ix.idx.DocCount() }

// Versions returns the version of every indexed paper.
func (ix *Index) Versions() (map[string]int64, error) {
	if v, ok, err := ix.segmentVersions(); ok || err != nil {
		return v, err
	}
	n, err := ix.idx.DocCount()
	if err != nil {
		return nil, err
	}
	// One request for all of them: paging with from/size would rank the whole
	// index again for every page.
	req := bleve.NewSearchRequestOptions(bleve.NewMatchAllQuery(), int(n), 0, false) //nolint:gosec // a document count
	req.Fields = []string{"version"}
	res, err := ix.idx.Search(req)
	if err != nil {
		return nil, fmt.Errorf("read indexed versions: %w", err)
	}
	out := make(map[string]int64, len(res.Hits))
	for _, h := range res.Hits {
		v, _ := h.Fields["version"].(string)
		out[h.ID], _ = strconv.ParseInt(v, 10, 64)
	}
	return out, nil
}

// Apply indexes the given papers and removes the given IDs, in one batch.
func (ix *Index) Apply(upserts []*repository.Paper, deletes []string) error {
	b := ix.idx.NewBatch()
	for _, p := range upserts {
		if err := b.Index(p.ID, toDoc(p)); err != nil {
			return fmt.Errorf("index %s: %w", p.ID, err)
		}
	}
	for _, id := range deletes {
		b.Delete(id)
	}
	if err := ix.idx.Batch(b); err != nil {
		return fmt.Errorf("update search index: %w", err)
	}
	ix.gen.Add(1)
	return nil
}

// toDoc returns what is indexed of p.
func toDoc(p *repository.Paper) doc {
	d := doc{Title: p.Title, Abstract: p.Abstract, Keywords: p.Keywords,
		Organization: strings.TrimSpace(p.Organization.ID + " " + p.Organization.DisplayName),
		Version:      strconv.FormatInt(p.Version, 10)}
	for facet, value := range FacetValues(p) {
		d.Facets = append(d.Facets, facet+"="+value)
	}
	for _, a := range p.Authors {
		d.Authors = append(d.Authors, a.Name)
	}
	d.Text = strings.Join(slices.Concat([]string{d.Title, d.Abstract, d.Organization}, d.Authors, d.Keywords), "\n")
	return d
}

// FacetValues returns the value of each facet for p (organization id, primary
// category, year of publication or else of submission); empty ones are left out.
func FacetValues(p *repository.Paper) map[string]string {
	year := p.PublishedTime
	if year.IsZero() {
		year = p.SubmitTime
	}
	out := map[string]string{FacetYear: strconv.Itoa(year.Year())}
	if p.Organization.ID != "" {
		out[FacetOrganization] = p.Organization.ID
	}
	if p.PrimaryCategory != "" {
		out[FacetPrimaryCategory] = p.PrimaryCategory
	}
	return out
}

// FacetCounts counts matches by facet and value.
type FacetCounts map[string]map[string]int

// Add counts p's facet values.
func (c FacetCounts) Add(p *repository.Paper) {
	for facet, value := range FacetValues(p) {
		if c[facet] == nil {
			c[facet] = map[string]int{}
		}
		c[facet][value]++
	}
}

// Page is one page of a search: hits, how many matched in all, and facet counts
// over all matches.
type Page struct {
	Hits   []Hit
	Total  uint64
	Facets FacetCounts
}

// SearchPage returns the hits from..from+size of q, best first, with facet counts
// over every match. The counts come from a table of each document's facet terms,
// kept for the current index snapshot: looking them up in the index's doc values
// instead decompresses a block per match and costs more than the search.
//
// Every search of the index keeps within its Limits: it stops when ctx ends
// (returning ctx's error), refuses what goes past a limit with an error that
// wraps ErrQuery and names the limit, and returns ErrBusy when an expensive
// search found no turn (see Admit).
func (ix *Index) SearchPage(ctx context.Context, q Query, from, size int) (*Page, error) {
	var counts []int
	var table *facetTable
	handler := func(sctx *search.SearchContext) (search.DocumentMatchHandler, bool, error) {
		t, err := ix.facetTableFor(sctx.IndexReader)
		if err != nil {
			return nil, false, err
		}
		table, counts = t, make([]int, len(t.terms))
		next, loadID, err := collector.MakeTopNDocumentMatchHandler(sctx)
		return func(d *search.DocumentMatch) error {
			if d != nil {
				if n := d.IndexInternalID.Value(); n < uint64(len(t.docs)) {
					for _, ord := range t.docs[n] {
						if ord > 0 {
							counts[ord-1]++
						}
					}
				}
			}
			return next(d)
		}, loadID, err
	}
	ctx = context.WithValue(ctx, search.MakeDocumentMatchHandlerKey, search.MakeDocumentMatchHandler(handler))
	res, err := ix.run(ctx, bleve.NewSearchRequestOptions(ix.query(q), size, from, false))
	if err != nil {
		return nil, err
	}
	page := &Page{Total: res.Total, Facets: FacetCounts{}}
	for _, h := range res.Hits {
		page.Hits = append(page.Hits, Hit{ID: h.ID, Score: h.Score})
	}
	if table != nil {
		for ord, n := range counts {
			if n == 0 {
				continue
			}
			if name, value, ok := strings.Cut(table.terms[ord], "="); ok && value != "" {
				if page.Facets[name] == nil {
					page.Facets[name] = map[string]int{}
				}
				page.Facets[name][value] = n
			}
		}
	}
	return page, nil
}

// facetTable holds the facet terms of every document of one index snapshot, by
// the snapshot's document number.
type facetTable struct {
	reader index.IndexReader // the snapshot; compared, never used after the build
	terms  []string          // facet terms ("facet=value") by ordinal - 1
	docs   [][3]int32        // each document's term ordinals (1-based; 0 = none)
}

// facetTableFor returns the facet table of the snapshot r, building it when r is
// not the snapshot of the last table (the index changed or merged segments,
// which renumbers documents). Concurrent searches wait for one build. A build
// reads the facet terms of the segments it has not seen before only: a write
// adds a small segment beside the large ones, whose terms are kept (see
// segmentFacets).
func (ix *Index) facetTableFor(r index.IndexReader) (*facetTable, error) {
	ix.facetMu.Lock()
	defer ix.facetMu.Unlock()
	if t := ix.facets; t != nil && t.reader == r {
		return t, nil
	}
	var t *facetTable
	var err error
	if snap, ok := r.(*scorch.IndexSnapshot); ok {
		t, err = ix.segmentFacets(snap)
	} else {
		t, err = ix.readFacets(r)
	}
	if err != nil {
		return nil, err
	}
	ix.facets = t
	return t, nil
}

// readFacets builds the facet table of r from every document's doc values.
// Callers hold ix.facetMu.
func (ix *Index) readFacets(r index.IndexReader) (*facetTable, error) {
	t := &facetTable{reader: r}
	dv, err := r.DocValueReader([]string{facetsField})
	if err != nil {
		return nil, fmt.Errorf("read facets: %w", err)
	}
	ids, err := r.DocIDReaderAll()
	if err != nil {
		return nil, fmt.Errorf("read facets: %w", err)
	}
	defer func() { _ = ids.Close() }()
	for {
		id, err := ids.Next()
		if err != nil {
			return nil, fmt.Errorf("read facets: %w", err)
		}
		if id == nil {
			break
		}
		n := id.Value()
		for uint64(len(t.docs)) <= n {
			t.docs = append(t.docs, [3]int32{})
		}
		slot := 0
		err = dv.VisitDocValues(id, func(field string, term []byte) {
			if field != facetsField || slot == len(t.docs[n]) {
				return
			}
			t.docs[n][slot] = ix.facetOrdinal(term)
			slot++
		})
		if err != nil {
			return nil, fmt.Errorf("read facets: %w", err)
		}
	}
	t.terms = slices.Clone(ix.facetTerms)
	return t, nil
}

// segmentFacets builds the facet table of snap from the tables of its segments,
// reading those of new segments only. A document's number in a snapshot is its
// number in its segment plus the sizes of the segments before it, deleted
// documents included (as scorch numbers them). Callers hold ix.facetMu.
func (ix *Index) segmentFacets(snap *scorch.IndexSnapshot) (*facetTable, error) {
	t := &facetTable{reader: snap}
	kept := make(map[segment.Segment][][3]int32, len(snap.Segments()))
	for _, ss := range snap.Segments() {
		seg := ss.Segment()
		docs, ok := ix.segFacets[seg]
		if !ok {
			v, ok := seg.(segment.DocValueVisitable)
			if !ok {
				return ix.readFacets(snap)
			}
			docs = make([][3]int32, seg.Count())
			var state segment.DocVisitState
			for n := range docs {
				slot := 0
				var err error
				state, err = v.VisitDocValues(uint64(n), []string{facetsField}, func(field string, term []byte) { //nolint:gosec // n < Count
					if field != facetsField || slot == len(docs[n]) {
						return
					}
					docs[n][slot] = ix.facetOrdinal(term)
					slot++
				}, state)
				if err != nil {
					return nil, fmt.Errorf("read facets: %w", err)
				}
			}
		}
		kept[seg] = docs
		t.docs = append(t.docs, docs...)
	}
	ix.segFacets = kept // segments merged away are forgotten
	t.terms = slices.Clone(ix.facetTerms)
	return t, nil
}

// facetOrdinal returns the 1-based ordinal of a facet term, numbering new ones.
// Callers hold ix.facetMu.
func (ix *Index) facetOrdinal(term []byte) int32 {
	ord, ok := ix.facetOrds[string(term)]
	if !ok {
		ix.facetTerms = append(ix.facetTerms, string(term))
		ord = int32(len(ix.facetTerms)) //nolint:gosec // a few thousand facet values
		ix.facetOrds[string(term)] = ord
	}
	return ord
}

// Hit is a paper that matches a query, with its relevance score.
type Hit struct {
	ID    string
	Score float64
}

// Snippets are highlighted fragments of a hit's title and abstract, with matches
// in <mark> elements and everything else HTML-escaped.
type Snippets struct {
	Title    []string
	Abstract []string
}

var (
	fieldPrefix = regexp.MustCompile(`(?:^|[\s(+\-])([A-Za-z_]+):`)
	// fields maps the prefixes a query may use to index fields.
	fields = map[string]string{
		"title": "title", "abstract": "abstract", "author": "authors", "authors": "authors",
		"keyword": "keywords", "keywords": "keywords", "organization": "organization", "org": "organization",
	}
)

// ErrQuery is wrapped by errors about the query text; its message is for callers.
var ErrQuery = errors.New("invalid query")

// Query is a parsed search query, ready to run against an Index; the zero Query
// is no query.
type Query struct {
	q     query.Query   // every term in each field it names or else in each field (see spread)
	plain query.Query   // q with plain words in textField (see inText)
	marks []query.Query // the terms of q Highlight marks (see markable)
	text  string        // as parsed, trimmed
}

// Parse checks a query written in bleve's query string syntax and returns it
// parsed: words (any may match; more matches rank higher), "quoted phrases",
// +required and -excluded terms, and field prefixes title:, abstract:, author:,
// keyword:, organization:.
func Parse(text string) (Query, error) {
	q, err := parse(text)
	if err != nil {
		return Query{text: strings.TrimSpace(text)}, err
	}
	// Each form is rewritten in place: parse again for the second, which
	// cannot fail where the first did not.
	plain, err := parse(text)
	if err != nil {
		return Query{text: strings.TrimSpace(text)}, err
	}
	q = spread(q)
	return Query{q: q, plain: spread(inText(plain)), marks: markable(q, nil), text: strings.TrimSpace(text)}, nil
}

// markable appends to marks the terms of q, a query made by spread, that can
// mark a snippet: those in title or abstract that a matching paper may have
// (not those it must not have).
func markable(q query.Query, marks []query.Query) []query.Query {
	switch q := q.(type) {
	case *query.BooleanQuery:
		return markable(q.Should, markable(q.Must, marks))
	case *query.ConjunctionQuery:
		for _, sub := range q.Conjuncts {
			marks = markable(sub, marks)
		}
	case *query.DisjunctionQuery:
		for _, sub := range q.Disjuncts {
			marks = markable(sub, marks)
		}
	case query.FieldableQuery:
		if f := q.Field(); f == "title" || f == "abstract" {
			marks = append(marks, q)
		}
	}
	return marks
}

func parse(text string) (query.Query, error) {
	text = strings.TrimSpace(text)
	switch {
	case text == "":
		return nil, fmt.Errorf("%w: the query is empty", ErrQuery)
	case len(text) > 500:
		return nil, fmt.Errorf("%w: the query is longer than 500 characters", ErrQuery)
	case !utf8.ValidString(text):
		return nil, fmt.Errorf("%w: the query is not valid UTF-8", ErrQuery)
	case strings.Count(text, `"`)%2 != 0:
		return nil, fmt.Errorf("%w: a quoted phrase is not closed", ErrQuery)
	}
	var problem error
	rewritten := fieldPrefix.ReplaceAllStringFunc(text, func(m string) string {
		sub := fieldPrefix.FindStringSubmatch(m)
		f, ok := fields[strings.ToLower(sub[1])]
		if !ok {
			problem = fmt.Errorf("%w: unknown field %q (use title:, abstract:, author:, keyword: or organization:)", ErrQuery, sub[1])
			return m
		}
		return strings.TrimSuffix(m, sub[1]+":") + f + ":"
	})
	if problem != nil {
		return nil, problem
	}
	parsed, err := bleve.NewQueryStringQuery(rewritten).Parse()
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrQuery, err.Error())
	}
	// Counted first: checkQuery compiles every regular expression.
	q := matchAll(requireAll(parsed))
	if n := countExpensive(q); n > MaxExpensiveTerms {
		return nil, fmt.Errorf("%w: the query has %d wildcard, regular-expression, fuzzy or * terms; at most %d are allowed",
			ErrQuery, n, MaxExpensiveTerms)
	}
	if err := checkQuery(q); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrQuery, err.Error())
	}
	return q, nil
}

// maxFuzziness is the most edits a fuzzy term (word~N) may allow: bleve
// refuses more, but only when the search runs.
const maxFuzziness = 2

// wildcardRegexp turns a wildcard term into the regular expression bleve
// searches it with (as bleve's WildcardQuery does).
var wildcardRegexp = strings.NewReplacer("+", `\+`, "(", `\(`, ")", `\)`, "^", `\^`, "$", `\$`, ".", `\.`,
	"{", `\{`, "}", `\}`, "[", `\[`, "]", `\]`, `|`, `\|`, `\`, `\\`, "*", ".*", "?", ".")

// checkQuery refuses, before any search, what bleve would only refuse while
// searching: regular expressions (and wildcards) its automaton cannot compile,
// and fuzziness above maxFuzziness.
func checkQuery(q query.Query) error {
	switch q := q.(type) {
	case *query.BooleanQuery:
		for _, sub := range []query.Query{q.Must, q.Should, q.MustNot} {
			if err := checkQuery(sub); err != nil {
				return err
			}
		}
	case *query.ConjunctionQuery:
		for _, sub := range q.Conjuncts {
			if err := checkQuery(sub); err != nil {
				return err
			}
		}
	case *query.DisjunctionQuery:
		for _, sub := range q.Disjuncts {
			if err := checkQuery(sub); err != nil {
				return err
			}
		}
	case *query.RegexpQuery:
		return checkRegexp(q.Regexp)
	case *query.WildcardQuery:
		return checkRegexp(wildcardRegexp.Replace(q.Wildcard))
	case *query.FuzzyQuery:
		return checkFuzziness(q.Fuzziness)
	case *query.MatchQuery:
		return checkFuzziness(q.Fuzziness)
	case *query.MatchPhraseQuery:
		return checkFuzziness(q.Fuzziness)
	}
	return nil
}

func checkFuzziness(n int) error {
	if n > maxFuzziness {
		return fmt.Errorf("a fuzzy term allows at most %d edits (word~%d)", maxFuzziness, maxFuzziness)
	}
	return nil
}

// checkRegexp compiles a regular expression as the index does when it searches.
func checkRegexp(expr string) error {
	parsed, err := syntax.Parse(expr, syntax.Perl)
	if err == nil {
		_, err = vregexp.NewParsedWithLimit(expr, parsed, vregexp.DefaultLimit)
	}
	if err != nil {
		return fmt.Errorf("the regular expression /%s/ cannot be used: %s", expr, err.Error())
	}
	return nil
}

// requireAll makes every plain word and phrase of a parsed query string required,
// as in arXiv's and most paper searches: "graph diffusion" finds papers about
// both, not every paper that mentions either. Words the analyzer drops (stop
// words) are skipped rather than matching nothing, as bleve does for +terms.
func requireAll(q query.Query) query.Query {
	b, ok := q.(*query.BooleanQuery)
	if !ok || b.Should == nil {
		return q
	}
	var must, mustNot []query.Query
	if c, ok := b.Must.(*query.ConjunctionQuery); ok {
		must = append(must, c.Conjuncts...)
	}
	if d, ok := b.Should.(*query.DisjunctionQuery); ok {
		must = append(must, d.Disjuncts...)
	}
	if d, ok := b.MustNot.(*query.DisjunctionQuery); ok {
		mustNot = d.Disjuncts
	}
	return query.NewBooleanQueryForQueryString(must, nil, mustNot)
}

// searchFields are the fields a term without a field prefix is looked for in.
var searchFields = []string{"title", "abstract", "authors", "keywords", "organization"}

// spread makes every term, phrase, wildcard, regular expression and fuzzy term
// of q that names no field look in each of searchFields (any may match), each
// with that field's analyzer. The index has no _all field, which bleve searches
// such terms in by default: it held a second copy of every field's postings,
// with positions, half of the index on disk. A paper that matches in more of
// the fields ranks higher, as bleve's disjunctions score.
func spread(q query.Query) query.Query {
	switch q := q.(type) {
	case *query.MatchQuery:
		return inEachField(q)
	case *query.MatchPhraseQuery:
		return inEachField(q)
	case *query.TermQuery:
		return inEachField(q)
	case *query.PhraseQuery:
		return inEachField(q)
	case *query.PrefixQuery:
		return inEachField(q)
	case *query.WildcardQuery:
		return inEachField(q)
	case *query.RegexpQuery:
		return inEachField(q)
	case *query.FuzzyQuery:
		return inEachField(q)
	}
	return rewriteParts(q, spread)
}

// inEachField returns q when it names a field, and else a disjunction of a copy
// of q in each of searchFields.
func inEachField[T any, Q interface {
	*T
	query.FieldableQuery
}](q Q) query.Query {
	if q.Field() != "" {
		return q
	}
	each := make([]query.Query, len(searchFields))
	for i, f := range searchFields {
		c := Q(new(T))
		*c = *q
		c.SetField(f)
		each[i] = c
	}
	// As a query string's optional terms: a field whose analyzer drops the term
	// (a stop word) is left out, and when every field does, the term is skipped
	// (requireAll) rather than matching nothing.
	return query.NewBooleanQueryForQueryString(nil, each, nil)
}

// inText makes every plain word of q that names no field (a match query
// without fuzziness) look in textField: one postings list a word, where
// spread looks in five. A paper matches as it does with spread, but for words
// that the English analyzer stems alike and the standard one does not (in
// authors and organization).
func inText(q query.Query) query.Query {
	if m, ok := q.(*query.MatchQuery); ok && m.Field() == "" && m.Fuzziness == 0 {
		m.SetField(textField)
		return m
	}
	return rewriteParts(q, inText)
}

// backgroundWait is the longest a search without a caller (Search) waits for
// its turn of the expensive-search budget.
const backgroundWait = time.Minute

// Search is SearchContext for work without a caller (digests): it waits up to
// a minute for its turn of the expensive-search budget.
func (ix *Index) Search(q Query) ([]Hit, uint64, error) {
	ctx, release, err := ix.admit(context.Background(), q.q, backgroundWait)
	if err != nil {
		return nil, 0, err
	}
	defer release()
	return ix.SearchContext(ctx, q)
}

// SearchContext returns the papers matching q, best first, at most MaxHits, and
// how many matched in all; it keeps within the limits as SearchPage does.
func (ix *Index) SearchContext(ctx context.Context, q Query) ([]Hit, uint64, error) {
	req := bleve.NewSearchRequestOptions(ix.query(q), MaxHits, 0, false)
	res, err := ix.run(ctx, req)
	if err != nil {
		return nil, 0, err
	}
	hits := make([]Hit, len(res.Hits))
	for i, h := range res.Hits {
		hits[i] = Hit{ID: h.ID, Score: h.Score}
	}
	return hits, res.Total, nil
}

// Highlight returns snippets of the given papers' titles and abstracts for q,
// marked in their text as SetPapers gives it (papers it does not have are left
// out); it keeps within the limits as SearchPage does.
//
// The index stores no text, but it has the places of every term of title and
// abstract (the term vectors phrase queries need): Highlight looks up the
// places of q's terms in the given papers, and bleve's HTML highlighter marks them in
// the papers' text, as it did when the index stored the text. A paper whose
// text changed since the index took it (another version, or places past its
// text) is marked as highlightNew does.
func (ix *Index) Highlight(ctx context.Context, q Query, ids []string) (map[string]Snippets, error) {
	out := make(map[string]Snippets, len(ids))
	if len(ids) == 0 || ix.papers == nil {
		return out, nil
	}
	// Each given paper matched q: look only for the places of q's terms in
	// title and abstract, with every term optional. A term required in q may
	// be in another field, and looking in five fields for each costs more than
	// the search did (see Query.marks).
	marks := bleve.NewBooleanQuery()
	marks.AddMust(bleve.NewDocIDQuery(ids))
	if len(q.marks) > 0 {
		marks.AddShould(bleve.NewDisjunctionQuery(q.marks...))
	}
	req := bleve.NewSearchRequestOptions(marks, len(ids), 0, false)
	req.IncludeLocations = true
	req.Fields = []string{"version"}
	res, err := ix.run(ctx, req)
	if err != nil {
		return nil, err
	}
	h, err := bleve.Config.Cache.HighlighterNamed(highlightStyle)
	if err != nil {
		return nil, fmt.Errorf("highlight: %w", err)
	}
	var changed []*repository.Paper
	for _, hit := range res.Hits {
		p, ok, err := ix.papers(hit.ID)
		if err != nil {
			return nil, fmt.Errorf("highlight: %w", err)
		}
		if !ok {
			continue
		}
		if v, _ := hit.Fields["version"].(string); v != strconv.FormatInt(p.Version, 10) ||
			!within(hit.Locations["title"], p.Title) || !within(hit.Locations["abstract"], p.Abstract) {
			changed = append(changed, p)
			continue
		}
		d := document.NewDocument(p.ID)
		d.AddField(document.NewTextField("title", nil, []byte(p.Title)))
		d.AddField(document.NewTextField("abstract", nil, []byte(p.Abstract)))
		out[p.ID] = Snippets{Title: nonEmpty(h.BestFragmentsInField(hit, d, "title", 1)),
			Abstract: nonEmpty(h.BestFragmentsInField(hit, d, "abstract", 1))}
	}
	if len(changed) > 0 {
		more, err := ix.highlightNew(ctx, q, changed)
		if err != nil {
			return nil, err
		}
		maps.Copy(out, more)
	}
	return out, nil
}

// within reports whether every place in locs lies in text: the highlighter
// cuts text at them.
func within(locs search.TermLocationMap, text string) bool {
	for _, ls := range locs {
		for _, l := range ls {
			if l.Start > l.End || l.End > uint64(len(text)) {
				return false
			}
		}
	}
	return true
}

// highlightStyle is the highlighter of snippets: bleve's, marking matches with
// <mark> and HTML-escaping the rest.
const highlightStyle = "html"

// highlightNew returns snippets of papers the index has not taken in their
// current version: it indexes them in a small index in memory made with
// snippetMapping (the same analyzers, and stored text), and runs q there with
// bleve's HTML highlighter. A paper matches there as it would in the index,
// with the same terms at the same places.
func (ix *Index) highlightNew(ctx context.Context, q Query, papers []*repository.Paper) (map[string]Snippets, error) {
	mem, err := bleve.NewUsing("", snippetMapping(), scorch.Name, scorch.Name, nil)
	if err != nil {
		return nil, fmt.Errorf("highlight: %w", err)
	}
	defer func() { _ = mem.Close() }()
	b := mem.NewBatch()
	for _, p := range papers {
		if err := b.Index(p.ID, toDoc(p)); err != nil {
			return nil, fmt.Errorf("highlight %s: %w", p.ID, err)
		}
	}
	if err := mem.Batch(b); err != nil {
		return nil, fmt.Errorf("highlight: %w", err)
	}
	req := bleve.NewSearchRequestOptions(q.q, len(papers), 0, false)
	req.Highlight = bleve.NewHighlightWithStyle(highlightStyle)
	req.Highlight.Fields = []string{"title", "abstract"}
	res, err := ix.runIn(ctx, mem, req)
	if err != nil {
		return nil, err
	}
	return fragments(res), nil
}

// fragments returns the snippets bleve highlighted in the title and abstract
// of each hit of res.
func fragments(res *bleve.SearchResult) map[string]Snippets {
	out := make(map[string]Snippets, len(res.Hits))
	for _, h := range res.Hits {
		out[h.ID] = Snippets{Title: nonEmpty(h.Fragments["title"]), Abstract: nonEmpty(h.Fragments["abstract"])}
	}
	return out
}

// Similar returns papers similar in content to p, best first, without p itself: a
// more-like-this query over title, abstract and keywords made of p's terms that
// are frequent in p and rare in the catalog (tf-idf), as the English analyzer
// indexes them. It keeps within the limits as SearchPage does.
func (ix *Index) Similar(ctx context.Context, p *repository.Paper, limit int) ([]Hit, error) {
	terms, err := ix.significantTerms(p.Title+" "+p.Title+" "+p.Abstract+" "+strings.Join(p.Keywords, " "), 15)
	if err != nil || len(terms) == 0 {
		return nil, err
	}
	var disjuncts []query.Query
	for _, t := range terms {
		for _, field := range []string{"title", "abstract", "keywords"} {
			tq := bleve.NewTermQuery(t)
			tq.SetField(field)
			disjuncts = append(disjuncts, tq)
		}
	}
	q := bleve.NewBooleanQuery()
	q.AddShould(disjuncts...)
	q.AddMustNot(bleve.NewDocIDQuery([]string{p.ID}))
	req := bleve.NewSearchRequestOptions(q, limit, 0, false)
	res, err := ix.run(ctx, req)
	if err != nil {
		return nil, err
	}
	hits := make([]Hit, len(res.Hits))
	for i, h := range res.Hits {
		hits[i] = Hit{ID: h.ID, Score: h.Score}
	}
	return hits, nil
}

// significantTerms analyzes text as the index does and returns up to n of its
// terms by tf-idf (document frequencies from the abstract field), best first.
func (ix *Index) significantTerms(text string, n int) ([]string, error) {
	an := ix.idx.Mapping().AnalyzerNamed(en.AnalyzerName)
	if an == nil {
		return nil, errors.New("the English analyzer is missing")
	}
	tf := map[string]int{}
	for _, tok := range an.Analyze([]byte(text)) {
		if t := string(tok.Term); len(t) >= 3 { // the analyzer has dropped stop words

			tf[t]++
		}
	}
	adv, err := ix.idx.Advanced()
	if err != nil {
		return nil, err
	}
	r, err := adv.Reader()
	if err != nil {
		return nil, err
	}
	defer func() { _ = r.Close() }()
	docs, err := r.DocCount()
	if err != nil {
		return nil, err
	}
	type scored struct {
		term  string
		score float64
	}
	var out []scored
	for t, f := range tf {
		tfr, err := r.TermFieldReader(context.Background(), []byte(t), "abstract", false, false, false)
		if err != nil {
			return nil, err
		}
		df := tfr.Count()
		_ = tfr.Close()
		out = append(out, scored{t, float64(f) * math.Log(float64(docs+1)/float64(df+1))})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].score != out[j].score {
			return out[i].score > out[j].score
		}
		return out[i].term < out[j].term
	})
	terms := make([]string, 0, n)
	for _, s := range out[:min(n, len(out))] {
		terms = append(terms, s.term)
	}
	return terms, nil
}

func nonEmpty(fragments []string) []string {
	out := fragments[:0:0]
	for _, f := range fragments {
		if strings.TrimSpace(f) != "" {
			out = append(out, f)
		}
	}
	return out
}
