package site

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
)

// text is n characters of prose with the characters HTML and BibTeX escape
// here and there, as real titles and abstracts have them.
func text(n int) string {
	const prose = "Quantized attention & sparse <mixture> of experts at 100% of \"scale\" for {deep} networks. "
	return strings.Repeat(prose, n/len(prose)+1)[:n]
}

// longestPaper is a paper with every field at the longest the catalog
// allows (check/check.go).
func longestPaper() *catalogv1.Paper {
	t := timestamppb.New(time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC))
	p := &catalogv1.Paper{Name: "papers/2402.12345", ArxivId: "2402.12345", ArxivVersion: 1000, Title: text(1000), Abstract: text(20000),
		PrimaryCategory: strings.Repeat("c", 50), PublishedTime: t, ArxivUpdateTime: t, SubmitTime: t, Submitter: text(300),
		Organization: &catalogv1.Organization{Id: strings.Repeat("o", 63), DisplayName: text(200)},
		GithubRepo:   "https://github.com/" + strings.Repeat("g", 1000) + "/" + strings.Repeat("r", 1000), GithubStars: 1 << 40,
		ProjectPage: "https://example.org/" + strings.Repeat("p", 2020), PdfUrl: "https://example.org/" + strings.Repeat("f", 2020),
		Doi: "10.1000/" + strings.Repeat("d", 192), JournalRef: text(1000), Comment: text(2000), Upvotes: 1 << 40}
	for i := range 5000 {
		p.Authors = append(p.Authors, &catalogv1.Author{Name: fmt.Sprintf("%03d %s", i, text(296)), Affiliation: text(300)})
	}
	for i := range 50 {
		p.Categories = append(p.Categories, fmt.Sprintf("%02d%s", i, strings.Repeat("c", 48)))
	}
	for i := range 100 {
		p.Keywords = append(p.Keywords, fmt.Sprintf("%02d%s", i, text(98)))
	}
	return p
}

// TestPaperPageStaysSmall renders the page of papers with the longest fields
// allowed, and with thousands of short-named authors: each under 100 KB,
// still naming its first authors and how many more there are.
func TestPaperPageStaysSmall(t *testing.T) {
	t.Parallel()
	many := longestPaper()
	for i, a := range many.Authors {
		a.Name, a.Affiliation = fmt.Sprintf("A. Author%d", i), ""
	}
	for name, p := range map[string]*catalogv1.Paper{"longest fields": longestPaper(), "5,000 short names": many} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var similar []*catalogv1.SimilarPaper
			for range similarPapers {
				similar = append(similar, &catalogv1.SimilarPaper{Paper: longestPaper()})
			}
			s := &Site{PublicURL: "https://papers.example"}
			var b strings.Builder
			page := s.paperPage(p, similar)
			if err := paperTmpl.ExecuteTemplate(&b, "layout", page); err != nil {
				t.Fatal(err)
			}
			html := b.String()
			t.Logf("%d bytes, %d authors shown", len(html), len(page.Authors))
			if len(html) > 100_000 {
				t.Errorf("the page is %d bytes, over 100 KB", len(html))
			}
			if len(page.Authors) == 0 || !strings.Contains(html, p.Authors[0].Name[:10]) ||
				!strings.Contains(html, fmt.Sprintf("and %d more", 5000-len(page.Authors))) {
				t.Errorf("the page does not show the first authors and how many more")
			}
			if !strings.Contains(page.BibTeX, " and others}") || !strings.Contains(page.Citable, "et al.") {
				t.Errorf("the page's citations do not say the list is cut: %s", page.BibTeX)
			}
		})
	}
}

// TestPageCache keeps a page per paper under its key, replaces it when the
// key changes, and drops pages to stay within its bound.
func TestPageCache(t *testing.T) {
	t.Parallel()
	var c pageCache
	c.put("papers/1", "k1", []byte("one"))
	if got, ok := c.get("papers/1", "k1"); !ok || string(got) != "one" {
		t.Errorf("get = %q %v", got, ok)
	}
	if _, ok := c.get("papers/1", "k2"); ok {
		t.Error("a page rendered from another key was served")
	}
	c.put("papers/1", "k2", []byte("two!"))
	if got, ok := c.get("papers/1", "k2"); !ok || string(got) != "two!" || c.bytes != 4 {
		t.Errorf("after a new key: %q %v, %d bytes", got, ok, c.bytes)
	}
	big := make([]byte, pageCacheBytes/4)
	for i := range 10 {
		c.put(fmt.Sprintf("papers/big%d", i), "k", big)
	}
	if c.bytes > pageCacheBytes || len(c.pages) > 4 {
		t.Errorf("%d bytes in %d pages, over the bound of %d", c.bytes, len(c.pages), pageCacheBytes)
	}
	if _, ok := c.get("papers/big9", "k"); !ok {
		t.Error("the page put last was dropped")
	}
}
