package digest

import (
	"html"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/papercatalog/papers/repository"
)

// FuzzRender renders a digest of a paper with hostile text in every field (the
// authors are one string split at ';'). Rendering never fails, and the HTML part
// is valid UTF-8 whose markup is the template's alone: it has exactly the tags,
// quotes and line structure of the same digest rendered from harmless
// placeholders, no script, and no link with a script URL. The text part has the
// same lines as the placeholders' (the link fields aside, which it shows as they
// are) and is valid UTF-8 when the input is.
func FuzzRender(f *testing.F) {
	f.Add(`<script>alert("x")</script> Attention`, "An abstract with <img src=x onerror=alert(1)> and\r\nBcc: evil@example.org",
		"A <b>One</b>;B;C;D;E", "NAVER & AI", "naver-ai", "https://papers.example/papers/2401.00001",
		"https://github.com/example/repo", "https://papers.example/manage?token=m", "https://papers.example/unsubscribe?token=m", int64(42), int64(1793750400))
	f.Add("", "", "", "", "", "", "", "", "", int64(0), int64(0))
	f.Add("\"'><svg onload=alert(1)>", strings.Repeat("word ", 80)+"<script", " ; ;\u2028", " ", "'", `javascript:alert(1)`,
		" JaVaScRiPt:alert(1)", "data:text/html,<script>alert(1)</script>", `"><script>x</script>`, int64(-1), int64(-62135596800))
	f.Add("\xff\xfe\x00\x1b[31m", "\u202e\ufeff\x7f", "\xc3;\x00", "\xff", "\x80", "http://x/\xff", "\n", "\r\nBcc: x@evil", "vbscript:x", int64(1)<<62, int64(253402300799))
	f.Fuzz(func(t *testing.T, title, abstract, authors, orgName, orgID, url, github, manage, unsubscribe string, upvotes, edition int64) {
		day := time.Unix(edition, 0).UTC()
		hostile := paperOf(title, abstract, authors, orgName, orgID, github, upvotes)
		m := render(t, hostile, url, day, manage, unsubscribe)

		// The same digest from placeholders that keep which fields are empty (and
		// empty once cleaned), so that the template takes the same branches.
		harmless := paperOf(placeholder(title), placeholder(abstract), placeholders(authors), placeholder(orgName), placeholder(orgID),
			placeholder(github), upvotes)
		want := render(t, harmless, placeholder(url), day, placeholder(manage), placeholder(unsubscribe))

		if !utf8.ValidString(m.HTML) {
			t.Fatalf("the HTML part is not UTF-8:\n%q", m.HTML)
		}
		for _, c := range []string{"<", ">", `"`, "'", "\n", "\r"} {
			if got, n := strings.Count(m.HTML, c), strings.Count(want.HTML, c); got != n {
				t.Fatalf("the HTML part has %d %q where the template makes %d:\n%s", got, c, n, m.HTML)
			}
		}
		lower := strings.ToLower(m.HTML)
		if strings.Contains(lower, "<script") {
			t.Fatalf("the HTML part holds a script:\n%s", m.HTML)
		}
		for rest := lower; ; {
			_, after, ok := strings.Cut(rest, `href="`)
			if !ok {
				break
			}
			href, _, _ := strings.Cut(after, `"`)
			href = strings.Map(func(r rune) rune {
				if unicode.IsSpace(r) || unicode.IsControl(r) {
					return -1
				}
				return r
			}, html.UnescapeString(href))
			for _, scheme := range []string{"javascript:", "vbscript:", "data:"} {
				if strings.HasPrefix(href, scheme) {
					t.Fatalf("the HTML part links to %q", href)
				}
			}
			rest = after
		}

		links := url + github + manage + unsubscribe
		if got, n := strings.Count(m.Text, "\n"), strings.Count(want.Text, "\n")+strings.Count(links, "\n"); got != n {
			t.Fatalf("the text part has %d lines where the template makes %d:\n%s", got, n, m.Text)
		}
		if strings.Contains(m.Text, "\r") && !strings.Contains(links, "\r") {
			t.Fatalf("the text part holds a carriage return:\n%q", m.Text)
		}
		linksUTF8 := utf8.ValidString(url) && utf8.ValidString(github) && utf8.ValidString(manage) && utf8.ValidString(unsubscribe)
		if !utf8.ValidString(m.Text) && linksUTF8 {
			t.Fatalf("the text part is not UTF-8:\n%q", m.Text)
		}
		if m.Subject != want.Subject || !utf8.ValidString(m.Subject) || strings.ContainsAny(m.Subject, "\r\n") {
			t.Fatalf("subject %q", m.Subject)
		}
	})
}

func paperOf(title, abstract, authors, orgName, orgID, github string, upvotes int64) *repository.Paper {
	p := &repository.Paper{ID: "2401.00001", Title: title, Abstract: abstract, GithubRepo: github, Upvotes: upvotes,
		Organization: repository.Organization{ID: orgID, DisplayName: orgName}}
	if authors != "" {
		for _, name := range strings.Split(authors, ";") {
			p.Authors = append(p.Authors, repository.Author{Name: name})
		}
	}
	return p
}

func render(t *testing.T, p *repository.Paper, url string, day time.Time, manage, unsubscribe string) *Mail {
	t.Helper()
	r := NewRenderer(func(*repository.Paper) string { return url })
	m, err := r.Render(day, []*repository.Paper{p}, manage, unsubscribe)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	return m
}

// placeholder is a harmless text that is empty, or empty once cleaned, when s is.
func placeholder(s string) string {
	switch {
	case s == "":
		return ""
	case clean(s) == "":
		return " "
	}
	return "x"
}

// placeholders is placeholder of each ';'-separated part of s.
func placeholders(s string) string {
	parts := strings.Split(s, ";")
	for i, p := range parts {
		parts[i] = placeholder(p)
	}
	return strings.Join(parts, ";")
}
