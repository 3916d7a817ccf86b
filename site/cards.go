package site

import (
	"html/template"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
)

// The cards' limits keep a page of cards small (under 100 KB at the largest
// page with the longest fields the API accepts): the fields are cut, at a
// word where there is one, with an ellipsis.
const (
	cardTitleBytes    = 240
	cardAbstractBytes = 280
	cardAuthors       = 3 // names shown
	cardNameBytes     = 50
	cardOrgBytes      = 80
	// cardGithubBytes is the longest URL of a real repository
	// (https://www.github.com/, an owner of at most 39 characters, a name of
	// at most 100); the API takes any URL of that shape, and a card leaves
	// out a longer one.
	cardGithubBytes = 165
	// listPageSize is the number of cards of a list page.
	listPageSize = 30
)

// card is a paper as a list shows it.
type card struct {
	// ID is the paper's id (its name without "papers/"), its page /papers/{ID}.
	ID, Title, Abstract string
	// AuthorCount is the number of authors, Authors the first of their names.
	AuthorCount int
	Authors     []string
	// OrgID and OrgName are the organization's id and display name, if any.
	OrgID, OrgName string
	// Submitted is the submit time in the reader's zone.
	Submitted time.Time
	Upvotes   int64
	// Github is the code's URL, if any, and GithubStars its stars.
	Github      string
	GithubStars int64
	// Arxiv is the arXiv identifier as arXiv writes it, for the abs and PDF links.
	Arxiv string
	// Snippets are a search's highlighted fragments (title, then abstract),
	// which replace the abstract's excerpt.
	TitleSnippet template.HTML
	Snippets     []template.HTML
}

// newCard is the card of p, its dates in loc.
func newCard(p *catalogv1.Paper, loc *time.Location) card {
	c := card{
		ID:          paperID(p.GetName()),
		Title:       cut(p.GetTitle(), cardTitleBytes),
		Abstract:    cut(strings.Join(strings.Fields(p.GetAbstract()), " "), cardAbstractBytes),
		AuthorCount: len(p.GetAuthors()),
		OrgID:       p.GetOrganization().GetId(),
		OrgName:     cut(p.GetOrganization().GetDisplayName(), cardOrgBytes),
		Upvotes:     p.GetUpvotes(),
		Arxiv:       p.GetArxivId(),
	}
	if g := p.GetGithubRepo(); len(g) <= cardGithubBytes {
		c.Github, c.GithubStars = g, p.GetGithubStars()
	}
	if t := p.GetSubmitTime(); t != nil {
		c.Submitted = t.AsTime().In(loc)
	}
	for _, a := range p.GetAuthors()[:min(len(p.GetAuthors()), cardAuthors)] {
		c.Authors = append(c.Authors, cut(a.GetName(), cardNameBytes))
	}
	return c
}

func cards(papers []*catalogv1.Paper, loc *time.Location) []card {
	out := make([]card, len(papers))
	for i, p := range papers {
		out[i] = newCard(p, loc)
	}
	return out
}

// paperID is the last part of a paper's name, papers/{id}.
func paperID(name string) string { return strings.TrimPrefix(name, "papers/") }

// cut shortens s to at most n bytes, at a word boundary when one lies in
// the last quarter, and marks the cut with an ellipsis.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	if sp := strings.LastIndexByte(s[:i], ' '); s[i] != ' ' && sp > n*3/4 {
		i = sp
	}
	return strings.TrimRight(s[:i], " ,.;:") + "…"
}

// githubPrefix is what a GitHub URL has before owner/repo.
var githubPrefix = regexp.MustCompile(`^https?://(?:www\.)?github\.com/`)

// markTag is the one element search snippets hold.
var markTag = regexp.MustCompile(`</?mark>`)

// marked is a search snippet as HTML: the service marks matches with <mark>
// and escapes the rest; anything else that looks like markup is escaped
// again, and the marks are balanced, so only <mark> elements come through.
func marked(snippet string) template.HTML {
	esc := strings.NewReplacer("<", "&lt;", ">", "&gt;")
	parts, tags := markTag.Split(snippet, -1), markTag.FindAllString(snippet, -1)
	var b strings.Builder
	open := false
	for i, p := range parts {
		b.WriteString(esc.Replace(p))
		if i < len(tags) && (tags[i] == "<mark>") != open {
			b.WriteString(tags[i])
			open = !open
		}
	}
	if open {
		b.WriteString("</mark>")
	}
	return template.HTML(b.String()) //nolint:gosec // escaped above but for balanced <mark> elements
}

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	// thousands writes n with thousands separators: 12,345.
	"thousands": func(n int64) string {
		s := strconv.FormatInt(n, 10)
		neg := strings.HasPrefix(s, "-")
		s = strings.TrimPrefix(s, "-")
		for i := len(s) - 3; i > 0; i -= 3 {
			s = s[:i] + "," + s[i:]
		}
		if neg {
			s = "-" + s
		}
		return s
	},
	"plural": plural,
	"lower":  strings.ToLower,
	// pathEscape escapes a path segment.
	"pathEscape": url.PathEscape,
	// githubName is owner/repo of a GitHub URL.
	"githubName": func(u string) string { return strings.TrimSuffix(githubPrefix.ReplaceAllString(u, ""), "/") },
}

// plural is "1 author" or "3 authors".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
