package cite_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/papercatalog/papers/cite"
	"github.com/papercatalog/papers/cite/citetest"
)

var june = time.Date(2017, time.June, 12, 17, 57, 34, 0, time.UTC)

// hostile is a work whose every text holds what BibTeX, LaTeX, RIS and JSON
// give a meaning: braces (unbalanced too), backslashes, %, &, #, $, _, ^, ~,
// quotes, ligatures, newlines, non-ASCII text, names with commas and "and",
// and an author without a name.
var hostile = cite.Work{
	ArxivID: "2401.00001",
	Title:   "On {Unbalanced} } braces \\alpha $x^2$ 100% & #1 a_b ~ <b> -- ``q'' Über 日本\nsecond line",
	Authors: []cite.Author{
		{Name: "Jürgen Müller-Lüdenscheidt", Affiliation: "Universität & Co"},
		{Name: ""},
		{Name: "Smith and Wesson Group"},
		{Name: "ACME, Inc., Ltd"},
		{Name: "Johannes van der Waals"},
		{Name: "Martin Luther King Jr."},
		{Name: "Knuth, Donald E."},
		{Name: "{Brace} \\ Man % 50"},
		{Name: "李 小龙"},
	},
	Published:       june,
	PrimaryCategory: "cs.LG",
	DOI:             "10.1000/a{b}_c\\d%e",
	JournalRef:      "J. Foo 1 (2020) 3--4 & more}",
	Abstract:        "Line one\nline two with {braces} & \"quotes\"",
	Keywords:        []string{"k1", "k & 2"},
}

// TestBibTeXParsesBackToTheWork parses BibTeX with a real parser (see
// citetest) and compares every field with the work: specials escaped, names
// split as written, the DOI percent-encoded where BibTeX cannot hold it.
func TestBibTeXParsesBackToTheWork(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		work    cite.Work
		title   string
		authors []citetest.Creator
		fields  map[string]string
	}{
		"a work full of specials parses back to its text": {
			work:  hostile,
			title: "On {Unbalanced} } braces \\alpha $x^2$ 100% & #1 a_b ~ <b> -- ``q'' Über 日本 second line",
			authors: []citetest.Creator{
				{LastName: "Müller-Lüdenscheidt", FirstName: "Jürgen"},
				{Name: "Smith and Wesson Group"},
				{Name: "ACME, Inc., Ltd"},
				{LastName: "Waals", FirstName: "Johannes", Prefix: "van der"},
				{LastName: "King", FirstName: "Martin Luther", Suffix: "Jr."},
				{LastName: "Knuth", FirstName: "Donald E."},
				{LastName: "50", FirstName: "{Brace} \\ Man %"},
				{LastName: "小龙", FirstName: "李"},
			},
			fields: map[string]string{
				"year": "2017", "month": "6", "eprint": "2401.00001", "archiveprefix": "arXiv", "primaryclass": "cs.LG",
				"doi": "10.1000/a%7Bb%7D_c%5Cd%e", "url": "https://arxiv.org/abs/2401.00001",
				"note": "J. Foo 1 (2020) 3--4 & more}",
			},
		},
		"a work with nothing but its id": {
			work:   cite.Work{ArxivID: "hep-th/9901001"},
			fields: map[string]string{"eprint": "hep-th/9901001", "url": "https://arxiv.org/abs/hep-th/9901001", "year": "", "doi": "", "note": ""},
		},
		"a cut author list ends in others": {
			work:    cite.Work{ArxivID: "2401.00002", Title: "T", Authors: []cite.Author{{Name: "Ada Lovelace"}}, MoreAuthors: true},
			title:   "T",
			authors: []citetest.Creator{{LastName: "Lovelace", FirstName: "Ada"}, {LastName: "others"}},
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			bib := tc.work.BibTeX()
			lib := citetest.Parse(t, bib)
			if len(lib.Errors) > 0 || len(lib.Entries) != 1 {
				t.Fatalf("%d errors %s, %d entries, parsing:\n%s", len(lib.Errors), lib.Errors, len(lib.Entries), bib)
			}
			e := lib.Entries[0]
			if e.Type != "misc" || e.Key != tc.work.Key() {
				t.Errorf("entry @%s{%s}, want @misc{%s}", e.Type, e.Key, tc.work.Key())
			}
			if got := e.String("title"); got != tc.title {
				t.Errorf("title parses to\n%q, want\n%q\nfrom:\n%s", got, tc.title, bib)
			}
			if got := e.Creators("author"); !reflect.DeepEqual(got, tc.authors) {
				t.Errorf("authors parse to\n%+v, want\n%+v\nfrom:\n%s", got, tc.authors, bib)
			}
			for f, want := range tc.fields {
				if got := e.String(f); got != want {
					t.Errorf("%s parses to %q, want %q", f, got, want)
				}
			}
		})
	}
}

// TestBibTeXOfManyWorksParsesTogether puts entries of many works in one
// file, as a reference manager's export does: each parses, with its own key.
func TestBibTeXOfManyWorksParsesTogether(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	works := []cite.Work{hostile, {ArxivID: "2401.00003", Title: "}}}}", Authors: []cite.Author{{Name: "{{{{"}}},
		{ArxivID: "2401.00004", Title: `\`, Authors: []cite.Author{{Name: `\`}}}}
	for _, w := range works {
		b.WriteString(w.BibTeX() + "\n")
	}
	lib := citetest.Parse(t, b.String())
	if len(lib.Errors) > 0 || len(lib.Entries) != len(works) {
		t.Fatalf("%d errors %s, %d entries, parsing:\n%s", len(lib.Errors), lib.Errors, len(lib.Entries), b.String())
	}
	for i, e := range lib.Entries {
		if e.Key != works[i].Key() || e.String("title") != strings.ReplaceAll(works[i].Title, "\n", " ") {
			t.Errorf("entry %d: @%s{%s} title %q, want key %s title %q", i, e.Type, e.Key, e.String("title"), works[i].Key(), works[i].Title)
		}
	}
}

func TestKey(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		work cite.Work
		want string
	}{
		"surname, year, first word that is not a stop word, id": {
			cite.Work{ArxivID: "1706.03762", Title: "Attention Is All You Need", Authors: []cite.Author{{Name: "Ashish Vaswani"}}, Published: june},
			"vaswani2017attention_1706.03762"},
		"accents are folded, stop words skipped": {
			cite.Work{ArxivID: "2401.00001", Title: "The Œuvre of Gödel", Authors: []cite.Author{{Name: "Kurt Gödel"}}, Published: june},
			"godel2017oeuvre_2401.00001"},
		"an old-style id has no slash": {
			cite.Work{ArxivID: "hep-th/9901001", Title: "Strings", Authors: []cite.Author{{Name: "Witten, Edward"}}},
			"wittenstrings_hep-th-9901001"},
		"no authors, no date, no title: the id": {cite.Work{ArxivID: "2401.00002"}, "2401.00002"},
		"empty and non-Latin names give nothing": {
			cite.Work{ArxivID: "2401.00002", Title: "{}%&#", Authors: []cite.Author{{Name: " "}, {Name: "李 小龙"}}},
			"2401.00002"},
		"specials never reach the key": {
			cite.Work{ArxivID: "2401.00005", Title: "a{b}c %d", Authors: []cite.Author{{Name: "O'Brien, P."}}},
			"obrienabc_2401.00005"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := tc.work.Key(); got != tc.want {
				t.Errorf("Key() = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestRISHasOneValueALine reads the RIS record back line by line: each line
// a tag and a value, the authors in order, the record closed by ER.
func TestRISHasOneValueALine(t *testing.T) {
	t.Parallel()
	ris := hostile.RIS()
	if !strings.HasSuffix(ris, "ER  - \r\n") {
		t.Errorf("RIS does not end with ER: %q", ris)
	}
	got := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSuffix(ris, "\r\n"), "\r\n") {
		tag, value, ok := strings.Cut(line, "  - ")
		if !ok || len(tag) != 2 || strings.ContainsAny(value, "\r\n") {
			t.Fatalf("bad RIS line %q in:\n%s", line, ris)
		}
		got[tag] = append(got[tag], value)
	}
	want := map[string][]string{
		"TY": {"UNPB"}, "ID": {hostile.Key()},
		"TI": {"On {Unbalanced} } braces \\alpha $x^2$ 100% & #1 a_b ~ <b> -- ``q'' Über 日本 second line"},
		"AU": {"Müller-Lüdenscheidt, Jürgen", "Smith and Wesson Group", "ACME, Inc., Ltd", "van der Waals, Johannes",
			"King, Martin Luther, Jr.", "Knuth, Donald E.", "50, {Brace} \\ Man %", "小龙, 李"},
		"PY": {"2017"}, "DA": {"2017/06/12"}, "AB": {"Line one line two with {braces} & \"quotes\""},
		"KW": {"k1", "k & 2"}, "PB": {"arXiv"}, "M1": {"arXiv:2401.00001"}, "DO": {hostile.DOI},
		"UR": {"https://arxiv.org/abs/2401.00001"}, "L1": {"https://arxiv.org/pdf/2401.00001"},
		"N1": {"J. Foo 1 (2020) 3--4 & more}"}, "ER": {""},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("RIS fields\n%q\nwant\n%q", got, want)
	}
}

func TestCSLJSON(t *testing.T) {
	t.Parallel()
	var items []map[string]any
	if err := json.Unmarshal([]byte(hostile.CSLJSON()), &items); err != nil || len(items) != 1 {
		t.Fatalf("CSL-JSON %v, %d items: %s", err, len(items), hostile.CSLJSON())
	}
	item := items[0]
	for k, want := range map[string]any{
		"id": hostile.Key(), "type": "article", "DOI": hostile.DOI, "publisher": "arXiv", "number": "arXiv:2401.00001",
		"title":    "On {Unbalanced} } braces \\alpha $x^2$ 100% & #1 a_b ~ <b> -- ``q'' Über 日本 second line",
		"abstract": hostile.Abstract, "keyword": "k1, k & 2", "note": "arXiv:2401.00001 [cs.LG]",
		"issued": map[string]any{"date-parts": []any{[]any{2017.0, 6.0, 12.0}}},
	} {
		if !reflect.DeepEqual(item[k], want) {
			t.Errorf("%s = %#v, want %#v", k, item[k], want)
		}
	}
	authors, _ := item["author"].([]any)
	if len(authors) != 8 ||
		!reflect.DeepEqual(authors[0], map[string]any{"family": "Müller-Lüdenscheidt", "given": "Jürgen"}) ||
		!reflect.DeepEqual(authors[2], map[string]any{"literal": "ACME, Inc., Ltd"}) ||
		!reflect.DeepEqual(authors[4], map[string]any{"family": "King", "given": "Martin Luther", "suffix": "Jr."}) {
		t.Errorf("authors %v", authors)
	}
}

func TestReference(t *testing.T) {
	t.Parallel()
	a := func(names ...string) []cite.Author {
		var out []cite.Author
		for _, n := range names {
			out = append(out, cite.Author{Name: n})
		}
		return out
	}
	for name, tc := range map[string]struct {
		work cite.Work
		want string
	}{
		"more than three authors: three and et al., the DOI's link": {
			cite.Work{ArxivID: "1706.03762", Title: "Attention Is All You Need.", Authors: a("Ashish Vaswani", "Noam Shazeer", "Niki Parmar", "Jakob Uszkoreit"),
				Published: june, PrimaryCategory: "cs.CL", DOI: "10.48550/arXiv.1706.03762"},
			"Vaswani, A., Shazeer, N., Parmar, N., et al. (2017). Attention Is All You Need. arXiv:1706.03762 [cs.CL]. https://doi.org/10.48550/arXiv.1706.03762"},
		"two authors joined by &, arXiv's link": {
			cite.Work{ArxivID: "2401.00001", Title: "T", Authors: a("Jean-Paul Sartre", "ACME, Inc., Ltd"), Published: june},
			"Sartre, J.-P., & ACME, Inc., Ltd (2017). T. arXiv:2401.00001. https://arxiv.org/abs/2401.00001"},
		"a cut list of one is et al.": {
			cite.Work{ArxivID: "2401.00001", Title: "T", Authors: a("Plato"), MoreAuthors: true},
			"Plato, et al. (n.d.). T. arXiv:2401.00001. https://arxiv.org/abs/2401.00001"},
		"nothing but the id": {cite.Work{ArxivID: "2401.00001", Authors: a("", " ")}, "(n.d.). arXiv:2401.00001. https://arxiv.org/abs/2401.00001"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := tc.work.Reference(); got != tc.want {
				t.Errorf("Reference()\n%q, want\n%q", got, tc.want)
			}
		})
	}
}

func TestFormats(t *testing.T) {
	t.Parallel()
	for _, n := range cite.Names() {
		f, ok := cite.ParseFormat(strings.ToUpper(n))
		if !ok || f.String() != n || cite.Render(f, hostile) == "" {
			t.Errorf("format %q: %v %v", n, f, ok)
		}
	}
	if _, ok := cite.ParseFormat("endnote"); ok {
		t.Error("endnote is a format")
	}
	for accept, want := range map[string]cite.Format{
		"application/x-bibtex": cite.BibTeX,
		"text/html, application/x-research-info-systems;q=0.9, */*;q=0.1":     cite.RIS,
		"application/x-bibtex;q=0.5, application/vnd.citationstyles.csl+json": cite.CSLJSON,
		"text/plain": cite.Text,
		"*/*":        0, "": 0, "text/html": 0, "application/x-bibtex;q=bad": 0,
	} {
		got, ok := cite.FromAccept(accept)
		if got != want || ok != (want != 0) {
			t.Errorf("FromAccept(%q) = %v, %v; want %v", accept, got, ok, want)
		}
	}
	if got := cite.BibTeX.ContentType(); got != "application/x-bibtex; charset=utf-8" {
		t.Errorf("BibTeX's content type %q", got)
	}
}
