package ingest

import (
	"bytes"
	"compress/gzip"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/papercatalog/papers/repository"
)

const arxivSample = "../../shared/data/arxiv/arxiv-metadata-oai-snapshot.sample.jsonl"

func readAll(t *testing.T, data []byte, f Format) (*Reader, []Item) {
	t.Helper()
	r, err := Open(bytes.NewReader(data), f)
	if err != nil {
		t.Fatal(err)
	}
	var items []Item
	for {
		it, ok := r.Next()
		if !ok {
			break
		}
		items = append(items, it)
	}
	return r, items
}

// at checks that got is the time want, in UTC.
func at(t *testing.T, got time.Time, want string) {
	t.Helper()
	w, err := time.Parse(time.RFC3339, want)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(w) || got.Location() != time.UTC {
		t.Errorf("time %v, want %v", got, w)
	}
}

// upvotes is a record's upvote count, or -1 when it has none.
func upvotes(r *Record) int64 {
	if r.Upvotes == nil {
		return -1
	}
	return *r.Upvotes
}

func TestArxivSnapshotSample(t *testing.T) {
	data, err := os.ReadFile(arxivSample)
	if err != nil {
		t.Skipf("arXiv sample not available: %v", err)
	}
	r, items := readAll(t, data, "")
	if r.Format != ArxivOAI || r.Err() != nil || len(items) != 200 {
		t.Fatalf("format %s, err %v, %d items", r.Format, r.Err(), len(items))
	}
	first := items[0]
	if first.Err != nil || first.Position != 1 || first.Record.Position != 1 {
		t.Fatalf("first item: %+v", first)
	}
	p := &first.Record.Paper
	if first.Record.ID != "0704.0001" || p.ID != "" || p.ArxivVersion != 2 ||
		p.Title != "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies" ||
		p.DOI != "10.1103/PhysRevD.76.013009" || p.JournalRef != "Phys.Rev.D76:013009,2007" ||
		p.PrimaryCategory != "hep-ph" || p.Submitter != "Pavel Nadolsky" ||
		p.Comment != "37 pages, 15 figures; published version" || p.PDFURL != "https://arxiv.org/pdf/0704.0001" {
		t.Errorf("first record: %+v", first.Record)
	}
	if len(p.Authors) != 4 || p.Authors[0].Name != "C. Balázs" || p.Authors[3].Name != "C. -P. Yuan" &&
		p.Authors[3].Name != "C.-P. Yuan" {
		t.Errorf("authors: %v", p.Authors)
	}
	if !strings.HasPrefix(p.Abstract, "A fully differential calculation in perturbative quantum chromodynamics is presented for") ||
		strings.Contains(p.Abstract, "  ") || strings.HasSuffix(p.Abstract, "\n") {
		t.Errorf("abstract not normalised: %q", p.Abstract)
	}
	at(t, p.PublishedTime, "2007-04-02T19:18:42Z")
	at(t, p.ArxivUpdateTime, "2007-07-24T20:10:27Z")
	for _, it := range items {
		if it.Err != nil {
			t.Errorf("position %d: %v", it.Position, it.Err)
		}
	}
}

func TestArxivSnapshotBadLines(t *testing.T) {
	data, err := os.ReadFile(arxivSample)
	if err != nil {
		t.Skipf("arXiv sample not available: %v", err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")[:5]
	lines[1] = `{"id": "0704.0002", "title": "truncated`
	lines[3] = `{"id": "0704.0004", "versions": [{"version": "v1", "created": "yesterday"}]}`
	input := strings.Join(lines, "\n") + "\n\n"
	// gzip is detected, whatever the file is called.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(input))
	_ = zw.Close()
	r, items := readAll(t, gz.Bytes(), "")
	if r.Err() != nil || len(items) != 5 {
		t.Fatalf("err %v, %d items", r.Err(), len(items))
	}
	for i, it := range items {
		bad := i == 1 || i == 3
		if (it.Err != nil) != bad || it.Position != int64(i+1) {
			t.Errorf("line %d: position %d, err %v", i+1, it.Position, it.Err)
		}
		if bad && !strings.HasPrefix(it.Err.Error(), "line ") {
			t.Errorf("error does not name the line: %v", it.Err)
		}
	}
}

func TestArxivAtom(t *testing.T) {
	data, err := os.ReadFile("testdata/arxiv-api.atom")
	if err != nil {
		t.Fatal(err)
	}
	r, items := readAll(t, data, "")
	if r.Format != ArxivAtom || r.Err() != nil || len(items) != 3 || r.TotalResults() != 182731 {
		t.Fatalf("format %s, err %v, %d items, total %d", r.Format, r.Err(), len(items), r.TotalResults())
	}
	rec, p := items[0].Record, &items[0].Record.Paper
	want := repository.Paper{
		ArxivVersion: 2, Title: "Efficient Quantization of Transformer Language Models",
		Abstract:   "We study post-training quantization of transformer language models.\nA second paragraph follows here.",
		Authors:    []repository.Author{{Name: "Ada Lovelace", Affiliation: "NAVER AI Lab"}, {Name: "Alan Turing"}},
		Categories: []string{"cs.LG", "cs.CL"}, PrimaryCategory: "cs.LG", DOI: "10.1000/xyz123",
		JournalRef: "Proc. Example Conf. 2022", Comment: "12 pages, 4 figures; code at https://github.com/example/quant",
		PDFURL: "https://arxiv.org/pdf/2111.13056v2",
	}
	want.PublishedTime, want.ArxivUpdateTime = p.PublishedTime, p.ArxivUpdateTime
	if rec.ID != "2111.13056" || !reflect.DeepEqual(*p, want) {
		t.Errorf("entry 1: %s %+v\nwant %+v", rec.ID, *p, want)
	}
	at(t, p.PublishedTime, "2021-11-25T12:50:18Z")
	at(t, p.ArxivUpdateTime, "2022-03-29T08:43:37Z")
	if items[0].Position != 10 {
		t.Errorf("entry 1 at line %d, want 10", items[0].Position)
	}
	old := items[1].Record
	if old.ID != "quant-ph/0210005" || old.Paper.ArxivVersion != 1 || old.Paper.PrimaryCategory != "quant-ph" {
		t.Errorf("old-style entry: %+v", old)
	}
	if items[2].Err == nil || !strings.Contains(items[2].Err.Error(), "not a date") {
		t.Errorf("broken entry: %v", items[2])
	}
}

func TestArxivAtomError(t *testing.T) {
	feed := `<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <entry>
    <id>http://arxiv.org/api/errors#incorrect_id_format_for_1234.12345v1x</id>
    <title>Error</title>
    <summary>incorrect id format for 1234.12345v1x</summary>
  </entry>
</feed>`
	_, items := readAll(t, []byte(feed), "")
	if len(items) != 1 || items[0].Err == nil || !strings.Contains(items[0].Err.Error(), "incorrect id format") {
		t.Errorf("items %v", items)
	}
	r, items := readAll(t, []byte(`<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>x</entry>`), ArxivAtom)
	if r.Err() == nil || len(items) != 0 {
		t.Errorf("malformed XML: err %v, items %v", r.Err(), items)
	}
}

func TestDailyPapers(t *testing.T) {
	data, err := os.ReadFile("testdata/daily_papers.json")
	if err != nil {
		t.Fatal(err)
	}
	r, items := readAll(t, data, "")
	if r.Format != HFDaily || r.Err() != nil || len(items) != 4 {
		t.Fatalf("format %s, err %v, %d items", r.Format, r.Err(), len(items))
	}
	rec, p := items[0].Record, &items[0].Record.Paper
	if rec.ID != "2111.13056" || upvotes(rec) != 42 ||
		p.ArxivVersion != 0 || p.GithubRepo != "https://github.com/example/quant" || p.GithubStars != 1234 ||
		strings.Join(p.Keywords, ",") != "quantization,transformers,post-training" ||
		p.Organization.ID != "naver-ai" || p.Organization.DisplayName != "NAVER AI Lab" ||
		p.Abstract != "We study post-training quantization of transformer language models." {
		t.Errorf("element 1: %+v", rec)
	}
	if len(p.Authors) != 2 || p.Authors[1].Name != "Alan Turing" {
		t.Errorf("hidden authors are not left out: %v", p.Authors)
	}
	at(t, p.PublishedTime, "2021-11-25T12:50:18Z")
	at(t, p.SubmitTime, "2024-03-05T09:30:00Z")
	if older := items[1].Record; upvotes(older) != 7 || older.Paper.GithubRepo != "" || older.Paper.Organization != (repository.Organization{}) {
		t.Errorf("element 2: %+v", older)
	}
	if items[2].Err == nil || items[2].Position != 3 {
		t.Errorf("element 3 (bad upvotes): %+v", items[2])
	}
	if org := items[3].Record.Paper.Organization.ID; org != "opengvlab" {
		t.Errorf("organization id %q", org)
	}
	// The user who submitted the paper to the list: the full name, else the
	// handle; submittedBy of the entry, else submittedOnDailyBy of the paper.
	for i, want := range map[int]string{0: "Ada Lovelace", 1: "Grace Hopper", 3: "opengvlab-bot"} {
		if got := items[i].Record.Paper.Submitter; got != want {
			t.Errorf("element %d: submitter %q, want %q", i+1, got, want)
		}
	}
}

func TestDetectAndRefuse(t *testing.T) {
	for _, in := range []string{"", "   \n", "plain text", "%PDF-1.4"} {
		if _, err := Open(strings.NewReader(in), ""); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
	if _, err := ParseFormat("csv"); err == nil {
		t.Error("format csv accepted")
	}
	r, items := readAll(t, []byte(`[{"paper": {"id": "1"}}, {"paper": `), HFDaily)
	if r.Err() == nil || len(items) != 1 {
		t.Errorf("truncated array: err %v, %d items", r.Err(), len(items))
	}
}
