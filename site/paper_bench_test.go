package site

import (
	"io"
	"testing"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
)

// BenchmarkPaperPage renders the page of a paper of ordinary size (a real
// abstract's length, eight authors, eight similar papers), without the calls.
func BenchmarkPaperPage(b *testing.B) {
	p := longestPaper()
	p.Title, p.Abstract, p.Authors, p.Categories = text(90), text(1500), p.Authors[:8], p.Categories[:3]
	p.Comment, p.JournalRef, p.ProjectPage, p.PdfUrl, p.GithubRepo = text(60), "", "", "", "https://github.com/a/b"
	for _, a := range p.Authors {
		a.Name, a.Affiliation = text(20), text(30)
	}
	var similar []*catalogv1.SimilarPaper
	for range similarPapers {
		similar = append(similar, &catalogv1.SimilarPaper{Paper: p})
	}
	s := &Site{PublicURL: "https://papers.example"}
	b.ReportAllocs()
	for b.Loop() {
		if err := paperTmpl.ExecuteTemplate(io.Discard, "layout", s.paperPage(p, similar)); err != nil {
			b.Fatal(err)
		}
	}
}
