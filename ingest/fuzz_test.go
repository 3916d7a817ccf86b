package ingest

import (
	"bytes"
	"compress/gzip"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/papercatalog/papers/repository"
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
// the primary one first, times in UTC, and nothing that protobuf cannot encode
// (text that is not UTF-8), so paperctl can send it; a failed item has a
// position and an error, no record.
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
	rec := it.Record
	if rec == nil {
		t.Fatalf("item at %d has no record", it.Position)
	}
	p := &rec.Paper
	id := rec.ID
	if id == "" || id != strings.TrimSpace(id) || p.ID != "" {
		t.Fatalf("record at %d has the id %q (paper id %q)", it.Position, id, p.ID)
	}
	if rec.Position != it.Position {
		t.Fatalf("record position %d, item position %d", rec.Position, it.Position)
	}
	if s, ok := invalidUTF8(reflect.ValueOf(*rec)); ok {
		t.Fatalf("record %q cannot be encoded: %q is not UTF-8", id, s)
	}
	for name, tm := range map[string]time.Time{"published": p.PublishedTime, "arxiv_update": p.ArxivUpdateTime, "submit": p.SubmitTime} {
		if !tm.IsZero() && tm.Location() != time.UTC {
			t.Fatalf("record %q: %s time %v is not in UTC", id, name, tm)
		}
	}
	if p.ArxivVersion < 0 {
		t.Fatalf("record %q: version %d", id, p.ArxivVersion)
	}
	for name, s := range map[string]string{"title": p.Title, "submitter": p.Submitter,
		"comment": p.Comment, "journal_ref": p.JournalRef, "organization": p.Organization.DisplayName} {
		if s != oneLine(s) {
			t.Fatalf("record %q: %s %q is not on one line", id, name, s)
		}
	}
	for _, line := range strings.Split(p.Abstract, "\n") {
		if line != oneLine(line) || (line == "" && p.Abstract != "") {
			t.Fatalf("record %q: abstract %q is not normalised", id, p.Abstract)
		}
	}
	for _, a := range p.Authors {
		if a.Name == "" || a.Name != oneLine(a.Name) || a.Affiliation != oneLine(a.Affiliation) {
			t.Fatalf("record %q: author %q (%q)", id, a.Name, a.Affiliation)
		}
	}
	for _, k := range p.Keywords {
		if k == "" || k != oneLine(k) {
			t.Fatalf("record %q: keyword %q", id, k)
		}
	}
	cats := p.Categories
	for i, c := range cats {
		if c == "" || len(strings.Fields(c)) != 1 || (format == ArxivAtom && (!arxivCategory.MatchString(c) || slices.Contains(cats[:i], c))) {
			t.Fatalf("record %q: categories %q", id, cats)
		}
	}
	if primary := p.PrimaryCategory; (primary == "") != (len(cats) == 0) || (primary != "" && primary != cats[0]) {
		t.Fatalf("record %q: primary category %q of %q", id, primary, cats)
	}
	if o := p.Organization; o != (repository.Organization{}) {
		if oid := o.ID; oid == "" || len(oid) > 63 || oid != orgID(oid) {
			t.Fatalf("record %q: organization id %q", id, oid)
		}
	}
	if format != HFDaily && p.PDFURL == "" {
		t.Fatalf("record %q has no PDF URL", id)
	}
}

// invalidUTF8 returns a string in v (a struct, slice or pointer of them) that
// is not valid UTF-8, which protobuf refuses to encode.
func invalidUTF8(v reflect.Value) (string, bool) {
	switch v.Kind() {
	case reflect.String:
		return v.String(), !utf8.ValidString(v.String())
	case reflect.Pointer:
		if !v.IsNil() {
			return invalidUTF8(v.Elem())
		}
	case reflect.Slice:
		for i := range v.Len() {
			if s, bad := invalidUTF8(v.Index(i)); bad {
				return s, true
			}
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			break
		}
		for i := range v.NumField() {
			if s, bad := invalidUTF8(v.Field(i)); bad {
				return s, true
			}
		}
	}
	return "", false
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
