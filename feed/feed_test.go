package feed

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"
)

// hostile holds what breaks naive feed writers: markup, a CDATA end, an
// entity, and characters XML 1.0 cannot hold at all (NUL, ESC, form feed,
// U+FFFE).
const hostile = "a <b>&amp; ]]> \x00\x1b\x0c\uFFFE \"q\" 'z' é"

func sample() *Feed {
	t0 := time.Date(2024, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 3600))
	return &Feed{ID: "https://p.example/feeds/daily.atom", Title: "Daily " + hostile, Subtitle: "sub " + hostile,
		Link: "https://p.example/", Self: "https://p.example/feeds/daily.atom?x=1&y=<2>", Author: "Paper Catalog", Updated: t0,
		Entries: []Entry{{ID: "https://p.example/papers/2401.00001", Title: "T " + hostile, Link: "https://p.example/papers/2401.00001",
			Published: t0.Add(-time.Hour), Updated: t0, Authors: []string{"Ada " + hostile, "Grace"}, Summary: "S " + hostile,
			Categories: []string{"cs.LG", hostile}, Related: []Link{{Href: "https://arxiv.org/abs/2401.00001", Title: "arXiv"},
				{Href: "https://arxiv.org/pdf/2401.00001", Title: "PDF", Type: "application/pdf"}}},
			{ID: "https://p.example/papers/2401.00002", Title: "No authors", Link: "https://p.example/papers/2401.00002", Updated: t0}}}
}

// wellFormed parses doc strictly to its end.
func wellFormed(t *testing.T, doc []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(doc))
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, doc)
		}
	}
}

// TestAtomAndRSSParseAndKeepEveryField writes both formats of a feed full of
// hostile text; each is well-formed XML, and gofeed reads back every field
// with the characters XML cannot hold replaced by U+FFFD.
func TestAtomAndRSSParseAndKeepEveryField(t *testing.T) {
	t.Parallel()
	clean := strings.NewReplacer("\x00", "\uFFFD", "\x1b", "\uFFFD", "\x0c", "\uFFFD", "\uFFFE", "\uFFFD").Replace
	for name, write := range map[string]func(io.Writer, *Feed) error{"atom": Atom, "rss": RSS} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var b bytes.Buffer
			if err := write(&b, sample()); err != nil {
				t.Fatal(err)
			}
			wellFormed(t, b.Bytes())
			f, err := gofeed.NewParser().Parse(bytes.NewReader(b.Bytes()))
			if err != nil {
				t.Fatalf("gofeed: %v\n%s", err, b.Bytes())
			}
			if f.FeedType != name {
				t.Errorf("feed type %q", f.FeedType)
			}
			if f.Title != clean("Daily "+hostile) || f.Description != clean("sub "+hostile) {
				t.Errorf("title %q, description %q", f.Title, f.Description)
			}
			if len(f.Items) != 2 {
				t.Fatalf("%d items", len(f.Items))
			}
			it := f.Items[0]
			if it.Title != clean("T "+hostile) || it.Link != "https://p.example/papers/2401.00001" || it.GUID != "https://p.example/papers/2401.00001" {
				t.Errorf("item: title %q link %q guid %q", it.Title, it.Link, it.GUID)
			}
			if !strings.HasPrefix(it.Description, clean("S "+hostile)) {
				t.Errorf("description %q", it.Description)
			}
			var authors []string
			for _, a := range it.Authors {
				authors = append(authors, a.Name)
			}
			if name == "rss" && it.DublinCoreExt != nil { // gofeed keeps the first dc:creator as the author
				authors = it.DublinCoreExt.Creator
			}
			if len(authors) != 2 || authors[0] != clean("Ada "+hostile) || authors[1] != "Grace" {
				t.Errorf("authors %q", authors)
			}
			if len(it.Categories) != 2 || it.Categories[0] != "cs.LG" {
				t.Errorf("categories %q", it.Categories)
			}
			if it.PublishedParsed == nil || !it.PublishedParsed.Equal(time.Date(2024, 1, 2, 1, 4, 5, 0, time.UTC)) {
				t.Errorf("published %v", it.PublishedParsed)
			}
			if name == "atom" {
				if f.UpdatedParsed == nil || !f.UpdatedParsed.Equal(time.Date(2024, 1, 2, 2, 4, 5, 0, time.UTC)) {
					t.Errorf("feed updated %v", f.UpdatedParsed)
				}
				if !strings.Contains(b.String(), `<link rel="related" href="https://arxiv.org/pdf/2401.00001" title="PDF"`) &&
					!strings.Contains(b.String(), `<link rel="related" type="application/pdf" href="https://arxiv.org/pdf/2401.00001" title="PDF">`) {
					t.Errorf("no related PDF link:\n%s", b.String())
				}
			} else if !strings.Contains(it.Description, "PDF: https://arxiv.org/pdf/2401.00001") {
				t.Errorf("no PDF link in %q", it.Description)
			}
			if strings.Contains(b.String(), "]]>") || strings.Contains(b.String(), "<b>") {
				t.Errorf("unescaped markup:\n%s", b.String())
			}
		})
	}
}
