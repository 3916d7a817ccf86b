package cite_test

import (
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/papercatalog/papers/cite"
)

var keyChars = regexp.MustCompile(`^[a-z0-9._-]+$`)

// FuzzBibTeX checks what makes BibTeX well formed whatever the text: braces
// balance in every line (BibTeX counts each brace, escaped or not), no value
// spans lines, the key has only safe characters, and RIS keeps one value a
// line. The seed corpus runs with the tests; `make fuzz` explores.
func FuzzBibTeX(f *testing.F) {
	f.Add("On {braces} \\ % & # $ _ ^ ~", "Jürgen Müller, and {x", "10.1/{a}", "J. 1 -- 2}")
	f.Add("}{", "a,b,c", "\\", "\n\r\t")
	f.Fuzz(func(t *testing.T, title, author, doi, journal string) {
		if !utf8.ValidString(title + author + doi + journal) {
			t.Skip()
		}
		w := cite.Work{ArxivID: "2401.00001", Title: title, Authors: []cite.Author{{Name: author}, {Name: author + " and"}},
			DOI: doi, JournalRef: journal, Abstract: title, PrimaryCategory: journal, Published: time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)}
		bib := w.BibTeX()
		lines := strings.Split(strings.TrimSuffix(bib, "\n"), "\n")
		for _, line := range lines[1 : len(lines)-1] {
			depth := 0
			for _, r := range line {
				switch r {
				case '{':
					depth++
				case '}':
					depth--
				}
				if depth < 0 {
					t.Fatalf("a brace closes what it did not open in %q", line)
				}
			}
			if depth != 0 || !strings.HasPrefix(line, "  ") || !strings.HasSuffix(line, ",") {
				t.Fatalf("line %q is not one balanced field", line)
			}
		}
		if !keyChars.MatchString(w.Key()) {
			t.Fatalf("key %q", w.Key())
		}
		for _, line := range strings.Split(strings.TrimSuffix(w.RIS(), "\r\n"), "\r\n") {
			if tag, _, ok := strings.Cut(line, "  - "); !ok || len(tag) != 2 {
				t.Fatalf("RIS line %q", line)
			}
		}
	})
}
