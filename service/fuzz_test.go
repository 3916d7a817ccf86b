package service

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	"github.com/papercatalog/papers/listing"
	"github.com/papercatalog/papers/readmodel"
	"github.com/papercatalog/papers/repository"
	"github.com/papercatalog/papers/search"
)

// fuzzRef is the day the daily-papers seeds ask for.
var fuzzRef = time.Date(2024, 3, 5, 0, 0, 0, 0, time.UTC)

// fuzzCatalog returns a Catalog that serves reads from a read model and a search
// index of a few dozen papers, submitted on the days around fuzzRef and in the
// last days before now (for trending), with nothing behind it that needs a
// database: the calls fuzzed below do not use one.
func fuzzCatalog(f *testing.F) *Catalog {
	f.Helper()
	now := time.Now().UTC()
	var papers []*repository.Paper
	for i := range 40 {
		submit := fuzzRef.Add(time.Duration(i-10) * 5 * time.Hour)
		if i%2 == 1 {
			submit = now.Add(-time.Duration(i) * 3 * time.Hour)
		}
		id := fmt.Sprintf("2403.%05d", i)
		if i%5 == 0 {
			id = fmt.Sprintf("hep-th/99%05d", i)
		}
		papers = append(papers, &repository.Paper{
			ID: id, ArxivVersion: int32(i%3 + 1), Title: fmt.Sprintf("Graph diffusion %d for <b>learning</b>", i),
			Abstract:   "We study graph diffusion models and transformers.\nA second paragraph about quantization.",
			Authors:    []repository.Author{{Name: "Ada Lovelace"}, {Name: fmt.Sprintf("Author %d", i%4)}},
			Categories: []string{[]string{"cs.LG", "cs.CV", "hep-th"}[i%3], "stat.ML"}, PrimaryCategory: []string{"cs.LG", "cs.CV", "hep-th"}[i%3],
			Keywords:      []string{"diffusion"},
			Organization:  repository.Organization{ID: []string{"naver-ai", "", "meta-ai"}[i%3]},
			SubmitTime:    submit,
			PublishedTime: submit.Add(-24 * time.Hour),
			Upvotes:       int64(i * 7 % 23), BaseUpvotes: int64(i * 7 % 23),
			GithubRepo: "https://github.com/example/repo", Version: int64(i + 1),
			CreateTime: submit, UpdateTime: submit,
		})
	}
	m := readmodel.New()
	m.Replace(papers, 0)
	ix, err := search.Open(filepath.Join(f.TempDir(), "search"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = ix.Close() })
	ix.SetPapers(search.ModelPapers(m))
	log := slog.New(slog.DiscardHandler)
	indexer := &search.Indexer{Index: ix, Model: m, Log: log}
	if err := indexer.Reconcile(context.Background()); err != nil {
		f.Fatal(err)
	}
	return &Catalog{Model: m, Tokens: listing.NewTokens([]byte("fuzz page token key")), Log: log, Search: ix, Indexer: indexer}
}

// FuzzCatalogReads sends the read calls that need no database (ListPapers,
// ListDailyPapers, ListTrendingPapers, GetPaper, BatchGetPapers, SearchPapers,
// ListSimilarPapers) arbitrary filters, orders, page tokens, page sizes, views,
// periods, time zones, names and search queries. No input may make a call fail
// with INTERNAL or UNKNOWN, every answer and error must be encodable, and the
// next_page_token of an answer must be accepted for the next page.
func FuzzCatalogReads(f *testing.F) {
	s := fuzzCatalog(f)
	f.Add(`categories:"cs.LG"`, "upvotes desc, submit_time desc", "", int32(2), int32(0),
		"2024-03-05", "", "", "", "papers/2403.00001", "graph diffusion", int64(0))
	f.Add("", "", "", int32(0), int32(1), "", "2024-W10", "", "Europe/Paris", "papers/hep-th-9900000", `title:graph -quantization`, int64(3600))
	f.Add(`upvotes > 3 AND submit_time > "2024-03-01T00:00:00Z"`, "trending", "", int32(3), int32(2),
		"", "", "2024-03", "America/New_York", "papers/hep-th/9900000", `"graph diffusion" +author:ada`, int64(-1))
	f.Add("organization = \"naver-ai\"", "title", "not a token", int32(-1), int32(7),
		"2024-02-30", "2020-W53", "1989-12", "Local", "papers/2403.00001v2", `"unclosed`, int64(1<<62))
	f.Add(`authors:"Ada"`, "submit_time desc", "e30", int32(1001), int32(0),
		"2200-12-31", "2026-W99", "", "Asia/Kathmandu", "", `organization:naver-ai keyword:diffusion`, int64(0))
	f.Add("(", "colour", "\xff", int32(1<<31-1), int32(-1), "\xff", "\xff", "\xff", "\xff", "\xff", "\xff", int64(1))
	// Queries bleve used to refuse only while searching (INTERNAL then).
	for _, q := range []string{`title:/[/`, `/(/`, `title:/a{2000}/`, `abstract:/\p{Foo}/`, "graph~3", "title:graph~5", `/a\b/`} {
		f.Add("", "", "", int32(0), int32(0), "", "", "", "", "", q, int64(0))
	}
	f.Fuzz(func(t *testing.T, filter, orderBy, token string, pageSize, view int32,
		date, week, month, timeZone, name, q string, windowSeconds int64) {
		ctx := context.Background()
		v := catalogv1.PaperView(view)
		var window *durationpb.Duration
		if windowSeconds != 0 {
			window = &durationpb.Duration{Seconds: windowSeconds, Nanos: int32(windowSeconds % 1e9)}
		}

		list := &catalogv1.ListPapersRequest{Filter: filter, OrderBy: orderBy, PageToken: token, PageSize: pageSize, View: v}
		lr, err := s.ListPapers(ctx, list)
		checkCall(t, "ListPapers", lr, err)
		if next := lr.GetNextPageToken(); next != "" {
			list.PageToken = next
			lr, err = s.ListPapers(ctx, list)
			checkNext(t, "ListPapers", lr, err)
		}

		daily := &catalogv1.ListDailyPapersRequest{Date: date, Week: week, Month: month, TimeZone: timeZone,
			Filter: filter, OrderBy: orderBy, PageToken: token, PageSize: pageSize, View: v}
		dr, err := s.ListDailyPapers(ctx, daily)
		checkCall(t, "ListDailyPapers", dr, err)
		if next := dr.GetNextPageToken(); next != "" {
			daily.PageToken = next
			dr, err = s.ListDailyPapers(ctx, daily)
			checkNext(t, "ListDailyPapers", dr, err)
		}

		trending := &catalogv1.ListTrendingPapersRequest{Filter: filter, PageToken: token, PageSize: pageSize, View: v, Window: window}
		tr, err := s.ListTrendingPapers(ctx, trending)
		checkCall(t, "ListTrendingPapers", tr, err)
		if next := tr.GetNextPageToken(); next != "" {
			trending.PageToken = next
			tr, err = s.ListTrendingPapers(ctx, trending)
			checkNext(t, "ListTrendingPapers", tr, err)
		}

		gr, err := s.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: name, View: v})
		checkCall(t, "GetPaper", gr, err)
		br, err := s.BatchGetPapers(ctx, &catalogv1.BatchGetPapersRequest{Names: []string{name, "papers/2403.00001", name}, View: v})
		checkCall(t, "BatchGetPapers", br, err)

		sr, err := s.SearchPapers(ctx, &catalogv1.SearchPapersRequest{Query: q, Filter: filter, PageToken: token, PageSize: pageSize, View: v})
		checkCall(t, "SearchPapers", sr, err)
		if next := sr.GetNextPageToken(); next != "" {
			sr, err = s.SearchPapers(ctx, &catalogv1.SearchPapersRequest{Query: q, Filter: filter, PageToken: next, PageSize: pageSize, View: v})
			checkNext(t, "SearchPapers", sr, err)
		}
		simr, err := s.ListSimilarPapers(ctx, &catalogv1.ListSimilarPapersRequest{Name: name, PageSize: pageSize, View: v})
		checkCall(t, "ListSimilarPapers", simr, err)
	})
}

// checkCall fails on an INTERNAL or UNKNOWN error, and on an answer or error that
// cannot be encoded for the caller, in protobuf or (for the REST gateway) JSON.
func checkCall(t *testing.T, method string, resp proto.Message, err error) {
	t.Helper()
	if err == nil {
		if _, merr := proto.Marshal(resp); merr != nil {
			t.Fatalf("%s: the answer cannot be encoded: %v", method, merr)
		}
		if _, merr := protojson.Marshal(resp); merr != nil {
			t.Fatalf("%s: the answer cannot be encoded as JSON (for the REST gateway): %v", method, merr)
		}
		return
	}
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("%s: %v is not a status", method, err)
	}
	if c := st.Code(); c == codes.Internal || c == codes.Unknown || c == codes.OK {
		t.Fatalf("%s: %v: %v", method, c, err)
	}
	if _, merr := protojson.Marshal(st.Proto()); merr != nil {
		t.Fatalf("%s: the error %q cannot be encoded: %v", method, strings.ToValidUTF8(st.Message(), "?"), merr)
	}
}

// checkNext fails unless the page after a next_page_token is served.
func checkNext(t *testing.T, method string, resp proto.Message, err error) {
	t.Helper()
	checkCall(t, method, resp, err)
	if err != nil {
		t.Fatalf("%s: the next page is refused: %v", method, err)
	}
}
