package check

import (
	"strings"
	"testing"

	"github.com/papercatalog/papers/repository"
)

func TestPaper(t *testing.T) {
	t.Parallel()
	valid := func() *repository.Paper { return &repository.Paper{ID: "2111.13056", Title: "ViDT"} }
	tests := []struct {
		name   string
		change func(p *repository.Paper)
		want   string // the first violation, or ""
	}{
		{"a paper with a title is valid", func(*repository.Paper) {}, ""},
		{"a title is required", func(p *repository.Paper) { p.Title = "  " }, "paper.title: is required"},
		{"a title has no control characters", func(p *repository.Paper) { p.Title = "a\x1bb" },
			"paper.title: must not contain control characters such as NUL or ESC (found U+001B at character 2)"},
		{"an abstract may hold carriage returns", func(p *repository.Paper) { p.Abstract = "a\r\nb" }, ""},
		{"an author needs a name", func(p *repository.Paper) { p.Authors = []repository.Author{{}} },
			"paper.authors: author 0 has no name"},
		{"a category list has no empty entry", func(p *repository.Paper) { p.Categories = []string{"cs.LG", ""} },
			"paper.categories: entry 1 is empty"},
		{"an organization id is a slug", func(p *repository.Paper) { p.Organization.ID = "Naver AI" },
			"paper.organization.id: must be 1 to 63 lower-case letters"},
		{"the GitHub repository is a repository URL", func(p *repository.Paper) { p.GithubRepo = "https://github.com/naver-ai" },
			"paper.github_repo: must be a GitHub repository URL"},
		{"a PDF URL is http or https", func(p *repository.Paper) { p.PDFURL = "ftp://arxiv.org/x.pdf" },
			"paper.pdf_url: must be an http or https URL"},
		{"stars are not negative", func(p *repository.Paper) { p.GithubStars = -1 },
			"paper.github_stars: must not be negative"},
		{"the arXiv version is at most 1000", func(p *repository.Paper) { p.ArxivVersion = 1001 },
			"paper.arxiv_version: must be between 0 and 1000"},
		{"a title is at most 1000 characters", func(p *repository.Paper) { p.Title = strings.Repeat("é", 1001) },
			"paper.title: must be at most 1000 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := valid()
			tt.change(p)
			var v Violations
			Paper(&v, "paper.", p)
			if got := v.First(); (tt.want == "") != (got == "") || !strings.HasPrefix(got, tt.want) {
				t.Errorf("first violation %q, want %q", got, tt.want)
			}
		})
	}
}
