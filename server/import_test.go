package server_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	"github.com/papercatalog/papers/ingest"
	"github.com/papercatalog/papers/paperpb"
)

// readFile reads every record of an input file with the ingest package, as
// paperctl import sends them.
func readFile(t *testing.T, path string) []*catalogv1.ImportRecord {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("%s: %v", path, err)
	}
	defer func() { _ = f.Close() }()
	r, err := ingest.Open(f, "")
	if err != nil {
		t.Fatal(err)
	}
	var out []*catalogv1.ImportRecord
	for {
		it, ok := r.Next()
		if !ok {
			break
		}
		if r := it.Record; it.Err == nil {
			out = append(out, paperpb.ImportRecord(r.ID, r.Position, &r.Paper, r.Upvotes))
		}
	}
	if r.Err() != nil {
		t.Fatal(r.Err())
	}
	return out
}

// importRecords streams records to ImportPapers, a few at a time.
func importRecords(t *testing.T, ts *testServer, recs []*catalogv1.ImportRecord) *catalogv1.ImportPapersResponse {
	t.Helper()
	stream, err := ts.client.ImportPapers(admin(longCtx(t)))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(recs); i += 7 {
		if err := stream.Send(&catalogv1.ImportPapersRequest{Records: recs[i:min(i+7, len(recs))]}); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	return resp
}

func counts(r *catalogv1.ImportPapersResponse) [4]int64 {
	return [4]int64{r.GetCreated(), r.GetUpdated(), r.GetUnchanged(), r.GetRejected()}
}

func TestImportArxivSnapshotTwice(t *testing.T) {
	t.Parallel()
	ts := startServer(t, testConfig(t))
	recs := readFile(t, arxivSample)
	if got := counts(importRecords(t, ts, recs)); got != [4]int64{200, 0, 0, 0} {
		t.Fatalf("first import: created, updated, unchanged, rejected = %v", got)
	}
	if got := counts(importRecords(t, ts, recs)); got != [4]int64{0, 0, 200, 0} {
		t.Fatalf("second import: %v", got)
	}
	// The fields, against the file itself.
	byID := map[string]arxivRecord{}
	for _, r := range loadArxivSample(t) {
		byID[r.ID] = r
	}
	ctx := testCtx(t)
	for _, id := range []string{"0704.0001", "0704.0002", "0704.0100"} {
		want := byID[id]
		p, err := ts.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: "papers/" + id})
		if err != nil {
			t.Fatal(err)
		}
		published, _ := time.Parse("Mon, 2 Jan 2006 15:04:05 MST", want.Versions[0].Created)
		if p.GetTitle() != oneLine(want.Title) || p.GetAbstract() == "" || p.GetDoi() != strings.TrimSpace(want.DOI) ||
			int(p.GetArxivVersion()) != len(want.Versions) || !p.GetPublishedTime().AsTime().Equal(published) ||
			!p.GetSubmitTime().AsTime().Equal(published) || len(p.GetAuthors()) != len(want.AuthorsParsed) ||
			strings.Join(p.GetCategories(), " ") != want.Categories || p.GetPrimaryCategory() != strings.Fields(want.Categories)[0] {
			t.Errorf("%s: %v", id, p)
		}
	}
	// Imported papers are searchable and listed like any other.
	eventuallyTop(t, ts, `"prompt diphoton production"`, "0704.0001")
}

func TestImportMergesSources(t *testing.T) {
	t.Parallel()
	ts := startServer(t, testConfig(t))
	ctx := testCtx(t)
	atom := readFile(t, "../ingest/testdata/arxiv-api.atom") // 2111.13056v2, quant-ph/0210005v1
	daily := readFile(t, "../ingest/testdata/daily_papers.json")
	if got := counts(importRecords(t, ts, atom)); got != [4]int64{2, 0, 0, 0} {
		t.Fatalf("atom import: %v", got)
	}
	get := func(name string) *catalogv1.Paper {
		t.Helper()
		p, err := ts.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := get("papers/2111.13056")
	if p.GetArxivVersion() != 2 || p.GetAuthors()[0].GetAffiliation() != "NAVER AI Lab" || p.GetPdfUrl() != "https://arxiv.org/pdf/2111.13056v2" ||
		p.GetGithubRepo() != "https://github.com/example/quant" || p.GetUpvotes() != 0 {
		t.Errorf("from Atom: %v", p)
	}
	if old := get("papers/quant-ph-0210005"); old.GetArxivId() != "quant-ph/0210005" || old.GetTitle() != "An old-style identifier" {
		t.Errorf("old-style id: %v", old)
	}
	// An operator sets an organization; the daily list names another.
	if _, err := ts.client.UpdatePaper(admin(ctx), &catalogv1.UpdatePaperRequest{
		Paper:      &catalogv1.Paper{Name: "papers/2111.13056", Organization: &catalogv1.Organization{Id: "operator-choice"}},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"organization"}},
	}); err != nil {
		t.Fatal(err)
	}
	if got := counts(importRecords(t, ts, daily)); got != [4]int64{2, 1, 0, 0} {
		t.Fatalf("daily-papers import: %v", got)
	}
	p = get("papers/2111.13056")
	if p.GetUpvotes() != 42 || p.GetGithubStars() != 1234 || strings.Join(p.GetKeywords(), ",") != "quantization,transformers,post-training" ||
		p.GetOrganization().GetId() != "operator-choice" || !p.GetSubmitTime().AsTime().Equal(time.Date(2024, 3, 5, 9, 30, 0, 0, time.UTC)) ||
		p.GetArxivVersion() != 2 || p.GetAuthors()[0].GetAffiliation() != "NAVER AI Lab" || len(p.GetAuthors()) != 2 {
		t.Errorf("after the daily list: %v", p)
	}
	if n := get("papers/2403.00002"); n.GetUpvotes() != 7 || !n.GetSubmitTime().AsTime().Equal(time.Date(2024, 3, 4, 8, 0, 0, 0, time.UTC)) {
		t.Errorf("new from the daily list: %v", n)
	}
	// An older arXiv version changes nothing; a newer one replaces the metadata
	// and keeps the rest.
	older := clone(atom[0])
	older.Paper.ArxivVersion, older.Paper.Title = 1, "An older title"
	if got := counts(importRecords(t, ts, []*catalogv1.ImportRecord{older})); got != [4]int64{0, 0, 1, 0} {
		t.Errorf("older version: %v", got)
	}
	newer := clone(atom[0])
	newer.Paper.ArxivVersion, newer.Paper.Title, newer.Paper.Doi = 3, "A newer title", ""
	if got := counts(importRecords(t, ts, []*catalogv1.ImportRecord{newer})); got != [4]int64{0, 1, 0, 0} {
		t.Errorf("newer version: %v", got)
	}
	p = get("papers/2111.13056")
	if p.GetTitle() != "A newer title" || p.GetArxivVersion() != 3 || p.GetDoi() != "10.1000/xyz123" || p.GetUpvotes() != 42 ||
		p.GetOrganization().GetId() != "operator-choice" || p.GetGithubStars() != 1234 {
		t.Errorf("after v3: %v", p)
	}
	// Everything again: nothing changes.
	if got := counts(importRecords(t, ts, append(append([]*catalogv1.ImportRecord{newer}, atom[1:]...), daily...))); got != [4]int64{0, 0, 5, 0} {
		t.Errorf("again: %v", got)
	}
}

func clone(r *catalogv1.ImportRecord) *catalogv1.ImportRecord {
	b, _ := protojson.Marshal(r)
	out := &catalogv1.ImportRecord{}
	_ = protojson.Unmarshal(b, out)
	return out
}

func TestImportRejectsBadRecordsAlone(t *testing.T) {
	t.Parallel()
	ts := startServer(t, testConfig(t))
	good := func(id string) *catalogv1.ImportRecord {
		return &catalogv1.ImportRecord{PaperId: id, Paper: &catalogv1.Paper{Title: "Paper " + id}}
	}
	up := int64(-3)
	recs := []*catalogv1.ImportRecord{
		good("2401.00001"),
		{PaperId: "2401.00002", Paper: &catalogv1.Paper{}, Position: 17}, // no title
		{PaperId: "not an id", Paper: &catalogv1.Paper{Title: "x"}},      // bad id
		{PaperId: "2401.00004v2", Paper: &catalogv1.Paper{Title: "x"}},   // id with version
		{PaperId: "2401.00005"}, // no paper
		{PaperId: "2401.00006", Paper: &catalogv1.Paper{Title: "x"}, ImportedUpvotes: &up},
		{PaperId: "2401.00007", Paper: &catalogv1.Paper{Title: "x", GithubRepo: "https://example.org/x"}},
		good("2401.00008"),
	}
	resp := importRecords(t, ts, recs)
	if got := counts(resp); got != [4]int64{2, 0, 0, 6} {
		t.Fatalf("counts %v", got)
	}
	wantPos := []int64{17, 3, 4, 5, 6, 7}
	for i, r := range resp.GetRejections() {
		if r.GetPosition() != wantPos[i] || r.GetReason() == "" {
			t.Errorf("rejection %d: %v", i, r)
		}
	}
	if r := resp.GetRejections()[0]; r.GetPaperId() != "2401.00002" || !strings.Contains(r.GetReason(), "title") {
		t.Errorf("first rejection: %v", r)
	}
	// Not an admin: refused.
	stream, err := ts.client.ImportPapers(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	_ = stream.Send(&catalogv1.ImportPapersRequest{Records: recs[:1]})
	_, err = stream.CloseAndRecv()
	wantCode(t, err, codes.Unauthenticated)
	// Too many records in one message.
	stream, err = ts.client.ImportPapers(admin(testCtx(t)))
	if err != nil {
		t.Fatal(err)
	}
	many := make([]*catalogv1.ImportRecord, 1001)
	for i := range many {
		many[i] = good("2402.00001")
	}
	_ = stream.Send(&catalogv1.ImportPapersRequest{Records: many})
	_, err = stream.CloseAndRecv()
	wantCode(t, err, codes.InvalidArgument)
}

func TestImportOverREST(t *testing.T) {
	t.Parallel()
	ts := startServer(t, testConfig(t))
	var body strings.Builder
	for _, rec := range readFile(t, arxivSample)[:30] {
		b, err := protojson.Marshal(&catalogv1.ImportPapersRequest{Records: []*catalogv1.ImportRecord{rec}})
		if err != nil {
			t.Fatal(err)
		}
		body.Write(b)
		body.WriteByte('\n')
	}
	post := func(token string) (int, string) {
		req, err := http.NewRequestWithContext(testCtx(t), http.MethodPost, ts.base+"/v1/papers:import", strings.NewReader(body.String()))
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if status, b := post(adminToken); status != 200 || !strings.Contains(b, `"created":"30"`) {
		t.Fatalf("REST import: %d %s", status, b)
	}
	if status, b := post(adminToken); status != 200 || !strings.Contains(b, `"unchanged":"30"`) {
		t.Fatalf("REST import again: %d %s", status, b)
	}
	if status, b := post(""); status != 401 {
		t.Errorf("REST import without a token: %d %s", status, b)
	}
	// One line over the message limit is refused, not buffered.
	big := `{"records":[{"paper_id":"2401.00001","paper":{"title":"` + strings.Repeat("x", 2<<20) + `"}}]}`
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, ts.base+"/v1/papers:import", strings.NewReader(big))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode < 400 || resp.StatusCode >= 500 {
		t.Errorf("a 2 MiB line: %d", resp.StatusCode)
	}
}
