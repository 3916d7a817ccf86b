package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	"github.com/papercatalog/papers/search"
)

// loadSampleIntoServer creates the 200 real arXiv records through the API.
func loadSampleIntoServer(t *testing.T, ts *testServer) []arxivRecord {
	t.Helper()
	recs := loadArxivSample(t)
	ctx := longCtx(t)
	for _, r := range recs {
		p := &catalogv1.Paper{Title: oneLine(r.Title), Abstract: oneLine(r.Abstract), Categories: strings.Fields(r.Categories)}
		for _, a := range r.AuthorsParsed {
			p.Authors = append(p.Authors, &catalogv1.Author{Name: strings.TrimSpace(a[1] + " " + a[0])})
		}
		published, err := time.Parse("Mon, 2 Jan 2006 15:04:05 MST", r.Versions[0].Created)
		if err != nil {
			t.Fatal(err)
		}
		p.PublishedTime = timestamppb.New(published)
		if _, err := ts.client.CreatePaper(admin(ctx), &catalogv1.CreatePaperRequest{PaperId: r.ID, Paper: p}); err != nil {
			t.Fatalf("create %s: %v", r.ID, err)
		}
	}
	return recs
}

func searchIDs(t *testing.T, ts *testServer, req *catalogv1.SearchPapersRequest) ([]string, *catalogv1.SearchPapersResponse) {
	t.Helper()
	var resp *catalogv1.SearchPapersResponse
	var err error
	// Writes reach the index within moments; wait for it.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err = ts.client.SearchPapers(testCtx(t), req)
		if err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("search %q: %v", req.GetQuery(), err)
	}
	var ids []string
	for _, r := range resp.GetResults() {
		ids = append(ids, r.GetPaper().GetArxivId())
	}
	return ids, resp
}

func eventuallyTop(t *testing.T, ts *testServer, query, want string) *catalogv1.SearchPapersResponse {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ids, resp := searchIDs(t, ts, &catalogv1.SearchPapersRequest{Query: query})
		// want may name several papers, a|b: any of them first, as when their
		// scores are too close to order reliably.
		if len(ids) > 0 && slices.Contains(strings.Split(want, "|"), ids[0]) {
			return resp
		}
		if time.Now().After(deadline) {
			t.Fatalf("search %q: top results %v, want %s first", query, ids, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSearchFindsRealPapers(t *testing.T) {
	t.Parallel()
	ts := startServer(t, testConfig(t))
	loadSampleIntoServer(t, ts)
	ctx := testCtx(t)
	added := []struct{ id, title, abstract, org string }{
		{"2401.10001", "Post-training quantization of large language models",
			"We study how quantization to four bits affects transformer language models and propose a calibration method.", "naver-ai"},
		{"2401.10002", "Quantized transformers for edge devices",
			"Low-bit quantization of transformer language models makes inference on phones practical; we compare calibration schemes.", "meta-ai"},
		{"2401.10003", "Diffusion models for image synthesis", "We train diffusion models that generate images.", ""},
	}
	for _, a := range added {
		p := &catalogv1.Paper{Title: a.title, Abstract: a.abstract, Categories: []string{"cs.LG"},
			Authors: []*catalogv1.Author{{Name: "Grace Hopper"}}, Keywords: []string{"efficiency"}}
		if a.org != "" {
			p.Organization = &catalogv1.Organization{Id: a.org}
		}
		if _, err := ts.client.CreatePaper(admin(ctx), &catalogv1.CreatePaperRequest{PaperId: a.id, Paper: p}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, query, top string
	}{
		{"a stemmed word finds its other forms", "quantized", "2401.10001|2401.10002"},
		{"a quoted phrase", `"prompt diphoton production"`, "0704.0001"},
		{"an author's name", "author:Nadolsky", "0704.0001"},
		{"a title prefix", "title:diphoton", "0704.0001"},
		{"an abstract prefix with a phrase", `abstract:"calibration method"`, "2401.10001"},
		{"every word must match", "quantization phones", "2401.10002"},
		{"stop words are ignored", "the quantization of the phones", "2401.10002"},
		{"an organization", "organization:meta-ai", "2401.10002"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eventuallyTop(t, ts, tt.query, tt.top)
		})
	}

	// "quantized" stems to the same word as "quantization": both added papers match.
	ids, resp := searchIDs(t, ts, &catalogv1.SearchPapersRequest{Query: "quantized"})
	if !slices.Contains(ids, "2401.10001") || !slices.Contains(ids, "2401.10002") || resp.GetTotalSize() < 2 {
		t.Errorf("quantized: %v", ids)
	}
	top := resp.GetResults()[0]
	if top.GetScore() <= 0 || len(top.GetTitleSnippets()) == 0 || !strings.Contains(top.GetTitleSnippets()[0], "<mark>") {
		t.Errorf("top result: score %v, title snippets %q", top.GetScore(), top.GetTitleSnippets())
	}

	// Every word is required: the paper about quantization without phones is left out.
	if ids, _ := searchIDs(t, ts, &catalogv1.SearchPapersRequest{Query: "quantization phones"}); fmt.Sprint(ids) != "[2401.10002]" {
		t.Errorf("quantization phones: %v", ids)
	}

	// Filters apply to matches, and facets count the whole result set.
	ids, _ = searchIDs(t, ts, &catalogv1.SearchPapersRequest{Query: "quantization", Filter: `organization = "meta-ai"`})
	if fmt.Sprint(ids) != "[2401.10002]" {
		t.Errorf("filtered search: %v", ids)
	}
	_, resp = searchIDs(t, ts, &catalogv1.SearchPapersRequest{Query: "energy", PageSize: 5})
	if len(resp.GetResults()) != 5 || resp.GetNextPageToken() == "" || len(resp.GetPrimaryCategoryFacets()) == 0 || len(resp.GetYearFacets()) == 0 {
		t.Errorf("broad search: %d results, token %q, facets %v %v", len(resp.GetResults()), resp.GetNextPageToken(),
			resp.GetPrimaryCategoryFacets(), resp.GetYearFacets())
	}
	checkFacets(t, ts, "energy")

	// Paging through a search repeats nothing.
	seen, token := map[string]bool{}, ""
	for {
		resp, err := ts.client.SearchPapers(ctx, &catalogv1.SearchPapersRequest{Query: "quark gluon", PageSize: 7, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range resp.GetResults() {
			if seen[r.GetPaper().GetName()] {
				t.Fatalf("repeat %s", r.GetPaper().GetName())
			}
			seen[r.GetPaper().GetName()] = true
		}
		if token = resp.GetNextPageToken(); token == "" {
			if len(seen) != int(resp.GetTotalSize()) {
				t.Errorf("paged %d results, total_size %d", len(seen), resp.GetTotalSize())
			}
			break
		}
	}

	// Updates and deletes reach the index.
	if _, err := ts.client.UpdatePaper(admin(ctx), &catalogv1.UpdatePaperRequest{
		Paper:      &catalogv1.Paper{Name: "papers/2401.10003", Title: "Zeppelin aerodynamics"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}},
	}); err != nil {
		t.Fatal(err)
	}
	eventuallyTop(t, ts, "zeppelin", "2401.10003")
	if _, err := ts.client.DeletePaper(admin(ctx), &catalogv1.DeletePaperRequest{Name: "papers/2401.10003"}); err != nil {
		t.Fatal(err)
	}
	if ids, _ := searchIDs(t, ts, &catalogv1.SearchPapersRequest{Query: "zeppelin"}); len(ids) != 0 {
		t.Errorf("a deleted paper is still found: %v", ids)
	}
	checkFacets(t, ts, "quantization")

	// Similar papers: the other quantization paper first, never the paper itself.
	sim, err := ts.client.ListSimilarPapers(ctx, &catalogv1.ListSimilarPapersRequest{Name: "papers/2401.10001"})
	if err != nil {
		t.Fatal(err)
	}
	if len(sim.GetPapers()) == 0 || sim.GetPapers()[0].GetPaper().GetArxivId() != "2401.10002" {
		t.Errorf("similar to 2401.10001: %v", sim.GetPapers())
	}
	for _, p := range sim.GetPapers() {
		if p.GetPaper().GetArxivId() == "2401.10001" {
			t.Error("a paper is similar to itself")
		}
	}
	r := ts.rest(t, "GET", "/v1/papers/0704.0001:similar?page_size=3", "", nil)
	if r.Status != 200 || len(r.Body["papers"].([]any)) != 3 {
		t.Errorf("REST similar: %d %s", r.Status, r.Raw)
	}
	r = ts.rest(t, "GET", "/v1/papers:search?query=diphoton&filter=categories:%22hep-ph%22", "", nil)
	if r.Status != 200 || len(r.Body["results"].([]any)) == 0 {
		t.Errorf("REST search: %d %s", r.Status, r.Raw)
	}
}

// checkFacets pages through every result of query and checks the response's facet
// counts against the papers themselves.
func checkFacets(t *testing.T, ts *testServer, query string) {
	t.Helper()
	want := map[string]map[string]int32{"org": {}, "cat": {}, "year": {}}
	var first *catalogv1.SearchPapersResponse
	n, token := 0, ""
	for {
		resp, err := ts.client.SearchPapers(testCtx(t), &catalogv1.SearchPapersRequest{Query: query, PageSize: 100, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = resp
		}
		for _, r := range resp.GetResults() {
			p := r.GetPaper()
			n++
			if o := p.GetOrganization().GetId(); o != "" {
				want["org"][o]++
			}
			if c := p.GetPrimaryCategory(); c != "" {
				want["cat"][c]++
			}
			year := p.GetPublishedTime()
			if year == nil {
				year = p.GetSubmitTime()
			}
			want["year"][fmt.Sprint(year.AsTime().Year())]++
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	if n == 0 || n != int(first.GetTotalSize()) {
		t.Errorf("%q: paged %d results, total_size %d", query, n, first.GetTotalSize())
	}
	got := map[string]map[string]int32{"org": {}, "cat": {}, "year": {}}
	for name, fs := range map[string][]*catalogv1.Facet{"org": first.GetOrganizationFacets(),
		"cat": first.GetPrimaryCategoryFacets(), "year": first.GetYearFacets()} {
		for _, f := range fs {
			got[name][f.GetValue()] = f.GetCount()
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%q: facets %v, counted from the results %v", query, got, want)
	}
}

func TestSearchRejectsBadQueries(t *testing.T) {
	t.Parallel()
	ts := startServer(t, testConfig(t))
	ctx := testCtx(t)
	// Regular expressions the index cannot compile and fuzziness over 2 are
	// refused before searching (bleve refuses them only while searching).
	for _, q := range []string{"", "   ", `"unclosed phrase`, "colour:red", strings.Repeat("a ", 300),
		`title:/[/`, `/(/`, `title:/a{2000}/`, `abstract:/\p{Foo}/`, "graph~3", "title:graph~5"} {
		_, err := ts.client.SearchPapers(ctx, &catalogv1.SearchPapersRequest{Query: q})
		st := wantCode(t, err, codes.InvalidArgument)
		if f := violationFields(st); len(f) != 1 || f[0] != "query" {
			t.Errorf("query %q: violations %v (%s)", q, f, st.Message())
		}
	}
	for _, q := range []string{"graph~2", `title:/diff.*/`, "diff*sion", "g?aph"} {
		if _, err := ts.client.SearchPapers(ctx, &catalogv1.SearchPapersRequest{Query: q}); err != nil {
			t.Errorf("query %q: %v", q, err)
		}
	}
	_, err := ts.client.ListSimilarPapers(ctx, &catalogv1.ListSimilarPapersRequest{Name: "papers/2401.99999"})
	wantCode(t, err, codes.NotFound)
}

// variedRecords returns n papers whose words are random strings: a vocabulary
// of tens of thousands of words, as real abstracts have.
func variedRecords(n int) []*catalogv1.ImportRecord {
	r := rand.New(rand.NewPCG(5, 6)) //nolint:gosec // test data
	text := func(words int) string {
		var b strings.Builder
		for range words {
			for range 4 + r.IntN(7) {
				b.WriteByte(byte('a' + r.IntN(26)))
			}
			b.WriteByte(' ')
		}
		return strings.TrimSpace(b.String())
	}
	var recs []*catalogv1.ImportRecord
	for i := range n {
		recs = append(recs, &catalogv1.ImportRecord{PaperId: paperID(i),
			Paper: &catalogv1.Paper{Title: text(8), Abstract: text(60), Categories: []string{"cs.LG"}}})
	}
	return recs
}

// TestAdversarialSearchesGetBoundedAnswers sends the searches that made
// paperd take 46 s for one query and run out of memory (many regular
// expressions, many fuzzy terms, long prefix lists, patterns matching most
// words) to a catalog with a varied vocabulary: each gets a 400 that names the
// limit it passes, or an answer.
func TestAdversarialSearchesGetBoundedAnswers(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	// Searches wait for their turn however long it takes (the budget is not
	// what this test is about): a slow machine must not turn a 400 into a 429.
	cfg.SearchLimits = search.Limits{Wait: time.Minute}
	ts := startServer(t, cfg)
	const papers = 300
	importRecords(t, ts, variedRecords(papers))
	eventually30(t, "the index holds every paper", func() bool { return ts.searchTotal(t, "*") == papers })
	var regexps, fuzzy, prefixes []string
	for c := 'a'; c <= 'z'; c++ {
		regexps = append(regexps, fmt.Sprintf("/.*%c.*/", c))
		fuzzy = append(fuzzy, fmt.Sprintf("%c%c%c~2", c, c, c))
		prefixes = append(prefixes, fmt.Sprintf("%c*", c))
	}
	for _, tt := range []struct{ name, query, refused string }{
		{"twenty regular expressions", strings.Join(regexps[:20], " "), "at most 4 are allowed"},
		{"twenty-six fuzzy terms", strings.Join(fuzzy, " "), "at most 4 are allowed"},
		{"a long prefix list", strings.Join(prefixes, " "), "at most 4 are allowed"},
		{"a regular expression matching most words", "/.*a.*/", "more than 1000 words"},
		{"four prefixes matching thousands of words", "a* e* i* o*", "more than 1000 words"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ts.client.SearchPapers(testCtx(t), &catalogv1.SearchPapersRequest{Query: tt.query})
			st := wantCode(t, err, codes.InvalidArgument)
			if !strings.Contains(st.Message(), tt.refused) || !slices.Contains(violationFields(st), "query") {
				t.Errorf("got %q (fields %v), want the query refused with %q", st.Message(), violationFields(st), tt.refused)
			}
			// The same with a filter, which searches differently.
			_, err = ts.client.SearchPapers(testCtx(t), &catalogv1.SearchPapersRequest{Query: tt.query, Filter: `categories:"cs.LG"`})
			wantCode(t, err, codes.InvalidArgument)
		})
	}
	r := ts.rest(t, "GET", "/v1/papers:search?query=%2F.*a.*%2F", "", nil)
	if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Raw), "more than 1000 words") {
		t.Errorf("REST: %d %.200s, want 400 naming the limit", r.Status, r.Raw)
	}
	// The search page says so too, and not that no paper matches.
	if r := ts.rest(t, "GET", "/search?q=%2F.*a.*%2F", "", nil); r.Status != http.StatusBadRequest || !strings.Contains(string(r.Raw), "more than 1000 words") ||
		strings.Contains(string(r.Raw), "No papers match") {
		t.Errorf("search page: %d %.300s, want 400 naming the limit", r.Status, r.Raw)
	}
}

func (ts *testServer) searchTotal(t *testing.T, query string) int32 {
	t.Helper()
	resp, err := ts.client.SearchPapers(testCtx(t), &catalogv1.SearchPapersRequest{Query: query})
	if err != nil {
		return -1
	}
	return resp.GetTotalSize()
}

// TestExpensiveSearchesShareABudget checks that while the budget of expensive
// searches is taken, another expensive search is refused with
// RESOURCE_EXHAUSTED (429) and a time to retry, and every other call is
// answered.
func TestExpensiveSearchesShareABudget(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.SearchLimits = search.Limits{Concurrent: 1, Wait: 50 * time.Millisecond}
	ts := startServer(t, cfg)
	create(t, ts, 1)
	eventually(t, "the paper is indexed", func() bool { return ts.searchTotal(t, "transform*") == 1 })

	release, err := ts.HoldSearchTurn(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	var header metadata.MD
	_, err = ts.client.SearchPapers(testCtx(t), &catalogv1.SearchPapersRequest{Query: "diffus*"}, grpc.Header(&header))
	wantCode(t, err, codes.ResourceExhausted)
	if len(header.Get("retry-after")) == 0 {
		t.Errorf("no retry-after header: %v", header)
	}
	if r := ts.rest(t, "GET", "/v1/papers:search?query=diffus*", "", nil); r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Errorf("REST: %d (Retry-After %q), want 429 with Retry-After", r.Status, r.Header.Get("Retry-After"))
	}
	if n := ts.searchTotal(t, "diffusion"); n != 1 {
		t.Errorf("a plain search found %d papers, want 1", n)
	}
	if _, err := ts.client.GetPaper(testCtx(t), &catalogv1.GetPaperRequest{Name: "papers/" + paperID(1)}); err != nil {
		t.Errorf("get: %v", err)
	}
	release()
	// The turn comes back after as long again as it was held.
	eventually30(t, "the expensive search runs once the turn is back", func() bool { return ts.searchTotal(t, "diffus*") == 1 })
}

// TestSearchIndexLeftUnusableIsRebuiltAtStart checks what a user who upgrades
// paperd, or whose index was damaged, sees: the start removes an index it
// cannot use, says so in the log, and indexes every paper again, so searches
// answer as before, snippets included.
func TestSearchIndexLeftUnusableIsRebuiltAtStart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		spoil  func(t *testing.T, dir string)
		reason string
	}{
		{"an index of an older mapping", func(t *testing.T, dir string) {
			idx, err := bleve.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			// The search package's mark of the mapping an index was made with.
			if err := idx.SetInternal([]byte("papers.mapping_version"), []byte("2")); err != nil {
				t.Fatal(err)
			}
			if err := idx.Close(); err != nil {
				t.Fatal(err)
			}
		}, `mapping version \"2\"`},
		{"a damaged index", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "index_meta.json"), []byte("{"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "cannot be opened"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t)
			ts := startServer(t, cfg)
			recs := loadSampleIntoServer(t, ts)
			queries := []string{"diphoton", "quantum field theory", `"dark matter"`, "title:graph*", "galax~1"}
			// Each query's papers with their snippets, by id: the order and the
			// scores may change, as a rebuilt index has no deleted documents
			// left to count in its statistics.
			search := func(ts *testServer) []string {
				var out []string
				for _, q := range queries {
					_, resp := searchIDs(t, ts, &catalogv1.SearchPapersRequest{Query: q, PageSize: 50})
					for _, r := range resp.GetResults() {
						out = append(out, fmt.Sprintf("%s %s %q %q", q, r.GetPaper().GetArxivId(),
							r.GetTitleSnippets(), r.GetAbstractSnippets()))
					}
				}
				slices.Sort(out)
				return out
			}
			// The index takes writes within moments: wait for every paper.
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				_, resp := searchIDs(t, ts, &catalogv1.SearchPapersRequest{Query: "*"})
				if int(resp.GetTotalSize()) == len(recs) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d papers indexed, want %d", resp.GetTotalSize(), len(recs))
				}
			}
			before := search(ts)
			if len(before) < 10 || !strings.Contains(strings.Join(before, "\n"), "<mark>") {
				t.Fatalf("before: too few results, or no snippets: %q", before)
			}
			stop, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := ts.Shutdown(stop); err != nil {
				t.Fatal(err)
			}
			tt.spoil(t, filepath.Join(cfg.DataDir, "search"))
			logs := &logBuffer{}
			ts = startLogging(t, cfg, slog.New(slog.NewTextHandler(io.MultiWriter(logs, testWriter{t}), &slog.HandlerOptions{Level: slog.LevelWarn})))
			if !strings.Contains(logs.String(), "search index removed; every paper is indexed again") || !strings.Contains(logs.String(), tt.reason) {
				t.Errorf("no log line of the rebuild, with %s:\n%s", tt.reason, logs.String())
			}
			if after := search(ts); !slices.Equal(after, before) {
				t.Errorf("after the rebuild:\n%s\nbefore:\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
			}
		})
	}
}
