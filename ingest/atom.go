package ingest

import (
	"bufio"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/papercatalog/papers/repository"
)

const (
	atomNS       = "http://www.w3.org/2005/Atom"
	arxivNS      = "http://arxiv.org/schemas/atom"
	openSearchNS = "http://a9.com/-/spec/opensearch/1.1/"
)

// atomEntry is one <entry> of an arXiv API response.
type atomEntry struct {
	ID        string `xml:"http://www.w3.org/2005/Atom id"`
	Published string `xml:"http://www.w3.org/2005/Atom published"`
	Updated   string `xml:"http://www.w3.org/2005/Atom updated"`
	Title     string `xml:"http://www.w3.org/2005/Atom title"`
	Summary   string `xml:"http://www.w3.org/2005/Atom summary"`
	Authors   []struct {
		Name         string   `xml:"http://www.w3.org/2005/Atom name"`
		Affiliations []string `xml:"http://arxiv.org/schemas/atom affiliation"`
	} `xml:"http://www.w3.org/2005/Atom author"`
	Primary struct {
		Term string `xml:"term,attr"`
	} `xml:"http://arxiv.org/schemas/atom primary_category"`
	Categories []struct {
		Term string `xml:"term,attr"`
	} `xml:"http://www.w3.org/2005/Atom category"`
	Links []struct {
		Href  string `xml:"href,attr"`
		Title string `xml:"title,attr"`
	} `xml:"http://www.w3.org/2005/Atom link"`
	DOI        string `xml:"http://arxiv.org/schemas/atom doi"`
	JournalRef string `xml:"http://arxiv.org/schemas/atom journal_ref"`
	Comment    string `xml:"http://arxiv.org/schemas/atom comment"`
}

func atomReader(br *bufio.Reader, total *int64) func() (Item, bool, error) {
	dec := xml.NewDecoder(br)
	return func() (Item, bool, error) {
		for {
			tok, err := dec.Token()
			if errors.Is(err, io.EOF) {
				return Item{}, false, nil
			}
			if err != nil {
				line, _ := dec.InputPos()
				return Item{}, false, fmt.Errorf("line %d: not a well-formed Atom feed: %w", line, err)
			}
			start, ok := tok.(xml.StartElement)
			if !ok {
				continue
			}
			switch {
			case start.Name.Space == openSearchNS && start.Name.Local == "totalResults":
				var s string
				if err := dec.DecodeElement(&s, &start); err != nil {
					return Item{}, false, fmt.Errorf("opensearch:totalResults: %w", err)
				}
				if n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil {
					*total = n
				}
			case start.Name.Space == atomNS && start.Name.Local == "entry":
				line, _ := dec.InputPos()
				var e atomEntry
				if err := dec.DecodeElement(&e, &start); err != nil {
					return Item{}, false, fmt.Errorf("line %d: entry: %w", line, err)
				}
				pos := int64(line)
				rec, err := parseAtomEntry(&e)
				if err != nil {
					return Item{Position: pos, Err: fmt.Errorf("line %d: %w", line, err)}, true, nil
				}
				rec.Position = pos
				return Item{Record: rec, Position: pos}, true, nil
			}
		}
	}
}

func parseAtomEntry(e *atomEntry) (*Record, error) {
	raw := strings.TrimSpace(e.ID)
	_, idv, ok := strings.Cut(raw, "arxiv.org/abs/")
	if !ok {
		if strings.Contains(raw, "/api/errors") {
			return nil, fmt.Errorf("the arXiv API reports an error: %s", oneLine(e.Summary))
		}
		return nil, fmt.Errorf("id %q is not an arXiv abstract URL", raw)
	}
	id, version := splitVersion(strings.TrimSpace(idv))
	if id == "" || strings.ContainsFunc(id, unicode.IsSpace) {
		return nil, fmt.Errorf("id %q names no arXiv identifier", raw)
	}
	rec := &Record{ID: id, Paper: repository.Paper{
		ArxivVersion:    version,
		Title:           oneLine(e.Title),
		Abstract:        paragraphs(e.Summary),
		PrimaryCategory: strings.TrimSpace(e.Primary.Term),
		DOI:             strings.TrimSpace(e.DOI),
		JournalRef:      oneLine(e.JournalRef),
		Comment:         oneLine(e.Comment),
	}}
	p := &rec.Paper
	for _, a := range e.Authors {
		name := oneLine(a.Name)
		if name == "" {
			continue
		}
		var affs []string
		for _, af := range a.Affiliations {
			if af = oneLine(af); af != "" {
				affs = append(affs, af)
			}
		}
		p.Authors = append(p.Authors, repository.Author{Name: name, Affiliation: strings.Join(affs, "; ")})
	}
	seen := map[string]bool{}
	addCategory := func(c string) {
		if c = strings.TrimSpace(c); arxivCategory.MatchString(c) && !seen[c] {
			seen[c] = true
			p.Categories = append(p.Categories, c)
		}
	}
	addCategory(p.PrimaryCategory)
	for _, c := range e.Categories {
		addCategory(c.Term)
	}
	if !arxivCategory.MatchString(p.PrimaryCategory) {
		p.PrimaryCategory = ""
		if len(p.Categories) > 0 {
			p.PrimaryCategory = p.Categories[0]
		}
	}
	for _, l := range e.Links {
		// Only web links: anything else (javascript:, data:) is left out, and
		// the paper keeps arXiv's own PDF address.
		href := strings.TrimSpace(l.Href)
		if u, err := url.Parse(href); l.Title == "pdf" && err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
			p.PDFURL = strings.Replace(href, "http://", "https://", 1)
		}
	}
	if p.PDFURL == "" {
		p.PDFURL = pdfURL(id)
	}
	for _, f := range []struct {
		text string
		dst  *time.Time
	}{{e.Published, &p.PublishedTime}, {e.Updated, &p.ArxivUpdateTime}} {
		if s := strings.TrimSpace(f.text); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return nil, fmt.Errorf("%s: date %q is not RFC 3339", id, s)
			}
			*f.dst = t.UTC()
		}
	}
	return rec, nil
}
