// Package cite writes a paper's citation in the formats reference managers
// read: BibTeX, RIS, CSL-JSON, and a plain-text reference for people. It
// knows nothing of the API: callers fill in a Work.
package cite

import (
	"fmt"
	"mime"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/papercatalog/papers/repository"
)

// Work is what a citation says of a paper.
type Work struct {
	// ArxivID is the arXiv identifier as arXiv writes it, without version:
	// `2111.13056`, `hep-th/9901001`. Required: it makes the BibTeX key unique.
	ArxivID string
	Title   string
	// Authors in byline order; authors without a name are left out.
	Authors []Author
	// MoreAuthors says Authors is the start of a longer list: BibTeX ends it
	// with "and others", the plain reference with "et al.".
	MoreAuthors bool
	// Published is when the first version appeared; zero when unknown.
	Published       time.Time
	PrimaryCategory string
	DOI             string
	JournalRef      string
	Abstract        string
	Keywords        []string
	// PDFURL is the PDF's URL; empty means arXiv's.
	PDFURL string
}

// Author is one author of a Work.
type Author struct {
	// Name is the name as printed, "Given Family" or "Family, Given".
	Name        string
	Affiliation string
}

// Format is a citation format.
type Format int

// The formats, with the names ParseFormat reads.
const (
	BibTeX  Format = iota + 1 // "bibtex"
	RIS                       // "ris"
	CSLJSON                   // "csl-json"
	Text                      // "text": the plain reference
)

var formats = []struct {
	name, mediaType string
}{
	BibTeX:  {"bibtex", "application/x-bibtex"},
	RIS:     {"ris", "application/x-research-info-systems"},
	CSLJSON: {"csl-json", "application/vnd.citationstyles.csl+json"},
	Text:    {"text", "text/plain"},
}

// Names are the names of the formats, in the order of the constants.
func Names() []string {
	var out []string
	for _, f := range formats[1:] {
		out = append(out, f.name)
	}
	return out
}

// ParseFormat returns the format named name (case-insensitive), or false.
func ParseFormat(name string) (Format, bool) {
	for f := BibTeX; f <= Text; f++ {
		if strings.EqualFold(name, formats[f].name) {
			return f, true
		}
	}
	return 0, false
}

// String returns the format's name.
func (f Format) String() string {
	if f < BibTeX || f > Text {
		return "Format(" + strconv.Itoa(int(f)) + ")"
	}
	return formats[f].name
}

// ContentType is the format's media type with its charset, for HTTP.
func (f Format) ContentType() string {
	return formats[f].mediaType + "; charset=utf-8"
}

// FromAccept returns the format an HTTP Accept header asks for: the known
// media type with the highest q-value (the earliest of equals), or false when
// it names none (such as `*/*` or `text/html`; text/plain counts).
func FromAccept(accept string) (Format, bool) {
	var best Format
	bestQ := 0.0
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if s, ok := params["q"]; ok {
			if q, err = strconv.ParseFloat(s, 64); err != nil {
				continue
			}
		}
		for f := BibTeX; f <= Text; f++ {
			if mt == formats[f].mediaType && q > bestQ {
				best, bestQ = f, q
			}
		}
	}
	return best, best != 0
}

// Render writes w in format f.
func Render(f Format, w Work) string {
	switch f {
	case BibTeX:
		return w.BibTeX()
	case RIS:
		return w.RIS()
	case CSLJSON:
		return w.CSLJSON()
	case Text:
		return w.Reference()
	}
	panic(fmt.Sprintf("cite: unknown %v", f))
}

// ArxivURL is the arXiv abstract page of an arXiv identifier.
func ArxivURL(id string) string { return "https://arxiv.org/abs/" + id }

// ArxivPDFURL is the arXiv PDF of an arXiv identifier.
func ArxivPDFURL(id string) string { return "https://arxiv.org/pdf/" + id }

// DOIURL is the resolver URL of a DOI.
func DOIURL(doi string) string { return "https://doi.org/" + doi }

// URL is the work's landing page: arXiv's abstract page.
func (w Work) URL() string { return ArxivURL(w.ArxivID) }

func (w Work) pdf() string {
	if w.PDFURL != "" {
		return w.PDFURL
	}
	return ArxivPDFURL(w.ArxivID)
}

// authors are the authors with a name, split into their parts.
func (w Work) authors() []name {
	var out []name
	for _, a := range w.Authors {
		if n := splitName(a.Name); n.full != "" {
			out = append(out, n)
		}
	}
	return out
}

// oneLine collapses runs of white space (newlines included) into one space
// and drops control characters: every format here is line-based somewhere.
func oneLine(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		case unicode.IsControl(r):
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// name is an author's name in parts.
type name struct {
	full, family, given, suffix string
	// literal names (an organization, a name with several commas) are not
	// split: family and given are empty.
	literal bool
}

// particles are the lower-case words that belong to a family name
// (`van der Waals`, `de la Cruz`).
var particles = []string{"van", "von", "der", "den", "de", "del", "della", "di", "da", "dos", "das", "do", "du", "la", "le", "ten", "ter", "zu", "y", "bin", "al"}

var suffixes = []string{"Jr", "Jr.", "Sr", "Sr.", "II", "III", "IV"}

// splitName splits a name as printed: "Family, Given" at its comma, "Given
// Family" at its last word (with the particles before it); a name with
// several commas, or with the word "and" (a group's), stays whole.
func splitName(s string) name {
	s = oneLine(s)
	n := name{full: s}
	if s == "" {
		return n
	}
	if hasAnd(s) {
		n.literal = true
		return n
	}
	if family, given, ok := strings.Cut(s, ","); ok {
		family, given = strings.TrimSpace(family), strings.TrimSpace(given)
		if strings.Contains(given, ",") || family == "" {
			n.literal = true
			return n
		}
		n.family, n.given = family, given
		return n
	}
	words := strings.Fields(s)
	if len(words) > 1 && slices.Contains(suffixes, words[len(words)-1]) {
		n.suffix = words[len(words)-1]
		words = words[:len(words)-1]
	}
	i := len(words) - 1
	for i > 1 && slices.Contains(particles, words[i-1]) {
		i--
	}
	n.family, n.given = strings.Join(words[i:], " "), strings.Join(words[:i], " ")
	return n
}

// initials are the initials of given names: "Jean-Paul Ann" → "J.-P. A.".
func initials(given string) string {
	var parts []string
	for _, w := range strings.Fields(given) {
		var hy []string
		for _, h := range strings.Split(w, "-") {
			if r := []rune(h); len(r) > 0 {
				hy = append(hy, string(unicode.ToUpper(r[0]))+".")
			}
		}
		parts = append(parts, strings.Join(hy, "-"))
	}
	return strings.Join(parts, " ")
}

// Of is what a citation says of a paper.
func Of(p *repository.Paper) Work {
	w := Work{ArxivID: p.ID, Title: p.Title, Published: p.PublishedTime, PrimaryCategory: p.PrimaryCategory,
		DOI: p.DOI, JournalRef: p.JournalRef, Abstract: p.Abstract, Keywords: p.Keywords, PDFURL: p.PDFURL}
	for _, a := range p.Authors {
		w.Authors = append(w.Authors, Author{Name: a.Name, Affiliation: a.Affiliation})
	}
	return w
}
