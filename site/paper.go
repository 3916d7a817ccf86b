package site

import (
	"bytes"
	"html"
	"html/template"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/papercatalog/papers/cite"
	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
)

// The page of a paper shows (and cites) its authors up to these limits, so
// that it stays small whatever the paper: at most maxPageAuthors, and names
// and affiliations of at most authorBudget bytes, a name counting four times
// (the list, a meta tag, BibTeX and RIS show it). A collaboration's paper
// with thousands of authors shows the first ones and says how many more;
// CitePaper has them all.
const (
	maxPageAuthors = 100
	authorBudget   = 16000
	similarPapers  = 8
	// descriptionRunes is the length of the abstract's excerpt in link
	// previews; similarRunes that of a similar paper's title and authors.
	descriptionRunes = 300
	similarRunes     = 200
)

// oldStyleID is an old-style arXiv id with its slash, `hep-th/9901001`.
var oldStyleID = regexp.MustCompile(`^[a-z]+(?:-[a-z]+)*(?:\.[A-Z]{2})?/[0-9]{7}$`)

// paperPath is the page of the paper named name (`papers/{paper}`).
func paperPath(name string) string { return "/" + name }

// meta is a <meta> tag: Name for name=, Property for property= (Open
// Graph).
type meta struct{ Name, Property, Content string }

// metaTags writes the tags as HTML. Written here rather than by the template,
// which would make three calls through reflection for each of dozens of tags:
// the names are ours, the contents are escaped for a quoted attribute.
func metaTags(tags []meta) template.HTML {
	var b strings.Builder
	for _, m := range tags {
		if m.Name != "" {
			b.WriteString(`<meta name="` + html.EscapeString(m.Name))
		} else {
			b.WriteString(`<meta property="` + html.EscapeString(m.Property))
		}
		b.WriteString(`" content="` + html.EscapeString(m.Content) + "\">\n")
	}
	return template.HTML(b.String()) //nolint:gosec // every value is escaped above
}

// category is one of a paper's categories.
type category struct {
	Name    string
	Primary bool
}

// date is a time as the page shows it.
type date struct{ Machine, Human string }

func toDate(t *timestamppb.Timestamp) *date {
	if t == nil {
		return nil
	}
	u := t.AsTime().UTC()
	return &date{Machine: u.Format(time.RFC3339), Human: u.Format("2 January 2006")}
}

// similarItem is a similar paper in the list.
type similarItem struct{ Path, Title, Authors string }

// export is a link to one of CitePaper's formats.
type export struct{ Label, Type, Href string }

// paperPage is the data of paper.html.
type paperPage struct {
	Frame
	Paper *catalogv1.Paper
	// Authors are those shown, MoreAuthors how many are not.
	Authors              []*catalogv1.Author
	MoreAuthors          int
	Categories           []category
	Published, Updated   *date
	Submitted            *date
	ArxivURL, PDFURL     string
	DOIURL               string
	Meta                 []meta
	MetaTags             template.HTML
	Canonical            string
	Similar              []similarItem
	BibTeX, RIS, Citable string
	Exports              []export
}

// paper serves /papers/{paper}: the page of one paper.
func (s *Site) paper(w http.ResponseWriter, r *http.Request) {
	seg := r.PathValue("paper")
	// An old-style id as arXiv writes it (`hep-th/9901001`) goes to its page.
	if oldStyleID.MatchString(seg) {
		http.Redirect(w, r, "/papers/"+strings.Replace(seg, "/", "-", 1), http.StatusMovedPermanently) //nolint:gosec // a path of this site, from an id that matched oldStyleID
		return
	}
	ctx := r.Context()
	name := "papers/" + seg
	var similar *catalogv1.ListSimilarPapersResponse
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Without similar papers (the index is being built) the page is
		// still the paper's.
		similar, _ = s.Catalog.ListSimilarPapers(ctx, &catalogv1.ListSimilarPapersRequest{Name: name, PageSize: similarPapers})
	}()
	p, err := s.Catalog.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: name})
	<-done
	switch status.Code(err) {
	case codes.OK:
	case codes.InvalidArgument:
		render(w, http.StatusBadRequest, messageTmpl, message{Frame: Frame{Title: "Not a paper id"},
			Message: `“` + seg + `” is not an arXiv identifier. A paper's page is /papers/ and its arXiv id without version: /papers/2111.13056, or /papers/hep-th-9901001 for an old-style id (hep-th/9901001).`})
		return
	case codes.NotFound:
		render(w, http.StatusNotFound, messageTmpl, message{Frame: Frame{Title: "No such paper"},
			Message: "There is no paper " + seg + " in the catalog. It may not have been imported yet, or it was deleted."})
		return
	default:
		pageError(w, err)
		return
	}
	key := renderKey(p, similar.GetPapers())
	page, ok := s.pages.get(p.GetName(), key)
	if !ok {
		var b bytes.Buffer
		if err := paperTmpl.ExecuteTemplate(&b, "layout", s.paperPage(p, similar.GetPapers())); err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		page = bytes.Clone(b.Bytes()) // no spare capacity held in the cache
		s.pages.put(p.GetName(), key, page)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(page)
}

// paperPage builds the page of p.
func (s *Site) paperPage(p *catalogv1.Paper, similar []*catalogv1.SimilarPaper) paperPage {
	page := paperPage{Paper: p, Canonical: s.PublicURL + paperPath(p.GetName()),
		Published: toDate(p.GetPublishedTime()), Updated: toDate(p.GetArxivUpdateTime()), Submitted: toDate(p.GetSubmitTime()),
		ArxivURL: cite.ArxivURL(p.GetArxivId()), PDFURL: p.GetPdfUrl()}
	page.Title = p.GetTitle()
	page.Description = excerpt(p.GetAbstract(), descriptionRunes)
	if page.PDFURL == "" {
		page.PDFURL = cite.ArxivPDFURL(p.GetArxivId())
	}
	if p.GetDoi() != "" {
		page.DOIURL = cite.DOIURL(p.GetDoi())
	}
	page.Authors = shownAuthors(p.GetAuthors())
	page.MoreAuthors = len(p.GetAuthors()) - len(page.Authors)
	primary := p.GetPrimaryCategory()
	if primary == "" && len(p.GetCategories()) > 0 {
		primary = p.GetCategories()[0]
	}
	for _, c := range p.GetCategories() {
		page.Categories = append(page.Categories, category{c, c == primary})
	}
	for _, sp := range similar {
		o := sp.GetPaper()
		page.Similar = append(page.Similar, similarItem{Path: paperPath(o.GetName()),
			Title: excerpt(o.GetTitle(), similarRunes), Authors: excerpt(authorLine(o.GetAuthors()), similarRunes)})
	}
	work := paperWork(p, page.Authors)
	page.BibTeX, page.RIS, page.Citable = work.BibTeX(), work.RIS(), work.Reference()
	api := "/v1/" + p.GetName() + ":cite?format="
	page.Exports = []export{{"BibTeX (.bib)", "application/x-bibtex", api + "bibtex"}, {"RIS", "application/x-research-info-systems", api + "ris"},
		{"CSL-JSON", "application/vnd.citationstyles.csl+json", api + "csl-json"}}
	page.Meta = s.paperMeta(p, page)
	page.MetaTags = metaTags(page.Meta)
	return page
}

// paperMeta are the page's tags for reference managers (Highwire Press
// citation_* tags, which Zotero's connector and Google Scholar read) and link
// previews (Open Graph).
func (s *Site) paperMeta(p *catalogv1.Paper, page paperPage) []meta {
	tags := []meta{{Name: "citation_title", Content: p.GetTitle()}}
	for _, a := range page.Authors {
		tags = append(tags, meta{Name: "citation_author", Content: a.GetName()})
		if a.GetAffiliation() != "" {
			tags = append(tags, meta{Name: "citation_author_institution", Content: a.GetAffiliation()})
		}
	}
	if t := p.GetPublishedTime(); t != nil {
		d := t.AsTime().UTC().Format("2006/01/02")
		tags = append(tags, meta{Name: "citation_publication_date", Content: d}, meta{Name: "citation_date", Content: d})
	}
	if t := p.GetArxivUpdateTime(); t != nil {
		tags = append(tags, meta{Name: "citation_online_date", Content: t.AsTime().UTC().Format("2006/01/02")})
	}
	tags = append(tags, meta{Name: "citation_arxiv_id", Content: p.GetArxivId()}, meta{Name: "citation_pdf_url", Content: page.PDFURL})
	if p.GetDoi() != "" {
		tags = append(tags, meta{Name: "citation_doi", Content: p.GetDoi()})
	}
	if p.GetJournalRef() != "" {
		tags = append(tags, meta{Name: "citation_journal_title", Content: p.GetJournalRef()})
	}
	tags = append(tags, meta{Name: "citation_abstract_html_url", Content: page.Canonical},
		meta{Property: "og:type", Content: "article"}, meta{Property: "og:title", Content: p.GetTitle()},
		meta{Property: "og:url", Content: page.Canonical}, meta{Property: "og:site_name", Content: "Paper Catalog"})
	if page.Description != "" {
		tags = append(tags, meta{Property: "og:description", Content: page.Description})
	}
	if t := p.GetPublishedTime(); t != nil {
		tags = append(tags, meta{Property: "article:published_time", Content: t.AsTime().UTC().Format(time.RFC3339)})
	}
	return tags
}

// shownAuthors are the first authors, within maxPageAuthors and
// authorBudget (at least one).
func shownAuthors(all []*catalogv1.Author) []*catalogv1.Author {
	used := 0
	for i, a := range all {
		used += 4*len(a.GetName()) + len(a.GetAffiliation())
		if i == maxPageAuthors || i > 0 && used > authorBudget {
			return all[:i]
		}
	}
	return all
}

// paperWork is what the page's citations say of p, with the authors it
// shows and without the abstract and keywords (the page shows the abstract;
// the exports carry both): the same conversion as the CitePaper handler's,
// from the API's paper (a test compares the two).
func paperWork(p *catalogv1.Paper, authors []*catalogv1.Author) cite.Work {
	w := cite.Work{ArxivID: p.GetArxivId(), Title: p.GetTitle(), PrimaryCategory: p.GetPrimaryCategory(),
		DOI: p.GetDoi(), JournalRef: p.GetJournalRef(), PDFURL: p.GetPdfUrl(), MoreAuthors: len(authors) < len(p.GetAuthors())}
	if t := p.GetPublishedTime(); t != nil {
		w.Published = t.AsTime().UTC()
	}
	for _, a := range authors {
		w.Authors = append(w.Authors, cite.Author{Name: a.GetName(), Affiliation: a.GetAffiliation()})
	}
	return w
}

// authorLine is the first three names and how many more.
func authorLine(authors []*catalogv1.Author) string {
	var names []string
	for _, a := range authors[:min(len(authors), 3)] {
		names = append(names, a.GetName())
	}
	line := strings.Join(names, ", ")
	if more := len(authors) - 3; more > 0 {
		line += " and " + plural(more, "other", "others")
	}
	return line
}

// excerpt is s on one line, cut at a word to at most n runes with an
// ellipsis.
func excerpt(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	cut := []rune(s)[:n]
	if i := strings.LastIndexByte(string(cut), ' '); i > n/2 {
		return string(cut)[:i] + "…"
	}
	return string(cut) + "…"
}
