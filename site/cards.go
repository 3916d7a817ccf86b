package site

import (
	"html/template"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/language"
	printer "golang.org/x/text/message"

	lru "github.com/hashicorp/golang-lru/v2"

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

// card is a paper as a list shows it. Its text is made here rather than by
// template functions, which cost a reflective call each: a page of cards
// renders in about half the time.
type card struct {
	// ID is the paper's id (its name without "papers/"), its page /papers/{ID}.
	ID, Title, Abstract string
	// AuthorCount is "5 authors", Authors the first of their names ("A, B, C
	// and others").
	AuthorCount, Authors string
	// OrgID and OrgName are the organization's id and display name, if any.
	OrgID, OrgName string
	// SubmittedISO and Submitted are the submit time in the reader's zone
	// (RFC 3339, and as "Jan 2, 2006"); empty when unknown.
	SubmittedISO, Submitted string
	// Upvotes is "1,234 upvotes".
	Upvotes string
	// Github is the code's URL, if any, GithubName its owner/repo and Stars
	// "12 stars".
	Github, GithubName, Stars string
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
		AuthorCount: plural(len(p.GetAuthors()), "author", "authors"),
		OrgID:       p.GetOrganization().GetId(),
		OrgName:     cut(p.GetOrganization().GetDisplayName(), cardOrgBytes),
		Upvotes:     counted(p.GetUpvotes(), "upvote", "upvotes"),
		Arxiv:       p.GetArxivId(),
	}
	if t := p.GetSubmitTime(); t != nil {
		at := t.AsTime().In(loc)
		c.SubmittedISO, c.Submitted = at.Format(time.RFC3339), at.Format("Jan 2, 2006")
	}
	if g := p.GetGithubRepo(); g != "" && len(g) <= cardGithubBytes {
		c.Github, c.GithubName = g, strings.TrimSuffix(githubPrefix.ReplaceAllString(g, ""), "/")
		c.Stars = counted(p.GetGithubStars(), "star", "stars")
	}
	authors := p.GetAuthors()
	names := make([]string, 0, cardAuthors)
	for _, a := range authors[:min(len(authors), cardAuthors)] {
		names = append(names, cut(a.GetName(), cardNameBytes))
	}
	c.Authors = strings.Join(names, ", ")
	if len(authors) > cardAuthors {
		c.Authors += " and others"
	}
	return c
}

// cardTmpl renders one card: a page of cards spends most of its time in
// html/template, so cards are rendered once per paper version and zone and
// kept (see cardCache).
var cardTmpl = template.Must(template.New("cards").Funcs(funcs).ParseFS(files, "templates/cards.html"))

// cardHTML renders c.
func cardHTML(c card) template.HTML {
	var b strings.Builder
	if err := cardTmpl.ExecuteTemplate(&b, "card", c); err != nil {
		return ""
	}
	return template.HTML(b.String()) //nolint:gosec // rendered by html/template
}

// cardCache keeps rendered cards by paper, version (etag and upvotes, which
// change without a new etag) and time zone, the least recently used dropped
// past maxCachedCards.
type cardCache = lru.Cache[string, template.HTML]

// maxCachedCards bounds the cache (about 3 KB a card).
const maxCachedCards = 4096

// newCardCache returns an empty card cache.
func newCardCache() *cardCache {
	c, err := lru.New[string, template.HTML](maxCachedCards)
	if err != nil {
		panic(err) // only for a size below 1
	}
	return c
}

// cards renders the cards of papers, dates in loc, from the cache where it
// can.
func (s *Site) cards(papers []*catalogv1.Paper, loc *time.Location) []template.HTML {
	s.cardsOnce.Do(func() { s.cardCache = newCardCache() })
	out := make([]template.HTML, len(papers))
	for i, p := range papers {
		key := p.GetName() + "\x00" + p.GetEtag() + "\x00" + strconv.FormatInt(p.GetUpvotes(), 10) + "\x00" + loc.String()
		h, ok := s.cardCache.Get(key)
		if !ok {
			h = cardHTML(newCard(p, loc))
			s.cardCache.Add(key, h)
		}
		out[i] = h
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
	"plural": plural,
	"lower":  strings.ToLower,
}

// counted is "1 star" or "1,234 stars".
func counted(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return thousands(n) + " " + many
}

// numbers writes numbers with thousands separators: 12,345.
var numbers = printer.NewPrinter(language.English)

// thousands writes n with thousands separators: 12,345.
func thousands(n int64) string { return numbers.Sprint(n) }

// plural is "1 author" or "3 authors".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
