package ingest

import (
	"bytes"
	"compress/gzip"
	"os"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
)

// The fuzz targets read arbitrary input in each format, and with the format
// detected, and check every record a reader yields (see checkReader). Seeds are
// the files of testdata/, a few lines of the arXiv snapshot sample when it is
// there, and the files of testdata/fuzz/.

// FuzzArxivOAI reads arbitrary input as arXiv metadata snapshot lines.
func FuzzArxivOAI(f *testing.F) {
	for _, s := range snapshotLines(f, 3) {
		f.Add(s)
	}
	f.Add([]byte(`{"id": "0704.0002", "title": "truncated`))
	f.Add([]byte("{\"id\": \" 0704.0004 \", \"versions\": [{\"version\": \"v2\", \"created\": \"Mon, 2 Apr 2007 19:18:42 GMT\"}]}\r\n\n{}\n"))
	f.Add(gz(f, []byte(`{"id":"1","authors":"A. One, B. Two and C. Three","categories":"cs.LG  cs.CV"}`)))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkOpen(t, data, ArxivOAI)
	})
}

// FuzzArxivAtom reads arbitrary input as an arXiv API response.
func FuzzArxivAtom(f *testing.F) {
	f.Add(readTestdata(f, "arxiv-api.atom"))
	f.Add([]byte(`<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>http://arxiv.org/api/errors#x</id><summary>bad</summary></entry></feed>`))
	f.Add([]byte(`<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>http://arxiv.org/abs/2111.13056v2</id>` +
		`<published>2021-11-25T12:50:18Z</published><category term="cs.LG"/><category term="I.2.6"/></entry></feed>`))
	f.Add([]byte(`<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>x</entry>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkOpen(t, data, ArxivAtom)
	})
}

// FuzzHFDaily reads arbitrary input as a daily-papers JSON array.
func FuzzHFDaily(f *testing.F) {
	f.Add(readTestdata(f, "daily_papers.json"))
	f.Add([]byte(`[{"paper": {"id": "1"}}, {"paper": `))
	f.Add([]byte(`[{"paper": {"id": "2403.00002", "upvotes": "many"}}, 1, null, {"paper": {"id": "  "}}]`))
	f.Add([]byte(`[{"paper": {"id": "x", "organization": {"name": "--Open__GV Lab--"}, "publishedAt": "2024-03-01T10:00:00Z"}}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkOpen(t, data, HFDaily)
	})
}

// FuzzOpenDetect reads arbitrary input of a format Open detects.
func FuzzOpenDetect(f *testing.F) {
	f.Add(readTestdata(f, "arxiv-api.atom"))
	f.Add(readTestdata(f, "daily_papers.json"))
	for _, s := range snapshotLines(f, 1) {
		f.Add(s)
		f.Add(gz(f, s))
	}
	for _, s := range []string{"", "   \n", "plain text", "%PDF-1.4", "\xef\xbb\xbf[]", "\x1f\x8b", " <", "{"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkOpen(t, data, "")
	})
}

// maxItems bounds the items read from one fuzzed input.
const maxItems = 100000

// checkOpen opens data in format (detected when empty) and checks what it reads.
func checkOpen(t *testing.T, data []byte, format Format) {
	t.Helper()
	r, err := Open(bytes.NewReader(data), format)
	if err != nil {
		if r != nil {
			t.Fatalf("Open returned a reader and the error %v", err)
		}
		return
	}
	if !slices.Contains(Formats, r.Format) || (format != "" && r.Format != format) {
		t.Fatalf("format %q read as %q", format, r.Format)
	}
	if f, err := ParseFormat(string(r.Format)); err != nil || f != r.Format {
		t.Fatalf("ParseFormat(%q) = %q, %v", r.Format, f, err)
	}
	checkReader(t, r)
}

// checkReader reads r to its end and checks every item: a record has a
// non-empty ID without surrounding space, its position, normalised text (titles
// and names on one line, abstracts one paragraph a line), arXiv categories with
// the primary one first, and nothing that protobuf cannot encode (so paperctl
// can send it); a failed item has a position and an error, no record.
func checkReader(t *testing.T, r *Reader) {
	t.Helper()
	var last int64
	for n := 0; ; n++ {
		if n > maxItems {
			t.Fatalf("more than %d items", maxItems)
		}
		it, ok := r.Next()
		if !ok {
			break
		}
		switch {
		case it.Position <= 0:
			t.Fatalf("item %d at position %d", n, it.Position)
		case it.Position < last || (it.Position == last && r.Format != ArxivAtom):
			t.Fatalf("item %d at position %d after position %d", n, it.Position, last)
		}
		last = it.Position
		if it.Err != nil {
			if it.Record != nil || it.Err.Error() == "" {
				t.Fatalf("failed item %d: record %v, error %q", n, it.Record, it.Err)
			}
			continue
		}
		checkRecord(t, r.Format, it)
	}
	if _, ok := r.Next(); ok {
		t.Fatal("Next yields an item after the end")
	}
	if err := r.Err(); err != nil && err.Error() == "" {
		t.Fatal("an error without a message")
	}
}

func checkRecord(t *testing.T, format Format, it Item) {
	t.Helper()
	rec, p := it.Record, it.Record.GetPaper()
	if rec == nil || p == nil {
		t.Fatalf("item at %d has no record or no paper: %v", it.Position, rec)
	}
	id := rec.GetPaperId()
	if id == "" || id != strings.TrimSpace(id) {
		t.Fatalf("record at %d has the id %q", it.Position, id)
	}
	if rec.GetPosition() != it.Position {
		t.Fatalf("record position %d, item position %d", rec.GetPosition(), it.Position)
	}
	if _, err := proto.Marshal(rec); err != nil {
		t.Fatalf("record %q cannot be encoded: %v", id, err)
	}
	if p.GetArxivVersion() < 0 {
		t.Fatalf("record %q: version %d", id, p.GetArxivVersion())
	}
	for name, s := range map[string]string{"title": p.GetTitle(), "submitter": p.GetSubmitter(),
		"comment": p.GetComment(), "journal_ref": p.GetJournalRef(), "organization": p.GetOrganization().GetDisplayName()} {
		if s != oneLine(s) {
			t.Fatalf("record %q: %s %q is not on one line", id, name, s)
		}
	}
	for _, line := range strings.Split(p.GetAbstract(), "\n") {
		if line != oneLine(line) || (line == "" && p.GetAbstract() != "") {
			t.Fatalf("record %q: abstract %q is not normalised", id, p.GetAbstract())
		}
	}
	for _, a := range p.GetAuthors() {
		if a.GetName() == "" || a.GetName() != oneLine(a.GetName()) || a.GetAffiliation() != oneLine(a.GetAffiliation()) {
			t.Fatalf("record %q: author %q (%q)", id, a.GetName(), a.GetAffiliation())
		}
	}
	for _, k := range p.GetKeywords() {
		if k == "" || k != oneLine(k) {
			t.Fatalf("record %q: keyword %q", id, k)
		}
	}
	cats := p.GetCategories()
	for i, c := range cats {
		if c == "" || len(strings.Fields(c)) != 1 || (format == ArxivAtom && (!arxivCategory.MatchString(c) || slices.Contains(cats[:i], c))) {
			t.Fatalf("record %q: categories %q", id, cats)
		}
	}
	if primary := p.GetPrimaryCategory(); (primary == "") != (len(cats) == 0) || (primary != "" && primary != cats[0]) {
		t.Fatalf("record %q: primary category %q of %q", id, primary, cats)
	}
	if o := p.GetOrganization(); o != nil {
		if oid := o.GetId(); oid == "" || len(oid) > 63 || oid != orgID(oid) {
			t.Fatalf("record %q: organization id %q", id, oid)
		}
	}
	if format != HFDaily && p.GetPdfUrl() == "" {
		t.Fatalf("record %q has no PDF URL", id)
	}
}

func readTestdata(f *testing.F, name string) []byte {
	f.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// snapshotLines returns the first n lines of the arXiv snapshot sample, each
// with its line end, or none when the sample is not there.
func snapshotLines(f *testing.F, n int) [][]byte {
	f.Helper()
	b, err := os.ReadFile(arxivSample)
	if err != nil {
		return nil
	}
	lines := bytes.SplitAfter(b, []byte("\n"))
	return lines[:min(n, len(lines))]
}

func gz(f *testing.F, b []byte) []byte {
	f.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		f.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		f.Fatal(err)
	}
	return buf.Bytes()
}
