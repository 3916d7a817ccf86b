package digest

import (
	"strings"
	"testing"
	"time"

	"github.com/papercatalog/papers/repository"
)

func TestHostileTextIsEscaped(t *testing.T) {
	p := &repository.Paper{ID: "2401.00001", Title: `<script>alert("x")</script> Attention`,
		Abstract:     "An abstract with <img src=x onerror=alert(1)> and\r\nBcc: evil@example.org",
		Authors:      []repository.Author{{Name: "A <b>One</b>"}, {Name: "B"}, {Name: "C"}, {Name: "D"}, {Name: "E"}},
		Organization: repository.Organization{ID: "naver-ai", DisplayName: "NAVER & AI"}, Upvotes: 42,
		GithubRepo: "https://github.com/example/repo"}
	r := NewRenderer(func(p *repository.Paper) string { return "https://papers.example/papers/" + p.ID })
	m, err := r.Render(time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC), []*repository.Paper{p},
		"https://papers.example/subscriptions/manage?token=m", "https://papers.example/unsubscribe?token=m")
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "Trending papers · Tue, Nov 3" {
		t.Errorf("subject %q", m.Subject)
	}
	for _, bad := range []string{"<script>", "<img", "<b>One", "\r", "\nBcc:"} {
		if strings.Contains(m.HTML, bad) {
			t.Errorf("HTML holds %q", bad)
		}
	}
	for _, want := range []string{"&lt;script&gt;", "&lt;img src=x", "NAVER &amp; AI", "&#43;2 more", "▲ 42",
		`href="https://papers.example/papers/2401.00001"`, `href="https://github.com/example/repo"`, "Unsubscribe</a>"} {
		if !strings.Contains(m.HTML, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	if strings.Contains(m.Text, "\r") || strings.Contains(m.Text, "\nBcc:") || !strings.Contains(m.Text, "A <b>One</b>, B, C +2 more") ||
		!strings.Contains(m.Text, "Unsubscribe: https://papers.example/unsubscribe?token=m") {
		t.Errorf("text:\n%s", m.Text)
	}
}

func TestExcerptCutsAtAWord(t *testing.T) {
	long := strings.Repeat("word ", 100)
	e := excerpt(clean(long))
	if !strings.HasSuffix(e, "…") || len([]rune(e)) > excerptRunes+1 || strings.HasSuffix(strings.TrimSuffix(e, "…"), " ") {
		t.Errorf("excerpt %q", e)
	}
	if excerpt("short") != "short" {
		t.Error("a short abstract was cut")
	}
}
