// Package digest renders the trending-papers mail: a subject, a plain-text part
// and an HTML part with inline CSS that common mail clients show. Paper titles,
// authors and abstracts are untrusted input: the HTML escapes them and the text
// part drops control characters.
package digest

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"strings"
	"sync"
	texttemplate "text/template"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/papercatalog/papers/repository"
)

// Mail is a rendered digest.
type Mail struct {
	Subject string
	Text    string
	HTML    string
}

// item is a paper as the templates show it.
type item struct {
	Title, URL, Authors, Organization, Excerpt, Github string
	Upvotes                                            int64
}

// maxAuthors is how many authors a digest names before "+N more".
const maxAuthors = 3

// excerptRunes is the length of an abstract excerpt.
const excerptRunes = 280

// Renderer renders digests, each paper once however many digests list it: a
// digest is its date's head, its papers' parts and a foot with its subscriber's
// links. It is safe for concurrent use.
type Renderer struct {
	paperURL func(*repository.Paper) string

	mu    sync.Mutex
	parts map[partKey]part
}

// partKey names a rendered part: a paper as it is at one version with one
// number of upvotes, or (id empty) the head of a date.
type partKey struct {
	id, date         string
	version, upvotes int64
}

type part struct{ text, html string }

// maxParts bounds a renderer's memory; it starts afresh beyond.
const maxParts = 20000

// NewRenderer returns a renderer whose digests link papers to paperURL(p).
func NewRenderer(paperURL func(p *repository.Paper) string) *Renderer {
	return &Renderer{paperURL: paperURL, parts: map[partKey]part{}}
}

// Render renders the digest of edition (the subscriber's day) listing papers,
// with the subscriber's manage and unsubscribe links.
func (r *Renderer) Render(edition time.Time, papers []*repository.Paper, manage, unsubscribe string) (*Mail, error) {
	date := edition.Format("Mon, Jan 2")
	head, err := r.part(partKey{date: date}, func() any { return map[string]string{"Date": date} })
	if err != nil {
		return nil, err
	}
	var text, html strings.Builder
	text.WriteString(head.text)
	html.WriteString(head.html)
	for _, p := range papers {
		it, err := r.part(partKey{id: p.ID, version: p.Version, upvotes: p.Upvotes}, func() any { return r.item(p) })
		if err != nil {
			return nil, err
		}
		text.WriteString(it.text)
		html.WriteString(it.html)
	}
	foot, err := execute("foot", map[string]string{"Manage": manage, "Unsubscribe": unsubscribe})
	if err != nil {
		return nil, err
	}
	text.WriteString(foot.text)
	html.WriteString(foot.html)
	return &Mail{Subject: "Trending papers · " + date, Text: text.String(), HTML: html.String()}, nil
}

// part returns the part key names, rendered from data() the first time.
func (r *Renderer) part(key partKey, data func() any) (part, error) {
	r.mu.Lock()
	pt, ok := r.parts[key]
	r.mu.Unlock()
	if ok {
		return pt, nil
	}
	name := "item"
	if key.id == "" {
		name = "head"
	}
	pt, err := execute(name, data())
	if err != nil {
		return pt, err
	}
	r.mu.Lock()
	if len(r.parts) >= maxParts {
		clear(r.parts)
	}
	r.parts[key] = pt
	r.mu.Unlock()
	return pt, nil
}

// execute renders the text and HTML templates of a part.
func execute(name string, data any) (part, error) {
	var b bytes.Buffer
	if err := textTmpl.ExecuteTemplate(&b, name, data); err != nil {
		return part{}, err
	}
	text := b.String()
	b.Reset()
	if err := htmlTmpl.ExecuteTemplate(&b, name, data); err != nil {
		return part{}, err
	}
	return part{text: text, html: b.String()}, nil
}

// item is how a paper shows in a digest.
func (r *Renderer) item(p *repository.Paper) item {
	var names []string
	for _, a := range p.Authors[:min(len(p.Authors), maxAuthors)] {
		names = append(names, clean(a.Name))
	}
	authors := strings.Join(names, ", ")
	if more := len(p.Authors) - maxAuthors; more > 0 {
		authors += fmt.Sprintf(" +%d more", more)
	}
	org := p.Organization.DisplayName
	if org == "" {
		org = p.Organization.ID
	}
	return item{Title: clean(p.Title), URL: r.paperURL(p), Authors: authors, Organization: clean(org),
		Excerpt: excerpt(clean(p.Abstract)), Github: p.GithubRepo, Upvotes: p.Upvotes}
}

// clean drops control characters (line breaks included) and collapses spaces.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

func excerpt(s string) string {
	if utf8.RuneCountInString(s) <= excerptRunes {
		return s
	}
	r := []rune(s)[:excerptRunes]
	cut := string(r)
	if i := strings.LastIndexByte(cut, ' '); i > excerptRunes/2 {
		cut = cut[:i]
	}
	return cut + "…"
}

// templates holds the templates of the parts of a digest ("head", one "item"
// per paper, "foot") as text and as HTML, parsed once when the package loads.
//
//go:embed templates/digest.txt templates/digest.html
var templates embed.FS

var (
	textTmpl = texttemplate.Must(texttemplate.ParseFS(templates, "templates/digest.txt"))
	htmlTmpl = template.Must(template.ParseFS(templates, "templates/digest.html"))
)
