package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
)

func create(t *testing.T, ts *testServer, i int) *catalogv1.Paper {
	t.Helper()
	p, err := ts.client.CreatePaper(admin(testCtx(t)), &catalogv1.CreatePaperRequest{PaperId: paperID(i), Paper: newPaper(i)})
	if err != nil {
		t.Fatalf("create %d: %v", i, err)
	}
	return p
}

func wantCode(t *testing.T, err error, want codes.Code) *status.Status {
	t.Helper()
	st, _ := status.FromError(err)
	if st.Code() != want {
		t.Fatalf("got %v (%q), want %v", st.Code(), st.Message(), want)
	}
	return st
}

func violationFields(st *status.Status) []string {
	var fields []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				fields = append(fields, v.GetField())
			}
		}
	}
	return fields
}

func TestCreateGetUpdateDeleteOverGRPC(t *testing.T) {
	t.Parallel()
	ts := startServer(t, testConfig(t))
	ctx := testCtx(t)

	in := newPaper(1)
	in.Abstract = "We release code at https://github.com/naver-ai/vidt."
	in.Organization = &catalogv1.Organization{Id: "naver-ai", DisplayName: "NAVER AI Lab"}
	submit := timestamppb.New(time.Date(2024, 3, 5, 10, 0, 0, 0, time.UTC))
	in.SubmitTime = submit
	created, err := ts.client.CreatePaper(admin(ctx), &catalogv1.CreatePaperRequest{PaperId: "2111.13056", Paper: in})
	if err != nil {
		t.Fatal(err)
	}
	if created.GetName() != "papers/2111.13056" || created.GetArxivId() != "2111.13056" {
		t.Errorf("name %q arxiv_id %q", created.GetName(), created.GetArxivId())
	}
	if created.GetGithubRepo() != "https://github.com/naver-ai/vidt" {
		t.Errorf("github_repo = %q, want it taken from the abstract without the trailing dot", created.GetGithubRepo())
	}
	if created.GetPrimaryCategory() != "cs.LG" {
		t.Errorf("primary_category = %q, want the first category", created.GetPrimaryCategory())
	}
	if !created.GetSubmitTime().AsTime().Equal(submit.AsTime()) {
		t.Errorf("submit_time = %v, want %v", created.GetSubmitTime().AsTime(), submit.AsTime())
	}
	if created.GetEtag() == "" || created.GetCreateTime() == nil {
		t.Errorf("etag %q create_time %v", created.GetEtag(), created.GetCreateTime())
	}

	got, err := ts.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: "papers/2111.13056"})
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got, created) {
		t.Errorf("get = %v, want %v", got, created)
	}

	_, err = ts.client.CreatePaper(admin(ctx), &catalogv1.CreatePaperRequest{PaperId: "2111.13056", Paper: newPaper(2)})
	wantCode(t, err, codes.AlreadyExists)

	upd, err := ts.client.UpdatePaper(admin(ctx), &catalogv1.UpdatePaperRequest{
		Paper:      &catalogv1.Paper{Name: "papers/2111.13056", Title: "A new title", Etag: created.GetEtag()},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if upd.GetTitle() != "A new title" || upd.GetAbstract() != in.GetAbstract() || upd.GetEtag() == created.GetEtag() {
		t.Errorf("update: title %q abstract %q etag %q (was %q)", upd.GetTitle(), upd.GetAbstract(), upd.GetEtag(), created.GetEtag())
	}
	_, err = ts.client.UpdatePaper(admin(ctx), &catalogv1.UpdatePaperRequest{
		Paper:      &catalogv1.Paper{Name: "papers/2111.13056", Title: "Lost update", Etag: created.GetEtag()},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}},
	})
	wantCode(t, err, codes.Aborted)

	_, err = ts.client.DeletePaper(admin(ctx), &catalogv1.DeletePaperRequest{Name: "papers/2111.13056", Etag: created.GetEtag()})
	wantCode(t, err, codes.Aborted)
	if _, err := ts.client.DeletePaper(admin(ctx), &catalogv1.DeletePaperRequest{Name: "papers/2111.13056", Etag: upd.GetEtag()}); err != nil {
		t.Fatal(err)
	}
	_, err = ts.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: "papers/2111.13056"})
	wantCode(t, err, codes.NotFound)
	_, err = ts.client.DeletePaper(admin(ctx), &catalogv1.DeletePaperRequest{Name: "papers/2111.13056"})
	wantCode(t, err, codes.NotFound)

	// The id is free again.
	if _, err := ts.client.CreatePaper(admin(ctx), &catalogv1.CreatePaperRequest{PaperId: "2111.13056", Paper: newPaper(3)}); err != nil {
		t.Fatalf("re-create after delete: %v", err)
	}
}

func TestOldStyleIdentifiers(t *testing.T) {
	t.Parallel()
	ts := startServer(t, testConfig(t))
	ctx := testCtx(t)
	for _, id := range []string{"hep-th/9901001", "math.GT-0309136"} {
		p, err := ts.client.CreatePaper(admin(ctx), &catalogv1.CreatePaperRequest{PaperId: id, Paper: newPaper(1)})
		if err != nil {
			t.Fatalf("create %s: %v", id, err)
		}
		wantArxiv := strings.Replace(id, "-0309136", "/0309136", 1)
		if p.GetArxivId() != wantArxiv || strings.Count(p.GetName(), "/") != 1 {
			t.Errorf("create %s: name %q arxiv_id %q", id, p.GetName(), p.GetArxivId())
		}
		got, err := ts.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: p.GetName()})
		if err != nil || got.GetArxivId() != wantArxiv {
			t.Errorf("get %s: %v %v", p.GetName(), got.GetArxivId(), err)
		}
		r := ts.rest(t, "GET", "/v1/"+p.GetName(), "", nil)
		if r.Status != 200 || r.Body["arxiv_id"] != wantArxiv {
			t.Errorf("REST get %s: %d %s", p.GetName(), r.Status, r.Raw)
		}
	}
	if _, err := ts.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: "papers/hep-th-9901001"}); err != nil {
		t.Errorf("papers/hep-th-9901001: %v", err)
	}
}

func TestCreateIsIdempotentWithRequestID(t *testing.T) {
	t.Parallel()
	ts := startServer(t, testConfig(t))
	ctx := testCtx(t)
	req := &catalogv1.CreatePaperRequest{PaperId: paperID(7), Paper: newPaper(7), RequestId: "c0ffee"}
	first, err := ts.client.CreatePaper(admin(ctx), req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := ts.client.CreatePaper(admin(ctx), req)
	if err != nil {
		t.Fatalf("retry with the same request_id: %v", err)
	}
	if !proto.Equal(first, again) {
		t.Errorf("retry returned %v, want the first result %v", again, first)
	}
	other := proto.CloneOf(req)
	other.RequestId = "another"
	_, err = ts.client.CreatePaper(admin(ctx), other)
	wantCode(t, err, codes.AlreadyExists)
}

func TestBatchGetIsAllOrNothingInRequestOrder(t *testing.T) {
	t.Parallel()
	ts := startServer(t, testConfig(t))
	ctx := testCtx(t)
	for i := 1; i <= 3; i++ {
		create(t, ts, i)
	}
	names := []string{"papers/" + paperID(3), "papers/" + paperID(1), "papers/" + paperID(2)}
	resp, err := ts.client.BatchGetPapers(ctx, &catalogv1.BatchGetPapersRequest{Names: names})
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range resp.GetPapers() {
		if p.GetName() != names[i] {
			t.Errorf("paper %d is %s, want %s", i, p.GetName(), names[i])
		}
	}
	st := wantCode(t, errOf(ts.client.BatchGetPapers(ctx, &catalogv1.BatchGetPapersRequest{Names: append(names, "papers/2401.99999")})), codes.NotFound)
	if !strings.Contains(st.Message(), "2401.99999") {
		t.Errorf("message %q does not name the missing paper", st.Message())
	}
	tooMany := make([]string, 1001)
	for i := range tooMany {
		tooMany[i] = "papers/" + paperID(1)
	}
	wantCode(t, errOf(ts.client.BatchGetPapers(ctx, &catalogv1.BatchGetPapersRequest{Names: tooMany})), codes.InvalidArgument)
	wantCode(t, errOf(ts.client.BatchGetPapers(ctx, &catalogv1.BatchGetPapersRequest{})), codes.InvalidArgument)

	r := ts.rest(t, "GET", "/v1/papers:batchGet?names=papers/"+paperID(2)+"&names=papers/"+paperID(1), "", nil)
	if r.Status != 200 || len(r.Body["papers"].([]any)) != 2 {
		t.Fatalf("REST batchGet: %d %s", r.Status, r.Raw)
	}
	if first := r.Body["papers"].([]any)[0].(map[string]any)["name"]; first != "papers/"+paperID(2) {
		t.Errorf("REST batchGet first = %v", first)
	}
}

func errOf[T any](_ T, err error) error { return err }

func TestListPagesWithoutRepeatOrGap(t *testing.T) {
	t.Parallel()
	ts := startServer(t, testConfig(t))
	ctx := testCtx(t)
	for i := 1; i <= 120; i++ {
		create(t, ts, i)
	}
	seen := map[string]bool{}
	token, pages := "", 0
	for {
		resp, err := ts.client.ListPapers(ctx, &catalogv1.ListPapersRequest{PageSize: 50, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if resp.GetTotalSize() != int32(120+pages-1) {
			t.Errorf("page %d: total_size %d, want %d", pages, resp.GetTotalSize(), 120+pages-1)
		}
		for _, p := range resp.GetPapers() {
			if seen[p.GetName()] {
				t.Errorf("page %d repeats %s", pages, p.GetName())
			}
			seen[p.GetName()] = true
		}
		// A paper added while paging must not disturb the papers that existed.
		create(t, ts, 1000+pages)
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	if pages != 3 {
		t.Errorf("got %d pages, want 3", pages)
	}
	for i := 1; i <= 120; i++ {
		if !seen["papers/"+paperID(i)] {
			t.Errorf("paper %d was skipped", i)
		}
	}
}

func TestListOverREST(t *testing.T) {
	t.Parallel()
	ts := startServer(t, testConfig(t))
	for i := 1; i <= 120; i++ {
		create(t, ts, i)
	}
	seen := map[string]bool{}
	token, pages := "", 0
	for {
		r := ts.rest(t, "GET", "/v1/papers?page_size=50&order_by=submit_time%20desc&page_token="+token, "", nil)
		if r.Status != 200 {
			t.Fatalf("%d %s", r.Status, r.Raw)
		}
		pages++
		for _, p := range r.Body["papers"].([]any) {
			name := p.(map[string]any)["name"].(string)
			if seen[name] {
				t.Errorf("repeat %s", name)
			}
			seen[name] = true
		}
		token, _ = r.Body["next_page_token"].(string)
		if token == "" {
			break
		}
	}
	if pages != 3 || len(seen) != 120 {
		t.Errorf("%d pages, %d papers; want 3 and 120", pages, len(seen))
	}
}

func TestListFilterAndOrder(t *testing.T) {
	t.Parallel()
	ts := startServer(t, testConfig(t))
	ctx := testCtx(t)
	base := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	papers := []struct {
		id, org, cat, author, repo string
		day                        int
	}{
		{"2405.00001", "naver-ai", "cs.CV", "Ada Lovelace", "https://github.com/a/b", 1},
		{"2405.00002", "naver-ai", "cs.LG", "Alan Turing", "", 2},
		{"2405.00003", "meta-ai", "cs.CL", "Grace Hopper", "https://github.com/c/d", 3},
		{"2405.00004", "", "cs.LG", "Ada Lovelace", "", 4},
	}
	for _, p := range papers {
		in := &catalogv1.Paper{
			Title: "T " + p.id, Categories: []string{p.cat, "stat.ML"}, Authors: []*catalogv1.Author{{Name: p.author}},
			SubmitTime: timestamppb.New(base.AddDate(0, 0, p.day)), GithubRepo: p.repo,
		}
		if p.org != "" {
			in.Organization = &catalogv1.Organization{Id: p.org}
		}
		if _, err := ts.client.CreatePaper(admin(ctx), &catalogv1.CreatePaperRequest{PaperId: p.id, Paper: in}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, filter, order string
		want                []string
	}{
		{"default order is newest submission first", "", "", []string{"2405.00004", "2405.00003", "2405.00002", "2405.00001"}},
		{"ascending submit time", "", "submit_time", []string{"2405.00001", "2405.00002", "2405.00003", "2405.00004"}},
		{"organization by id", `organization = "naver-ai"`, "submit_time", []string{"2405.00001", "2405.00002"}},
		{"has on categories", `categories:"cs.LG"`, "submit_time", []string{"2405.00002", "2405.00004"}},
		{"primary category", `primary_category = "cs.CL"`, "", []string{"2405.00003"}},
		{"has on authors matches part of a name", `authors:"lovelace"`, "submit_time", []string{"2405.00001", "2405.00004"}},
		{"time comparison", `submit_time >= "2024-05-04T00:00:00Z"`, "submit_time", []string{"2405.00003", "2405.00004"}},
		{"OR and NOT", `organization = "meta-ai" OR NOT categories:"cs.LG"`, "submit_time", []string{"2405.00001", "2405.00003"}},
		{"AND with github presence", `github_repo:* AND organization = "naver-ai"`, "", []string{"2405.00001"}},
		{"empty github_repo", `github_repo = ""`, "submit_time", []string{"2405.00002", "2405.00004"}},
		{"upvotes comparison", `upvotes >= 0 AND upvotes < 1`, "upvotes desc, submit_time desc", []string{"2405.00004", "2405.00003", "2405.00002", "2405.00001"}},
		{"order by name", "", "name desc", []string{"2405.00004", "2405.00003", "2405.00002", "2405.00001"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := ts.client.ListPapers(ctx, &catalogv1.ListPapersRequest{Filter: tt.filter, OrderBy: tt.order})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range resp.GetPapers() {
				got = append(got, p.GetArxivId())
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			if int(resp.GetTotalSize()) != len(tt.want) {
				t.Errorf("total_size %d, want %d", resp.GetTotalSize(), len(tt.want))
			}
		})
	}
}

func TestListRejectsBadInput(t *testing.T) {
	t.Parallel()
	ts := startServer(t, testConfig(t))
	ctx := testCtx(t)
	for i := 1; i <= 3; i++ {
		create(t, ts, i)
	}
	first, err := ts.client.ListPapers(ctx, &catalogv1.ListPapersRequest{PageSize: 1, Filter: `categories:"cs.LG"`})
	if err != nil || first.GetNextPageToken() == "" {
		t.Fatalf("first page: %v %v", first, err)
	}
	tok := first.GetNextPageToken()
	tests := []struct {
		name  string
		req   *catalogv1.ListPapersRequest
		field string
	}{
		{"negative page size", &catalogv1.ListPapersRequest{PageSize: -1}, "page_size"},
		{"unknown filter field", &catalogv1.ListPapersRequest{Filter: `colour = "red"`}, "filter"},
		{"filter syntax error", &catalogv1.ListPapersRequest{Filter: `upvotes >`}, "filter"},
		{"filter type mismatch", &catalogv1.ListPapersRequest{Filter: `upvotes = "many"`}, "filter"},
		{"bad time in filter", &catalogv1.ListPapersRequest{Filter: `submit_time > "yesterday"`}, "filter"},
		{"unknown order field", &catalogv1.ListPapersRequest{OrderBy: "colour desc"}, "order_by"},
		{"order syntax error", &catalogv1.ListPapersRequest{OrderBy: "upvotes sideways"}, "order_by"},
		{"token from another filter", &catalogv1.ListPapersRequest{PageSize: 1, PageToken: tok}, "page_token"},
		{"token from another order", &catalogv1.ListPapersRequest{PageSize: 1, Filter: `categories:"cs.LG"`, OrderBy: "upvotes", PageToken: tok}, "page_token"},
		{"forged token", &catalogv1.ListPapersRequest{PageSize: 1, Filter: `categories:"cs.LG"`, PageToken: tok[:len(tok)-2] + "AA"}, "page_token"},
		{"garbage token", &catalogv1.ListPapersRequest{PageToken: "not a token"}, "page_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ts.client.ListPapers(ctx, tt.req)
			st := wantCode(t, err, codes.InvalidArgument)
			if f := violationFields(st); len(f) != 1 || f[0] != tt.field {
				t.Errorf("violations %v, want one on %s (message %q)", f, tt.field, st.Message())
			}
		})
	}
	// The token works with its own query, and a huge page size is capped.
	if _, err := ts.client.ListPapers(ctx, &catalogv1.ListPapersRequest{PageSize: 1, Filter: `categories:"cs.LG"`, PageToken: tok}); err != nil {
		t.Errorf("token with its own query: %v", err)
	}
	resp, err := ts.client.ListPapers(ctx, &catalogv1.ListPapersRequest{PageSize: 1 << 30})
	if err != nil || len(resp.GetPapers()) != 3 {
		t.Errorf("huge page size: %v %v", len(resp.GetPapers()), err)
	}
}

func TestWritesNeedAdminToken(t *testing.T) {
	t.Parallel()
	ts := startServer(t, testConfig(t))
	ctx := testCtx(t)
	create(t, ts, 1)
	_, err := ts.client.CreatePaper(ctx, &catalogv1.CreatePaperRequest{PaperId: paperID(2), Paper: newPaper(2)})
	wantCode(t, err, codes.Unauthenticated)
	for _, tt := range []struct{ name, method, path, token string }{
		{"create without token", "POST", "/v1/papers?paper_id=" + paperID(3), ""},
		{"create with a wrong token", "POST", "/v1/papers?paper_id=" + paperID(3), "wrong"},
		{"update without token", "PATCH", "/v1/papers/" + paperID(1), ""},
		{"delete with a wrong token", "DELETE", "/v1/papers/" + paperID(1), "wrong"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var body any
			if tt.method != "DELETE" {
				body = map[string]any{"title": "x"}
			}
			r := ts.rest(t, tt.method, tt.path, tt.token, body)
			if r.Status != 401 {
				t.Errorf("status %d, want 401: %s", r.Status, r.Raw)
			}
		})
	}
	if r := ts.rest(t, "GET", "/v1/papers/"+paperID(1), "", nil); r.Status != 200 {
		t.Errorf("reads are public: %d", r.Status)
	}
	resp, err := ts.client.ListPapers(ctx, &catalogv1.ListPapersRequest{})
	if err != nil || resp.GetTotalSize() != 1 {
		t.Errorf("refused writes must not change anything: total %d, %v", resp.GetTotalSize(), err)
	}
}

func TestRESTRoutesAndStatusCodes(t *testing.T) {
	t.Parallel()
	ts := startServer(t, testConfig(t))
	r := ts.rest(t, "POST", "/v1/papers?paper_id=2111.13056&request_id=r1", adminToken, map[string]any{
		"title": "ViDT", "authors": []map[string]string{{"name": "Hwanjun Song"}},
		"comment": "code: https://github.com/naver-ai/vidt).",
	})
	if r.Status != 200 || r.Body["name"] != "papers/2111.13056" || r.Body["github_repo"] != "https://github.com/naver-ai/vidt" {
		t.Fatalf("create: %d %s", r.Status, r.Raw)
	}
	etag := r.Body["etag"].(string)
	if r := ts.rest(t, "GET", "/v1/papers/2111.13056", "", nil); r.Status != 200 || r.Body["title"] != "ViDT" {
		t.Errorf("get: %d %s", r.Status, r.Raw)
	}
	if r := ts.rest(t, "GET", "/v1/papers/2111.99999", "", nil); r.Status != 404 {
		t.Errorf("get missing: %d %s", r.Status, r.Raw)
	}
	if r := ts.rest(t, "POST", "/v1/papers?paper_id=2111.13056", adminToken, map[string]any{"title": "again"}); r.Status != 409 {
		t.Errorf("create existing: %d %s", r.Status, r.Raw)
	}
	// PATCH without update_mask uses the fields present in the body.
	r = ts.rest(t, "PATCH", "/v1/papers/2111.13056", adminToken, map[string]any{"title": "ViDT v2", "etag": etag})
	if r.Status != 200 || r.Body["title"] != "ViDT v2" || r.Body["authors"] == nil {
		t.Fatalf("patch: %d %s", r.Status, r.Raw)
	}
	if r := ts.rest(t, "PATCH", "/v1/papers/2111.13056", adminToken, map[string]any{"title": "stale", "etag": etag}); r.Status != 409 {
		t.Errorf("stale etag: %d %s, want 409", r.Status, r.Raw)
	}
	if r := ts.rest(t, "PATCH", "/v1/papers/2111.13056?update_mask=upvotes", adminToken, map[string]any{"upvotes": 5}); r.Status != 400 {
		t.Errorf("output-only field: %d %s, want 400", r.Status, r.Raw)
	}
	if r := ts.rest(t, "DELETE", "/v1/papers/2111.13056?etag="+etag, adminToken, nil); r.Status != 409 {
		t.Errorf("delete with stale etag: %d %s", r.Status, r.Raw)
	}
	if r := ts.rest(t, "DELETE", "/v1/papers/2111.13056", adminToken, nil); r.Status != 200 {
		t.Errorf("delete: %d %s", r.Status, r.Raw)
	}
	if r := ts.rest(t, "GET", "/v1/papers/2111.13056", "", nil); r.Status != 404 {
		t.Errorf("get deleted: %d", r.Status)
	}
}

func TestBadInputGets400WithFieldViolations(t *testing.T) {
	t.Parallel()
	ts := startServer(t, testConfig(t))
	long := strings.Repeat("x", 1001)
	tests := []struct {
		name   string
		path   string
		body   any
		fields []string
	}{
		{"missing paper id", "/v1/papers", map[string]any{"title": "t"}, []string{"paper_id"}},
		{"versioned paper id", "/v1/papers?paper_id=2111.13056v2", map[string]any{"title": "t"}, []string{"paper_id"}},
		{"empty title", "/v1/papers?paper_id=2111.13056", map[string]any{"title": " "}, []string{"paper.title"}},
		{"title too long", "/v1/papers?paper_id=2111.13056", map[string]any{"title": long}, []string{"paper.title"}},
		{"ftp pdf url", "/v1/papers?paper_id=2111.13056", map[string]any{"title": "t", "pdf_url": "ftp://x/y.pdf"}, []string{"paper.pdf_url"}},
		{"javascript project page", "/v1/papers?paper_id=2111.13056", map[string]any{"title": "t", "project_page": "javascript:alert(1)"}, []string{"paper.project_page"}},
		{"github repo elsewhere", "/v1/papers?paper_id=2111.13056", map[string]any{"title": "t", "github_repo": "https://gitlab.com/a/b"}, []string{"paper.github_repo"}},
		{"author without name", "/v1/papers?paper_id=2111.13056", map[string]any{"title": "t", "authors": []map[string]string{{"affiliation": "x"}}}, []string{"paper.authors"}},
		{"bad organization id", "/v1/papers?paper_id=2111.13056", map[string]any{"title": "t", "organization": map[string]string{"id": "NAVER AI"}}, []string{"paper.organization.id"}},
		{"several problems at once", "/v1/papers?paper_id=nope", map[string]any{"title": "", "github_stars": -1}, []string{"paper_id", "paper.title", "paper.github_stars"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.rest(t, "POST", tt.path, adminToken, tt.body)
			if r.Status != 400 {
				t.Fatalf("status %d, want 400: %s", r.Status, r.Raw)
			}
			var fields []string
			for _, d := range r.Body["details"].([]any) {
				violations, _ := d.(map[string]any)["field_violations"].([]any) // the BadRequest's
				for _, v := range violations {
					fields = append(fields, v.(map[string]any)["field"].(string))
				}
			}
			if fmt.Sprint(fields) != fmt.Sprint(tt.fields) {
				t.Errorf("violations on %v, want %v: %s", fields, tt.fields, r.Raw)
			}
		})
	}
	if r := ts.rest(t, "POST", "/v1/papers?paper_id=2111.13056", adminToken, `{"title": "t", "colour": "red"}`); r.Status != 400 {
		t.Errorf("unknown JSON field: %d %s", r.Status, r.Raw)
	}
	if r := ts.rest(t, "POST", "/v1/papers?paper_id=2111.13056", adminToken, `{"title": `); r.Status != 400 {
		t.Errorf("malformed JSON: %d %s", r.Status, r.Raw)
	}
	if r := ts.rest(t, "GET", "/v1/papers?page_size=-1", "", nil); r.Status != 400 {
		t.Errorf("negative page size: %d", r.Status)
	}
	if r := ts.rest(t, "GET", "/v1/papers", "", nil); r.Status != 200 || r.Body["total_size"] != float64(0) {
		t.Errorf("nothing may have been created: %d %s", r.Status, r.Raw)
	}
}

func TestOversizedRequestsAreRefused(t *testing.T) {
	t.Parallel()
	ts := startServer(t, testConfig(t))
	big := `{"title": "t", "abstract": "` + strings.Repeat("a", 1<<20) + `"}`
	if r := ts.rest(t, "POST", "/v1/papers?paper_id=2111.13056", adminToken, big); r.Status != 413 || r.Body["code"] != float64(codes.ResourceExhausted) {
		t.Errorf("REST: status %d, body %s; want 413 with code RESOURCE_EXHAUSTED as the gateway writes errors", r.Status, r.Raw)
	}
	in := newPaper(1)
	in.Abstract = strings.Repeat("a", 1<<20)
	_, err := ts.client.CreatePaper(admin(testCtx(t)), &catalogv1.CreatePaperRequest{PaperId: "2111.13056", Paper: in})
	wantCode(t, err, codes.ResourceExhausted)
	in.Abstract = strings.Repeat("a", 20001)
	_, err = ts.client.CreatePaper(admin(testCtx(t)), &catalogv1.CreatePaperRequest{PaperId: "2111.13056", Paper: in})
	st := wantCode(t, err, codes.InvalidArgument)
	if f := violationFields(st); len(f) != 1 || f[0] != "paper.abstract" {
		t.Errorf("violations %v", f)
	}
}

func TestUpdateMask(t *testing.T) {
	t.Parallel()
	ts := startServer(t, testConfig(t))
	ctx := testCtx(t)
	p := create(t, ts, 1)
	tests := []struct {
		name  string
		paths []string
		code  codes.Code
	}{
		{"output-only upvotes", []string{"upvotes"}, codes.InvalidArgument},
		{"output-only create_time", []string{"create_time"}, codes.InvalidArgument},
		{"name", []string{"name"}, codes.InvalidArgument},
		{"unknown field", []string{"colour"}, codes.InvalidArgument},
		{"sub-field", []string{"organization.id"}, codes.InvalidArgument},
		{"empty mask: the fields the paper sets (AIP-134)", nil, codes.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ts.client.UpdatePaper(admin(ctx), &catalogv1.UpdatePaperRequest{
				Paper: &catalogv1.Paper{Name: p.GetName(), Title: "x"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: tt.paths},
			})
			wantCode(t, err, tt.code)
		})
	}
	// `*` replaces every writable field; clearing the title is refused.
	_, err := ts.client.UpdatePaper(admin(ctx), &catalogv1.UpdatePaperRequest{
		Paper: &catalogv1.Paper{Name: p.GetName()}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"*"}},
	})
	wantCode(t, err, codes.InvalidArgument)
	upd, err := ts.client.UpdatePaper(admin(ctx), &catalogv1.UpdatePaperRequest{
		Paper: &catalogv1.Paper{Name: p.GetName(), Title: "Only a title"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"*"}},
	})
	if err != nil || upd.GetAbstract() != "" || len(upd.GetAuthors()) != 0 || upd.GetTitle() != "Only a title" {
		t.Errorf("update *: %v %v", upd, err)
	}
	got, _ := ts.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: p.GetName()})
	if !proto.Equal(got, upd) {
		t.Errorf("get after update = %v, want %v", got, upd)
	}
}

func TestConcurrentCreatesOfOneIDMakeOnePaper(t *testing.T) {
	t.Parallel()
	ts := startServer(t, testConfig(t))
	ctx := testCtx(t)
	var wg sync.WaitGroup
	codesSeen := make([]codes.Code, 8)
	for i := range codesSeen {
		wg.Go(func() {
			_, err := ts.client.CreatePaper(admin(ctx), &catalogv1.CreatePaperRequest{PaperId: "2111.00001", Paper: newPaper(i)})
			codesSeen[i] = status.Code(err)
		})
	}
	wg.Wait()
	ok := 0
	for _, c := range codesSeen {
		switch c {
		case codes.OK:
			ok++
		case codes.AlreadyExists:
		default:
			t.Errorf("unexpected code %v", c)
		}
	}
	if ok != 1 {
		t.Errorf("%d creates succeeded, want exactly 1", ok)
	}
}

func TestViews(t *testing.T) {
	t.Parallel()
	ts := startServer(t, testConfig(t))
	ctx := testCtx(t)
	p := create(t, ts, 1)
	if p.GetAbstract() == "" {
		t.Fatal("create must return the abstract")
	}
	list, err := ts.client.ListPapers(ctx, &catalogv1.ListPapersRequest{})
	if err != nil || len(list.GetPapers()) != 1 {
		t.Fatalf("list: %v %v", list, err)
	}
	if got := list.GetPapers()[0]; got.GetAbstract() != "" || got.GetTitle() != p.GetTitle() || len(got.GetAuthors()) != 2 {
		t.Errorf("list defaults to the BASIC view (no abstract, everything else): %v", got)
	}
	full, err := ts.client.ListPapers(ctx, &catalogv1.ListPapersRequest{View: catalogv1.PaperView_PAPER_VIEW_FULL})
	if err != nil || !proto.Equal(full.GetPapers()[0], p) {
		t.Errorf("list with the FULL view = %v (%v), want %v", full.GetPapers(), err, p)
	}
	got, err := ts.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: p.GetName()})
	if err != nil || !proto.Equal(got, p) {
		t.Errorf("get defaults to the FULL view: %v %v", got, err)
	}
	basic, err := ts.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: p.GetName(), View: catalogv1.PaperView_PAPER_VIEW_BASIC})
	if err != nil || basic.GetAbstract() != "" {
		t.Errorf("get with the BASIC view: %v %v", basic, err)
	}
	_, err = ts.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: p.GetName(), View: 7})
	wantCode(t, err, codes.InvalidArgument)
	if r := ts.rest(t, "GET", "/v1/papers?view=PAPER_VIEW_FULL", "", nil); r.Status != 200 ||
		r.Body["papers"].([]any)[0].(map[string]any)["abstract"] != p.GetAbstract() {
		t.Errorf("REST list view=PAPER_VIEW_FULL: %d %s", r.Status, r.Raw)
	}
	// A cached proto must follow updates.
	upd, err := ts.client.UpdatePaper(admin(ctx), &catalogv1.UpdatePaperRequest{
		Paper: &catalogv1.Paper{Name: p.GetName(), Abstract: "Changed."}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"abstract"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ = ts.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: p.GetName()})
	if got.GetAbstract() != "Changed." || got.GetEtag() != upd.GetEtag() {
		t.Errorf("get after update: %v", got)
	}
}

// TestInvalidUTF8Gets400: text that is not UTF-8, in any field the gateway
// passes through, is refused with 400 and a JSON error, never a 500.
func TestInvalidUTF8Gets400(t *testing.T) {
	t.Parallel()
	ts := startServer(t, testConfig(t))
	for _, path := range []string{"/v1/papers?order_by=%A8", "/v1/papers?filter=%FF", "/v1/papers?page_token=%FF%FE",
		"/v1/papers:search?query=%C3%28", "/v1/papers/%FF", "/v1/dailyPapers?date=%FF"} {
		r := ts.rest(t, "GET", path, "", nil)
		if r.Status != http.StatusBadRequest && r.Status != http.StatusNotFound {
			t.Errorf("GET %s: %d %s, want 400", path, r.Status, r.Raw)
		}
		if !json.Valid(r.Raw) {
			t.Errorf("GET %s: not JSON: %q", path, r.Raw)
		}
	}
}

// TestUpdateWithoutMaskChangesThePopulatedFields: over gRPC, an UpdatePaper
// without update_mask changes the writable fields the paper sets (AIP-134) and
// ignores the output-only ones, so a paper read, changed and sent back works;
// an explicit mask still limits the change.
func TestUpdateWithoutMaskChangesThePopulatedFields(t *testing.T) {
	t.Parallel()
	ts := startServer(t, testConfig(t))
	ctx := admin(testCtx(t))
	p := create(t, ts, 1)

	upd, err := ts.client.UpdatePaper(ctx, &catalogv1.UpdatePaperRequest{Paper: &catalogv1.Paper{Name: p.GetName(), Title: "Only the title"}})
	if err != nil {
		t.Fatal(err)
	}
	if upd.GetTitle() != "Only the title" || upd.GetAbstract() != p.GetAbstract() || len(upd.GetAuthors()) != len(p.GetAuthors()) {
		t.Errorf("without a mask: %v, want the title changed and the rest kept", upd)
	}

	read := proto.Clone(upd).(*catalogv1.Paper)
	read.Comment = "read, changed, sent back"
	read.Upvotes = 1000 // output only: not a change
	upd, err = ts.client.UpdatePaper(ctx, &catalogv1.UpdatePaperRequest{Paper: read})
	if err != nil {
		t.Fatal(err)
	}
	if upd.GetComment() != "read, changed, sent back" || upd.GetUpvotes() != p.GetUpvotes() {
		t.Errorf("a whole paper sent back: comment %q upvotes %d, want the comment and %d upvotes", upd.GetComment(), upd.GetUpvotes(), p.GetUpvotes())
	}

	upd, err = ts.client.UpdatePaper(ctx, &catalogv1.UpdatePaperRequest{
		Paper:      &catalogv1.Paper{Name: p.GetName(), Title: "Masked out", Comment: "masked in"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"comment"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if upd.GetTitle() != "Only the title" || upd.GetComment() != "masked in" {
		t.Errorf("with a mask: title %q comment %q, want only the comment changed", upd.GetTitle(), upd.GetComment())
	}

	_, err = ts.client.UpdatePaper(ctx, &catalogv1.UpdatePaperRequest{Paper: &catalogv1.Paper{Name: p.GetName()}})
	if st := wantCode(t, err, codes.InvalidArgument); !slices.Contains(violationFields(st), "update_mask") {
		t.Errorf("nothing to change: %v, want a violation of update_mask", st.Message())
	}
}

// TestRESTUpdateOfAPaperSentBackWhole reads a paper over REST, changes a field
// and PATCHes the whole body back without update_mask: the write changes what
// the body changed, and the body's output-only fields and its organization (a
// message) are not refused, as over gRPC.
func TestRESTUpdateOfAPaperSentBackWhole(t *testing.T) {
	t.Parallel()
	ts := startServer(t, testConfig(t))
	p := create(t, ts, 1)
	got := ts.rest(t, "GET", "/v1/"+p.GetName(), "", nil)
	if got.Status != http.StatusOK {
		t.Fatalf("get: %d %s", got.Status, got.Raw)
	}
	var body map[string]any
	if err := json.Unmarshal(got.Raw, &body); err != nil {
		t.Fatal(err)
	}
	body["comment"] = "changed and sent back"
	body["organization"] = map[string]any{"id": "naver-ai", "display_name": "NAVER AI Lab"}
	r := ts.rest(t, "PATCH", "/v1/"+p.GetName(), adminToken, body)
	if r.Status != http.StatusOK {
		t.Fatalf("PATCH of the whole paper: %d %s, want 200", r.Status, r.Raw)
	}
	var upd map[string]any
	if err := json.Unmarshal(r.Raw, &upd); err != nil {
		t.Fatal(err)
	}
	org, _ := upd["organization"].(map[string]any)
	if upd["comment"] != "changed and sent back" || org["id"] != "naver-ai" || upd["title"] != p.GetTitle() {
		t.Errorf("after the PATCH: comment %v organization %v title %v", upd["comment"], upd["organization"], upd["title"])
	}
	// A mask in the query string still names what changes.
	r = ts.rest(t, "PATCH", "/v1/"+p.GetName()+"?update_mask=title", adminToken, map[string]any{"title": "Masked in", "comment": "masked out"})
	if r.Status != http.StatusOK || !strings.Contains(string(r.Raw), "Masked in") || strings.Contains(string(r.Raw), "masked out") {
		t.Errorf("PATCH with ?update_mask=title: %d %.300s", r.Status, r.Raw)
	}
}
