package cite

import (
	"encoding/json"
	"fmt"
	"strings"
)

// cslName is a CSL-JSON name.
type cslName struct {
	Family  string `json:"family,omitempty"`
	Given   string `json:"given,omitempty"`
	Suffix  string `json:"suffix,omitempty"`
	Literal string `json:"literal,omitempty"`
}

type cslDate struct {
	DateParts [][]int `json:"date-parts"`
}

// cslItem is a CSL-JSON item, with the variables of CSL 1.0.2.
type cslItem struct {
	ID             string    `json:"id"`
	Type           string    `json:"type"`
	Title          string    `json:"title,omitempty"`
	Author         []cslName `json:"author,omitempty"`
	Issued         *cslDate  `json:"issued,omitempty"`
	Publisher      string    `json:"publisher,omitempty"`
	Number         string    `json:"number,omitempty"`
	DOI            string    `json:"DOI,omitempty"`
	URL            string    `json:"URL,omitempty"`
	Abstract       string    `json:"abstract,omitempty"`
	Keyword        string    `json:"keyword,omitempty"`
	Note           string    `json:"note,omitempty"`
	ContainerTitle string    `json:"container-title,omitempty"`
}

// CSLJSON is the work as CSL-JSON (an array of one item of type article, the
// type CSL gives preprints), as citeproc processors and Zotero read it.
func (w Work) CSLJSON() string {
	item := cslItem{ID: w.Key(), Type: "article", Title: oneLine(w.Title), Publisher: "arXiv",
		Number: "arXiv:" + w.ArxivID, DOI: oneLine(w.DOI), URL: w.URL(), Abstract: w.Abstract,
		ContainerTitle: oneLine(w.JournalRef)}
	for _, n := range w.authors() {
		if n.literal || n.family == "" {
			item.Author = append(item.Author, cslName{Literal: n.full})
		} else {
			item.Author = append(item.Author, cslName{Family: n.family, Given: n.given, Suffix: n.suffix})
		}
	}
	if d := w.Published; !d.IsZero() {
		item.Issued = &cslDate{DateParts: [][]int{{d.Year(), int(d.Month()), d.Day()}}}
	}
	var kw []string
	for _, k := range w.Keywords {
		kw = append(kw, oneLine(k))
	}
	item.Keyword = strings.Join(kw, ", ")
	if w.PrimaryCategory != "" {
		item.Note = fmt.Sprintf("arXiv:%s [%s]", w.ArxivID, oneLine(w.PrimaryCategory))
	}
	out, err := json.MarshalIndent([]cslItem{item}, "", "  ")
	if err != nil {
		panic(err) // strings and ints only
	}
	return string(out) + "\n"
}
