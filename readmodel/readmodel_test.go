package readmodel

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/papercatalog/papers/listing"
	"github.com/papercatalog/papers/repository"
)

func paper(id string, version, upvotes int64) *repository.Paper {
	return &repository.Paper{ID: id, Title: id, Version: version, BaseUpvotes: upvotes, Upvotes: upvotes}
}

func TestPutKeepsTheNewestVersion(t *testing.T) {
	t.Parallel()
	m := New()
	if !m.Put(paper("a", 2, 0)) {
		t.Fatal("first put refused")
	}
	if m.Put(paper("a", 1, 0)) {
		t.Error("an older version replaced a newer one")
	}
	if m.Put(paper("a", 2, 0)) {
		t.Error("the same version was applied twice")
	}
	if got, _ := m.Get("a"); got.Version != 2 {
		t.Errorf("version %d, want 2", got.Version)
	}
}

func TestRemoveLeavesATombstone(t *testing.T) {
	t.Parallel()
	m := New()
	m.Put(paper("a", 1, 0))
	if !m.Remove("a", 5) {
		t.Fatal("remove refused")
	}
	if m.Put(paper("a", 3, 0)) {
		t.Error("a version older than the deletion came back (a ghost)")
	}
	if !m.Put(paper("a", 6, 0)) {
		t.Error("a re-create after the deletion was refused")
	}
	if m.Remove("a", 4) {
		t.Error("a stale deletion removed a newer paper")
	}
}

func TestReplaceKeepsWritesThatRacedWithTheScan(t *testing.T) {
	t.Parallel()
	m := New()
	m.Put(paper("old", 1, 0))
	m.Put(paper("written-during-scan", 100, 0))
	m.Put(paper("updated-during-scan", 101, 0))
	m.Remove("deleted-during-scan", 102)
	// The scan began at version 50 and saw the state before those writes.
	m.Replace([]*repository.Paper{paper("old", 1, 0), paper("updated-during-scan", 10, 0), paper("deleted-during-scan", 20, 0)}, 50)
	if !m.Loaded() {
		t.Error("not loaded after Replace")
	}
	for id, want := range map[string]int64{"old": 1, "written-during-scan": 100, "updated-during-scan": 101} {
		if got, ok := m.Get(id); !ok || got.Version != want {
			t.Errorf("%s: %v %v, want version %d", id, got, ok, want)
		}
	}
	if _, ok := m.Get("deleted-during-scan"); ok {
		t.Error("a paper deleted during the scan came back")
	}
}

func TestListIsSortedAndFollowsChanges(t *testing.T) {
	t.Parallel()
	m := New()
	m.Replace([]*repository.Paper{paper("a", 1, 5), paper("b", 1, 9), paper("c", 1, 5)}, 0)
	f, err := listing.ParseFilter("upvotes >= 5")
	if err != nil {
		t.Fatal(err)
	}
	o, err := listing.ParseOrder("upvotes desc")
	if err != nil {
		t.Fatal(err)
	}
	ids := func(r *Result) (out []string) {
		for _, p := range r.Papers {
			out = append(out, p.ID)
		}
		return out
	}
	r := m.List(f, o)
	if got := ids(r); len(got) != 3 || got[0] != "b" || got[1] != "a" || got[2] != "c" {
		t.Errorf("list = %v, want [b a c] (ties by name)", got)
	}
	if i := r.After(o, o.KeyOf(r.Papers[0])); i != 1 {
		t.Errorf("After(first) = %d, want 1", i)
	}
	if page, last := r.Page(o, nil, 2); len(page) != 2 || page[1].ID != "a" || o.Compare(last, o.KeyOf(r.Papers[1])) != 0 {
		t.Errorf("the first page of 2: %d papers, continuing after %v", len(page), last)
	}
	if page, last := r.Page(o, o.KeyOf(r.Papers[1]), 2); len(page) != 1 || page[0].ID != "c" || last != nil {
		t.Errorf("the last page: %d papers, continuing after %v, want c and no more", len(page), last)
	}
	if m.List(f, o) != r {
		t.Error("an unchanged model did not reuse the cached result")
	}
	m.Put(paper("d", 2, 7))
	if got := ids(m.List(f, o)); len(got) != 4 || got[1] != "d" {
		t.Errorf("after a put: %v, want d second", got)
	}
	m.Remove("b", 2)
	if got := ids(m.List(f, o)); len(got) != 3 || got[0] != "d" {
		t.Errorf("after a remove: %v, want d first", got)
	}
}

func TestByRequestID(t *testing.T) {
	t.Parallel()
	m := New()
	p := paper("a", 1, 0)
	p.RequestID = "r1"
	m.Put(p)
	if got, ok := m.ByRequestID("r1"); !ok || got.ID != "a" {
		t.Errorf("ByRequestID = %v %v", got, ok)
	}
	m.Remove("a", 2)
	if _, ok := m.ByRequestID("r1"); ok {
		t.Error("the request id of a deleted paper still resolves")
	}
}

func TestReplaceVotesTakesEachUsersLatestChange(t *testing.T) {
	m := New()
	m.Replace([]*repository.Paper{{ID: "p", BaseUpvotes: 5, Version: 1}, {ID: "q", Version: 1}}, 0)
	rec := func(paper, user string, added bool, version int64) repository.VoteRecord {
		return repository.VoteRecord{PaperID: paper, User: user, Added: added, Version: version}
	}
	// Applied while the scan ran (scan began at 100): bob's removal and dan's
	// upvote of q are newer than what the scan read; an old vote of eve's at 50
	// was removed from the database (its paper deleted) and must not come back.
	m.RemoveVote(repository.Vote{PaperID: "p", User: "bob"}, 120)
	m.AddVote(repository.Vote{PaperID: "q", User: "dan"}, 130)
	m.AddVote(repository.Vote{PaperID: "q", User: "eve"}, 50)
	m.ReplaceVotes([]repository.VoteRecord{
		rec("p", "ann", true, 0),                              // a vote from before versions
		rec("p", "bob", true, 10),                             // removed at 120, in the model only
		rec("p", "cat", true, 20), rec("p", "cat", false, 30), // removed
		rec("q", "cat", false, 40), rec("q", "cat", true, 60), // removed, then upvoted again
		rec("q", "dan", true, 90), rec("q", "dan", false, 110), // removed, upvoted at 130 in the model
	}, 100)
	for _, c := range []struct {
		paper, user string
		want        bool
	}{{"p", "ann", true}, {"p", "bob", false}, {"p", "cat", false}, {"q", "cat", true}, {"q", "dan", true}, {"q", "eve", false}} {
		if got := m.HasVote(repository.Vote{PaperID: c.paper, User: c.user}); got != c.want {
			t.Errorf("%s's vote on %s: %v, want %v", c.user, c.paper, got, c.want)
		}
	}
	p, _ := m.Get("p")
	q, _ := m.Get("q")
	if p.Upvotes != 6 || q.Upvotes != 2 {
		t.Errorf("upvotes: p %d (want 5 + 1), q %d (want 2)", p.Upvotes, q.Upvotes)
	}
	// A late copy of an old change does not undo a newer one.
	if m.AddVote(repository.Vote{PaperID: "p", User: "cat"}, 25) {
		t.Error("an upvote older than the removal was applied")
	}
}

// TestConcurrentListsShareOneComputation: callers asking for the same listing
// while it is computed wait for that computation instead of repeating it; a
// change after it began is seen by the next caller.
func TestConcurrentListsShareOneComputation(t *testing.T) {
	t.Parallel()
	m := New()
	var papers []*repository.Paper
	for i := range 50000 {
		papers = append(papers, paper(fmt.Sprintf("2401.%05d", i), 1, int64(i%97)))
	}
	m.Replace(papers, 0)
	f, err := listing.ParseFilter("upvotes >= 3")
	if err != nil {
		t.Fatal(err)
	}
	o, err := listing.ParseOrder("upvotes desc")
	if err != nil {
		t.Fatal(err)
	}
	const callers = 16
	results := make([]*Result, callers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			<-start
			results[i] = m.List(f, o)
		})
	}
	close(start)
	wg.Wait()
	for i, r := range results {
		if r != results[0] {
			t.Fatalf("caller %d got a result of its own computation", i)
		}
	}
	if n := len(results[0].Papers); n != 50000-3*(50000/97)-min(3, 50000%97) {
		t.Errorf("%d papers listed", n)
	}
	m.Put(paper("2401.99999", 2, 500))
	if r := m.List(f, o); r == results[0] || r.Papers[0].ID != "2401.99999" {
		t.Error("the listing after a change did not follow it")
	}
}

// TestPatchedListsEqualComputedOnes drives a model through random puts, removals,
// votes and loads, listing between them with a few filters and orders, and checks
// every answer against the same list computed from scratch from the model's
// papers: a cached result patched with the changes since its
// generation must equal a computed one, in content and order.
func TestPatchedListsEqualComputedOnes(t *testing.T) {
	t.Parallel()
	filters := []string{"", "upvotes >= 3", `categories:"cs.lg"`, `categories:"cs.LG" AND upvotes >= 1`, "upvotes < 2 OR organization = \"o1\""}
	orders := []string{"", "upvotes desc", "upvotes desc, submit_time desc", "title", "name desc"}
	type lq struct {
		f listing.Filter
		o listing.Order
	}
	var queries []lq
	for _, ft := range filters {
		f, err := listing.ParseFilter(ft)
		if err != nil {
			t.Fatal(err)
		}
		day := func(d float64) time.Time { return time.Unix(int64(d*86400), 0) }
		for _, f := range []listing.Filter{f, f.SubmittedIn(day(-2.5), day(3.25)), f.SubmittedFrom(day(20)),
			f.SubmittedIn(day(-10), day(40)).SubmittedIn(day(1), day(2)), f.SubmittedIn(day(5), day(5))} {
			for _, ot := range orders {
				o, err := listing.ParseOrder(ot)
				if err != nil {
					t.Fatal(err)
				}
				queries = append(queries, lq{f, o})
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	newPaper := func(id string, version int64) *repository.Paper {
		p := paper(id, version, int64(r.IntN(5)))
		p.Title = fmt.Sprintf("t%d", r.IntN(30)) // ties, broken by the name
		p.SubmitTime = time.Unix(int64(r.IntN(30*86400)-5*86400), 0)
		if r.IntN(4) == 0 { // many at the same time
			p.SubmitTime = time.Unix(int64(r.IntN(30)-5)*86400, 0)
		}
		p.Categories = [][]string{{"cs.LG"}, {"cs.CV", "cs.LG"}, {"stat.ML"}, nil}[r.IntN(4)]
		p.Organization.ID = fmt.Sprintf("o%d", r.IntN(3))
		return p
	}
	m := New()
	var initial []*repository.Paper
	for i := range 300 {
		initial = append(initial, newPaper(fmt.Sprintf("p%03d", i), 1))
	}
	m.Replace(initial, 0)
	version := int64(10)
	patched := 0
	for step := range 6000 {
		version++
		id := fmt.Sprintf("p%03d", r.IntN(330))
		user := fmt.Sprintf("u%d", r.IntN(8))
		switch k := r.IntN(100); {
		case k < 30:
			m.Put(newPaper(id, version))
		case k < 40:
			m.Remove(id, version)
		case k < 70:
			m.AddVote(repository.Vote{PaperID: id, User: user}, version)
		case k < 99:
			m.RemoveVote(repository.Vote{PaperID: id, User: user}, version)
		default:
			m.Replace(m.All(), 0)
		}
		if r.IntN(3) != 0 {
			continue
		}
		for range 1 + r.IntN(4) {
			q := queries[r.IntN(len(queries))]
			m.mu.RLock()
			prev := m.cache[q.f.Text+"\x00"+q.o.Text]
			if prev != nil && prev.gen != m.gen {
				if changes, ok := m.changesSince(prev.gen); ok && prev.patched(changes, m.gen, q.f, q.o) != nil {
					patched++
				}
			}
			m.mu.RUnlock()
			got := m.List(q.f, q.o)
			want := &Result{}
			var wantKeys []listing.Key
			for _, p := range m.All() {
				if q.f.Match(p) {
					want.Papers = append(want.Papers, p)
				}
			}
			slices.SortFunc(want.Papers, func(a, b *repository.Paper) int { return q.o.Compare(q.o.KeyOf(a), q.o.KeyOf(b)) })
			for _, p := range want.Papers {
				wantKeys = append(wantKeys, q.o.KeyOf(p))
			}
			if !slices.Equal(ids(got.Papers), ids(want.Papers)) {
				t.Fatalf("step %d, filter %q, order %q:\n got %v\nwant %v", step, q.f.Text, q.o.Text, ids(got.Papers), ids(want.Papers))
			}
			for i := range got.Papers {
				if got.Papers[i] != want.Papers[i] || q.o.Compare(q.o.KeyOf(got.Papers[i]), wantKeys[i]) != 0 {
					t.Fatalf("step %d, filter %q, order %q: paper %d is %+v with key %v, want %+v with key %v",
						step, q.f.Text, q.o.Text, i, got.Papers[i], q.o.KeyOf(got.Papers[i]), want.Papers[i], wantKeys[i])
				}
			}
		}
	}
	if patched < 100 {
		t.Errorf("only %d lists were patched: the test does not exercise patching", patched)
	}
}

func ids(ps []*repository.Paper) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.ID
	}
	return out
}

// TestListsComputedDuringWritesAreOfOneGeneration lists while writers change
// papers and votes, with scans that let writers in every few papers, then
// checks, once the writers have stopped, that every cached result (patched from
// those computed during the writes) equals one computed from scratch: a scan
// that saw some papers before a change and some after must not be cached as a
// result of one generation.
func TestListsComputedDuringWritesAreOfOneGeneration(t *testing.T) {
	t.Parallel()
	m := New()
	m.stretch = 3
	var initial []*repository.Paper
	for i := range 400 {
		p := paper(fmt.Sprintf("p%03d", i), 1, int64(i%7))
		p.Categories = []string{[]string{"cs.LG", "cs.CV"}[i%2]}
		p.SubmitTime = time.Unix(int64(i%20)*86400, 0)
		initial = append(initial, p)
	}
	m.Replace(initial, 0)
	var queries []listing.Filter
	// Filters that require categories are computed from the papers of those
	// categories (table.candidates), which writers change under them.
	for _, ft := range []string{"", `categories:"cs.LG"`, "upvotes >= 3", `categories:"CS" AND upvotes >= 2`,
		`categories:"lg" categories:"math"`, `categories:"cs.CV" OR upvotes >= 6`} {
		f, err := listing.ParseFilter(ft)
		if err != nil {
			t.Fatal(err)
		}
		queries = append(queries, f, f.SubmittedIn(time.Unix(2*86400, 0), time.Unix(9*86400, 0)))
	}
	o, err := listing.ParseOrder("upvotes desc, submit_time desc")
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var writers sync.WaitGroup
	var version atomic.Int64
	version.Store(10)
	for w := range 3 {
		writers.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 9))
			for {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("p%03d", r.IntN(420))
				v := version.Add(1)
				switch r.IntN(4) {
				case 0:
					p := paper(id, v, int64(r.IntN(7)))
					cats := []string{"cs.LG", "cs.CV", "math.OC"}
					p.Categories = cats[r.IntN(2) : 1+r.IntN(3)]
					p.SubmitTime = time.Unix(int64(r.IntN(20))*86400, 0)
					m.Put(p)
				case 1:
					m.Remove(id, v)
				case 2:
					m.AddVote(repository.Vote{PaperID: id, User: fmt.Sprint(r.IntN(5))}, v)
				default:
					m.RemoveVote(repository.Vote{PaperID: id, User: fmt.Sprint(r.IntN(5))}, v)
				}
			}
		})
	}
	var readers sync.WaitGroup
	var checked atomic.Int64
	for range 2 {
		readers.Go(func() {
			for i := range 1000 {
				if i%2 == 0 { // computed from scratch, during the writes, rather than patched
					m.mu.Lock()
					clear(m.cache)
					m.mu.Unlock()
				}
				f := queries[i%len(queries)]
				r := m.List(f, o)
				// The papers as they were at r's generation: as they are, but
				// for those changed since, which the journal holds as they were.
				m.mu.RLock()
				changes, ok := m.changesSince(r.gen)
				then := map[string]*repository.Paper{}
				for p := range m.papers.all() {
					then[p.ID] = p
				}
				m.mu.RUnlock()
				if !ok {
					continue
				}
				for _, c := range changes {
					if delete(then, c.id); c.then != nil {
						then[c.id] = c.then
					}
				}
				var want []*repository.Paper
				for _, p := range then {
					if f.Match(p) {
						want = append(want, p)
					}
				}
				slices.SortFunc(want, func(a, b *repository.Paper) int { return o.Compare(o.KeyOf(a), o.KeyOf(b)) })
				if !slices.Equal(r.Papers, want) {
					t.Errorf("filter %q at generation %d: the list has %d papers %v,\nwant %d %v", f.Text, r.gen, len(r.Papers), ids(r.Papers), len(want), ids(want))
					return
				}
				checked.Add(1)
			}
		})
	}
	readers.Wait()
	if checked.Load() < 500 {
		t.Errorf("only %d lists could be checked against their generation", checked.Load())
	}
	close(stop)
	writers.Wait()
	for _, f := range queries {
		got := m.List(f, o)
		var want []*repository.Paper
		for _, p := range m.All() {
			if f.Match(p) {
				want = append(want, p)
			}
		}
		slices.SortFunc(want, func(a, b *repository.Paper) int { return o.Compare(o.KeyOf(a), o.KeyOf(b)) })
		if !slices.Equal(got.Papers, want) {
			t.Errorf("filter %q: the list has %d papers %v,\nwant %d %v", f.Text, len(got.Papers), ids(got.Papers), len(want), ids(want))
		}
	}
}

// TestOverlappingGCPausesRestoreTheSetting checks that the collector runs again,
// at its setting from before, once every pause of overlapping restores ended,
// whatever their order, and that resuming twice does not end another's pause.
// It is not parallel: it reads the process's setting.
func TestOverlappingGCPausesRestoreTheSetting(t *testing.T) {
	setting := func() int {
		p := debug.SetGCPercent(-1)
		debug.SetGCPercent(p)
		return p
	}
	before := debug.SetGCPercent(73)
	defer debug.SetGCPercent(before)

	first := pauseGC()
	second := pauseGC()
	if got := setting(); got != -1 {
		t.Fatalf("GC percent %d while paused; want -1 (off)", got)
	}
	first()
	first() // a second call of the same resume changes nothing
	if got := setting(); got != -1 {
		t.Errorf("GC percent %d after one of two pauses ended; want -1 (off)", got)
	}
	second()
	if got := setting(); got != 73 {
		t.Errorf("GC percent %d after both pauses ended; want 73, the setting before", got)
	}
}

// TestWrittenAndLoadedPapersAreKeptPacked: the model keeps its own copy of a
// paper a write or a load hands it, with every string in one allocation and
// lists of their exact length, and the same content.
func TestWrittenAndLoadedPapersAreKeptPacked(t *testing.T) {
	t.Parallel()
	at := time.Date(2024, 5, 6, 7, 8, 9, 10, time.UTC)
	given := func(id string) *repository.Paper {
		p := &repository.Paper{ID: id, ArxivVersion: 3, Title: strings.Clone("On packing " + id),
			Categories: []string{"cs.LG", "cs.DS"}, PrimaryCategory: "cs.LG", Keywords: []string{"memory"},
			PublishedTime: at, ArxivUpdateTime: at, SubmitTime: at, CreateTime: at, UpdateTime: at,
			Submitter: strings.Clone("Ada"), Organization: repository.Organization{ID: "org", DisplayName: "Org"},
			GithubRepo: "https://github.com/a/b", GithubStars: 7, ProjectPage: "https://p", PDFURL: "https://arxiv.org/pdf/" + id,
			DOI: "10.1/x", JournalRef: "J. 1", Comment: strings.Clone("9 pages"), BaseUpvotes: 2, Upvotes: 2, Version: 5, RequestID: "r-" + id}
		for i := range 5 { // grown by appends, as SetWritable does: capacity 8
			p.Authors = append(p.Authors, repository.Author{Name: fmt.Sprintf("Author %d", i), Affiliation: "U"})
		}
		return p
	}
	m := New()
	m.Replace([]*repository.Paper{given("2401.00001")}, 0)
	m.Put(given("2401.00002"))
	for _, id := range []string{"2401.00001", "2401.00002"} {
		want := given(id)
		got, ok := m.Get(id)
		if !ok {
			t.Fatalf("%s missing", id)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s kept as\n%+v\nwant\n%+v", id, got, want)
		}
		if cap(got.Authors) != len(got.Authors) {
			t.Errorf("%s: authors of capacity %d for %d", id, cap(got.Authors), len(got.Authors))
		}
		// appendPaper's order: the ID, then the title, then the first author's name.
		next := func(s string) unsafe.Pointer { return unsafe.Add(unsafe.Pointer(unsafe.StringData(s)), len(s)) }
		if unsafe.Pointer(unsafe.StringData(got.Title)) != next(got.ID) ||
			unsafe.Pointer(unsafe.StringData(got.Authors[0].Name)) != next(got.Title) {
			t.Errorf("%s: its strings are not in one allocation", id)
		}
	}
	// Loaded and created papers come from the model's slab; the new copy of a
	// changed paper does not (it would keep a block alive for one paper).
	inSlab := func(p *repository.Paper) bool {
		for i := range m.slab.papersBlock {
			if &m.slab.papersBlock[i] == p {
				return true
			}
		}
		return false
	}
	for _, id := range []string{"2401.00001", "2401.00002"} {
		if p, _ := m.Get(id); !inSlab(p) {
			t.Errorf("%s, loaded or created, is not from the slab", id)
		}
	}
	changed := given("2401.00002")
	changed.Version++
	m.Put(changed)
	if p, _ := m.Get("2401.00002"); p.Version != changed.Version || inSlab(p) {
		t.Errorf("the changed paper (version %d) is from the slab: %v", p.Version, inSlab(p))
	}
}
