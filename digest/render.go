// Package digest renders the trending-papers mail: a subject, a plain-text part
// and an HTML part with inline CSS that common mail clients show. Paper titles,
// authors and abstracts are untrusted input: the HTML escapes them and the text
// part drops control characters.
package digest

import (
	"bytes"
	"fmt"
	"html/template"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/papercatalog/papers/repository"
)

// Links are the addresses a digest links to.
type Links struct {
	// Paper returns the address of a paper's page.
	Paper       func(p *repository.Paper) string
	Manage      string
	Unsubscribe string
}

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

// Render renders the digest of edition (the subscriber's day) listing papers.
func Render(edition time.Time, papers []*repository.Paper, links Links) (*Mail, error) {
	items := make([]item, len(papers))
	for i, p := range papers {
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
		items[i] = item{Title: clean(p.Title), URL: links.Paper(p), Authors: authors, Organization: clean(org),
			Excerpt: excerpt(clean(p.Abstract)), Github: p.GithubRepo, Upvotes: p.Upvotes}
	}
	data := map[string]any{"Date": edition.Format("Mon, Jan 2"), "Items": items, "Manage": links.Manage,
		"Unsubscribe": links.Unsubscribe}
	m := &Mail{Subject: "Trending papers · " + edition.Format("Mon, Jan 2")}
	var b bytes.Buffer
	if err := textTmpl.Execute(&b, data); err != nil {
		return nil, err
	}
	m.Text = b.String()
	b.Reset()
	if err := htmlTmpl.Execute(&b, data); err != nil {
		return nil, err
	}
	m.HTML = b.String()
	return m, nil
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

var textTmpl = texttemplate.Must(texttemplate.New("text").Parse(`Trending papers · {{.Date}}
{{range $i, $p := .Items}}
{{$p.Title}}
{{$p.URL}}
{{if $p.Authors}}{{$p.Authors}}
{{end}}{{if $p.Organization}}{{$p.Organization}} · {{end}}{{$p.Upvotes}} upvotes{{if $p.Github}} · code: {{$p.Github}}{{end}}
{{if $p.Excerpt}}{{$p.Excerpt}}
{{end}}{{end}}
--
Change what you get: {{.Manage}}
Unsubscribe: {{.Unsubscribe}}
`))

var htmlTmpl = template.Must(template.New("html").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Trending papers · {{.Date}}</title></head>
<body style="margin:0;padding:0;background:#f6f6f6;font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#1f2328">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f6f6f6"><tr><td align="center" style="padding:24px 12px">
<table role="presentation" width="600" cellpadding="0" cellspacing="0" style="max-width:600px;width:100%;background:#ffffff;border-radius:8px">
<tr><td style="padding:24px 24px 8px 24px"><h1 style="margin:0;font-size:20px">Trending papers · {{.Date}}</h1></td></tr>
{{range .Items}}<tr><td style="padding:16px 24px;border-top:1px solid #eeeeee">
<a href="{{.URL}}" style="font-size:16px;font-weight:600;color:#0b57d0;text-decoration:none">{{.Title}}</a>
<div style="font-size:13px;color:#59636e;margin-top:4px">{{if .Authors}}{{.Authors}}{{end}}{{if .Organization}} · {{.Organization}}{{end}} · ▲ {{.Upvotes}}</div>
{{if .Excerpt}}<p style="font-size:14px;line-height:1.45;margin:8px 0 0 0">{{.Excerpt}}</p>{{end}}
{{if .Github}}<p style="font-size:13px;margin:6px 0 0 0"><a href="{{.Github}}" style="color:#0b57d0">Code on GitHub</a></p>{{end}}
</td></tr>
{{end}}<tr><td style="padding:16px 24px 24px 24px;border-top:1px solid #eeeeee;font-size:12px;color:#59636e">
You get this because you subscribed to trending papers. <a href="{{.Manage}}" style="color:#59636e">Change what you get</a> · <a href="{{.Unsubscribe}}" style="color:#59636e">Unsubscribe</a>
</td></tr></table></td></tr></table></body></html>
`))
