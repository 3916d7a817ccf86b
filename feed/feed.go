// Package feed writes syndication feeds: Atom 1.0 (RFC 4287) and RSS 2.0. It
// knows nothing of papers: callers fill a Feed of plain strings and times.
//
// Text goes through encoding/xml, which escapes markup (`<`, `&`, `]]>`) and
// replaces characters XML cannot hold (NUL, ESC and the other C0 controls but
// tab, line feed and carriage return; unpaired surrogates; U+FFFE, U+FFFF) with
// U+FFFD, so any text makes a well-formed document.
package feed

import (
	"encoding/xml"
	"io"
	"time"
)

// Feed is one feed: its metadata and entries, newest or most relevant first.
type Feed struct {
	// ID is the feed's permanent, absolute identifier (its URL will do).
	ID    string
	Title string
	// Subtitle says what the feed lists; optional.
	Subtitle string
	// Link is the web page the feed mirrors (rel="alternate").
	Link string
	// Self is the feed's own URL (rel="self").
	Self string
	// Author names who publishes the feed; Atom requires an author for the feed
	// or every entry, so it is always written.
	Author  string
	Updated time.Time
	Entries []Entry
}

// Entry is one item of a feed.
type Entry struct {
	// ID is the entry's permanent, absolute identifier.
	ID    string
	Title string
	// Link is the entry's web page (rel="alternate").
	Link      string
	Published time.Time
	Updated   time.Time
	Authors   []string
	// Summary is plain text.
	Summary    string
	Categories []string
	// Related are further links (arXiv, PDF, code), rel="related".
	Related []Link
}

// Link is a related link of an entry.
type Link struct {
	Href, Title string
	// Type is the media type, e.g. application/pdf; optional.
	Type string
}

// AtomType and RSSType are the media types of the two formats.
const (
	AtomType = "application/atom+xml; charset=utf-8"
	RSSType  = "application/rss+xml; charset=utf-8"
)

// Atom writes f as an Atom 1.0 document.
func Atom(w io.Writer, f *Feed) error {
	doc := atomFeed{
		XMLNS: "http://www.w3.org/2005/Atom", ID: f.ID, Title: text(f.Title), Updated: stamp(f.Updated),
		Links:  []atomLink{{Rel: "self", Type: "application/atom+xml", Href: f.Self}},
		Author: &atomPerson{Name: f.Author},
	}
	if f.Subtitle != "" {
		doc.Subtitle = &atomText{Type: "text", Body: f.Subtitle}
	}
	if f.Link != "" {
		doc.Links = append(doc.Links, atomLink{Rel: "alternate", Type: "text/html", Href: f.Link})
	}
	for _, e := range f.Entries {
		ae := atomEntry{ID: e.ID, Title: text(e.Title), Updated: stamp(e.Updated),
			Links: []atomLink{{Rel: "alternate", Type: "text/html", Href: e.Link}}}
		if !e.Published.IsZero() {
			ae.Published = stamp(e.Published)
		}
		for _, a := range e.Authors {
			ae.Authors = append(ae.Authors, atomPerson{Name: a})
		}
		if e.Summary != "" {
			ae.Summary = &atomText{Type: "text", Body: e.Summary}
		}
		for _, c := range e.Categories {
			ae.Categories = append(ae.Categories, atomCategory{Term: c})
		}
		for _, l := range e.Related {
			ae.Links = append(ae.Links, atomLink{Rel: "related", Type: l.Type, Href: l.Href, Title: l.Title})
		}
		doc.Entries = append(doc.Entries, ae)
	}
	return write(w, doc)
}

// RSS writes f as an RSS 2.0 document; authors go in dc:creator (RSS's own
// author element wants an e-mail address).
func RSS(w io.Writer, f *Feed) error {
	ch := rssChannel{Title: f.Title, Link: f.Link, Description: f.Subtitle, LastBuildDate: rfc1123(f.Updated),
		Self: atomLink{Rel: "self", Type: "application/rss+xml", Href: f.Self}}
	if ch.Description == "" {
		ch.Description = f.Title
	}
	if ch.Link == "" {
		ch.Link = f.Self
	}
	for _, e := range f.Entries {
		item := rssItem{Title: e.Title, Link: e.Link, Description: e.Summary, Creators: e.Authors, Categories: e.Categories,
			GUID: rssGUID{IsPermaLink: "false", ID: e.ID}}
		if !e.Published.IsZero() {
			item.PubDate = rfc1123(e.Published)
		} else {
			item.PubDate = rfc1123(e.Updated)
		}
		for _, l := range e.Related {
			item.Description += "\n\n" + l.Title + ": " + l.Href
		}
		ch.Items = append(ch.Items, item)
	}
	return write(w, rssDoc{Version: "2.0", Atom: "http://www.w3.org/2005/Atom", DC: "http://purl.org/dc/elements/1.1/", Channel: ch})
}

func write(w io.Writer, doc any) error {
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	if err := enc.Encode(doc); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// stamp is an RFC 3339 date-time in UTC, as Atom wants.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// rfc1123 is an RFC 822 date with a four-digit year, as RSS wants.
func rfc1123(t time.Time) string { return t.UTC().Format(time.RFC1123Z) }

func text(s string) atomText { return atomText{Type: "text", Body: s} }

type atomFeed struct {
	XMLName  xml.Name    `xml:"feed"`
	XMLNS    string      `xml:"xmlns,attr"`
	ID       string      `xml:"id"`
	Title    atomText    `xml:"title"`
	Subtitle *atomText   `xml:"subtitle,omitempty"`
	Updated  string      `xml:"updated"`
	Links    []atomLink  `xml:"link"`
	Author   *atomPerson `xml:"author,omitempty"`
	Entries  []atomEntry `xml:"entry"`
}

type atomEntry struct {
	ID         string         `xml:"id"`
	Title      atomText       `xml:"title"`
	Updated    string         `xml:"updated"`
	Published  string         `xml:"published,omitempty"`
	Links      []atomLink     `xml:"link"`
	Authors    []atomPerson   `xml:"author"`
	Summary    *atomText      `xml:"summary,omitempty"`
	Categories []atomCategory `xml:"category"`
}

type atomText struct {
	Type string `xml:"type,attr"`
	Body string `xml:",chardata"`
}

type atomLink struct {
	Rel   string `xml:"rel,attr"`
	Type  string `xml:"type,attr,omitempty"`
	Href  string `xml:"href,attr"`
	Title string `xml:"title,attr,omitempty"`
}

type atomPerson struct {
	Name string `xml:"name"`
}

type atomCategory struct {
	Term string `xml:"term,attr"`
}

type rssDoc struct {
	XMLName xml.Name   `xml:"rss"`
	Version string     `xml:"version,attr"`
	Atom    string     `xml:"xmlns:atom,attr"`
	DC      string     `xml:"xmlns:dc,attr"`
	Channel rssChannel `xml:"channel"`
}

type rssChannel struct {
	Title         string    `xml:"title"`
	Link          string    `xml:"link"`
	Description   string    `xml:"description"`
	LastBuildDate string    `xml:"lastBuildDate"`
	Self          atomLink  `xml:"atom:link"`
	Items         []rssItem `xml:"item"`
}

type rssItem struct {
	Title       string   `xml:"title"`
	Link        string   `xml:"link"`
	Description string   `xml:"description,omitempty"`
	Creators    []string `xml:"dc:creator"`
	Categories  []string `xml:"category"`
	GUID        rssGUID  `xml:"guid"`
	PubDate     string   `xml:"pubDate"`
}

type rssGUID struct {
	IsPermaLink string `xml:"isPermaLink,attr"`
	ID          string `xml:",chardata"`
}
