package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/net/html"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/papercatalog/papers/cite/citetest"
	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	"github.com/papercatalog/papers/server"
)

// citedPaper is a paper whose texts hold what BibTeX, HTML and RIS give a
// meaning.
func citedPaper() *catalogv1.Paper {
	return &catalogv1.Paper{
		Title:    `Braces {and} 100% & #1 \alpha $x_2$ "quoted" <b>tags</b> Über`,
		Abstract: "We study {braces} & <script>alert(1)</script> in abstracts.\nSecond line.",
		Authors: []*catalogv1.Author{{Name: "Jürgen Müller", Affiliation: "Universität Zürich & ETH"}, {Name: "Smith and Wesson Group"},
			{Name: "Ada Lovelace", Affiliation: `Analytical <Engine> "Society"`}},
		Categories:      []string{"cs.LG", "stat.ML"},
		PrimaryCategory: "stat.ML",
		PublishedTime:   timestamppb.New(time.Date(2023, 3, 14, 15, 9, 26, 0, time.UTC)),
		ArxivUpdateTime: timestamppb.New(time.Date(2023, 6, 1, 8, 0, 0, 0, time.UTC)),
		ArxivVersion:    3,
		Doi:             "10.1000/xyz_123",
		JournalRef:      "J. Braces 1 (2023) 3--4",
		GithubRepo:      "https://github.com/example/braces",
		GithubStars:     4242,
		ProjectPage:     "https://braces.example/",
		Keywords:        []string{"braces"},
	}
}

// get fetches a page with an Accept header ("" for none), without following
// redirects.
func get(t *testing.T, url, accept string) (int, http.Header, string) {
	t.Helper()
	var header map[string]string
	if accept != "" {
		header = map[string]string{"Accept": accept}
	}
	code, h, body := fetch(t, url, header)
	return code, h, string(body)
}

// fetch GETs url with the given request headers, without following redirects.
func fetch(t *testing.T, url string, header map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(testCtx(t), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, body
}

// TestCitePaper exports a paper's citation over REST and gRPC: the formats'
// media types, the BibTeX parsed back by a real parser with every field, the
// Accept header when no format is named, and the errors of an unknown format
// and an unknown paper.
func TestCitePaper(t *testing.T) {
	t.Parallel()
	ts := startServer(t, testConfig(t))
	ctx := testCtx(t)
	p := citedPaper()
	if _, err := ts.client.CreatePaper(admin(ctx), &catalogv1.CreatePaperRequest{PaperId: paperID(1), Paper: p}); err != nil {
		t.Fatal(err)
	}
	path := "/v1/papers/" + paperID(1) + ":cite"
	for format, want := range map[string]string{
		"bibtex":   "application/x-bibtex; charset=utf-8",
		"ris":      "application/x-research-info-systems; charset=utf-8",
		"csl-json": "application/vnd.citationstyles.csl+json; charset=utf-8",
		"text":     "text/plain; charset=utf-8",
	} {
		code, hdr, body := get(t, ts.base+path+"?format="+format, "")
		if code != 200 || hdr.Get("Content-Type") != want {
			t.Errorf("%s: %d %q, want 200 %q: %s", format, code, hdr.Get("Content-Type"), want, body)
		}
		g, err := ts.client.CitePaper(ctx, &catalogv1.CitePaperRequest{Name: "papers/" + paperID(1), Format: format})
		if err != nil || g.GetContentType() != want || string(g.GetData()) != body {
			t.Errorf("%s over gRPC: %v %q, want the REST body %q", format, err, g.GetContentType(), body)
		}
	}

	code, _, bib := get(t, ts.base+path, "")
	if code != 200 {
		t.Fatalf("bibtex: %d %s", code, bib)
	}
	lib := citetest.Parse(t, bib)
	if len(lib.Errors) > 0 || len(lib.Entries) != 1 {
		t.Fatalf("the BibTeX does not parse: %s\n%s", lib.Errors, bib)
	}
	e := lib.Entries[0]
	for field, want := range map[string]string{
		"title": p.GetTitle(), "year": "2023", "month": "3", "eprint": paperID(1), "archiveprefix": "arXiv",
		"primaryclass": "stat.ML", "doi": "10.1000/xyz_123", "url": "https://arxiv.org/abs/" + paperID(1), "note": p.GetJournalRef(),
	} {
		if got := e.String(field); got != want {
			t.Errorf("BibTeX %s = %q, want %q", field, got, want)
		}
	}
	if e.Key != "muller2023braces_"+paperID(1) {
		t.Errorf("key %q", e.Key)
	}
	wantAuthors := []citetest.Creator{{LastName: "Müller", FirstName: "Jürgen"}, {Name: "Smith and Wesson Group"}, {LastName: "Lovelace", FirstName: "Ada"}}
	if got := e.Creators("author"); !reflect.DeepEqual(got, wantAuthors) {
		t.Errorf("BibTeX authors %+v, want %+v", got, wantAuthors)
	}

	// Without a format, the Accept header chooses; anything else is BibTeX.
	for accept, want := range map[string]string{
		"application/x-research-info-systems":                      "TY  - UNPB",
		"text/html, application/vnd.citationstyles.csl+json;q=0.9": `"type": "article"`,
		"*/*": "@misc{",
	} {
		if code, _, body := get(t, ts.base+path, accept); code != 200 || !strings.Contains(body, want) {
			t.Errorf("Accept %s: %d %q, want %q in it", accept, code, body, want)
		}
	}
	var csl []map[string]any
	if _, _, body := get(t, ts.base+path+"?format=CSL-JSON", ""); json.Unmarshal([]byte(body), &csl) != nil || len(csl) != 1 || csl[0]["DOI"] != p.GetDoi() {
		t.Errorf("CSL-JSON: %s", body)
	}

	// An unknown format names the field; an unknown paper is 404.
	r := ts.rest(t, "GET", path+"?format=endnote", "", nil)
	if r.Status != 400 || !strings.Contains(string(r.Raw), `"field":"format"`) || !strings.Contains(string(r.Raw), "bibtex, ris, csl-json, text") {
		t.Errorf("unknown format: %d %s", r.Status, r.Raw)
	}
	_, err := ts.client.CitePaper(ctx, &catalogv1.CitePaperRequest{Name: "papers/" + paperID(1), Format: "endnote"})
	if st := status.Convert(err); st.Code() != codes.InvalidArgument || !hasViolation(st, "format") {
		t.Errorf("unknown format over gRPC: %v", err)
	}
	if r := ts.rest(t, "GET", "/v1/papers/"+paperID(2)+":cite", "", nil); r.Status != 404 {
		t.Errorf("unknown paper: %d %s", r.Status, r.Raw)
	}
	_, err = ts.client.CitePaper(ctx, &catalogv1.CitePaperRequest{Name: "papers/nope", Format: "nope"})
	if st := status.Convert(err); st.Code() != codes.InvalidArgument || !hasViolation(st, "name") || !hasViolation(st, "format") {
		t.Errorf("a malformed name and format: %v", err)
	}
	// A gRPC caller's accept metadata is no Accept header: BibTeX.
	g, err := ts.client.CitePaper(metadata.AppendToOutgoingContext(ctx, "accept", "application/x-research-info-systems"),
		&catalogv1.CitePaperRequest{Name: "papers/" + paperID(1)})
	if err != nil || !strings.HasPrefix(string(g.GetData()), "@misc{") {
		t.Errorf("gRPC without format: %v %s", err, g.GetData())
	}
}

func hasViolation(st *status.Status, field string) bool {
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				if v.GetField() == field {
					return true
				}
			}
		}
	}
	return false
}

// metaTags are a page's <meta> tags: name (or property) → contents in order;
// and the text of the elements with an id.
func parsePage(t *testing.T, page string) (map[string][]string, map[string]string) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	tags, byID := map[string][]string{}, map[string]string{}
	var text func(*html.Node) string
	text = func(n *html.Node) string {
		if n.Type == html.TextNode {
			return n.Data
		}
		var b strings.Builder
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			b.WriteString(text(c))
		}
		return b.String()
	}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			attr := map[string]string{}
			for _, a := range n.Attr {
				attr[a.Key] = a.Val
			}
			if n.Data == "meta" {
				key := attr["name"] + attr["property"]
				tags[key] = append(tags[key], attr["content"])
			}
			if id := attr["id"]; id != "" {
				byID[id] = text(n)
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return tags, byID
}

// TestPaperPage opens a paper's page on a real paperd: its meta tags for
// reference managers (Highwire citation_*) and link previews (Open Graph)
// with absolute URLs under the public URL, the page's facts and links, its
// BibTeX (the same as CitePaper's), similar papers linking to their pages; a
// 404 for an unknown paper, a 400 for a malformed id, and a redirect for an
// old-style id written with its slash.
func TestPaperPage(t *testing.T) {
	t.Parallel()
	ts := startServer(t, withPublicURL(testConfig(t), "https://papers.example"))
	ctx := testCtx(t)
	p := citedPaper()
	p.Organization = &catalogv1.Organization{Id: "naver-ai", DisplayName: "NAVER AI Lab"}
	if _, err := ts.client.CreatePaper(admin(ctx), &catalogv1.CreatePaperRequest{PaperId: paperID(1), Paper: p}); err != nil {
		t.Fatal(err)
	}
	other := newPaper(2)
	other.Title, other.Abstract = "More braces in abstracts", "We study braces in abstracts, again."
	if _, err := ts.client.CreatePaper(admin(ctx), &catalogv1.CreatePaperRequest{PaperId: paperID(2), Paper: other}); err != nil {
		t.Fatal(err)
	}
	url := ts.base + "/papers/" + paperID(1)
	var page string
	eventually(t, "the similar paper on the page", func() bool {
		var code int
		code, _, page = get(t, url, "")
		return code == 200 && strings.Contains(page, `href="/papers/`+paperID(2)+`"`)
	})
	if len(page) > 100_000 {
		t.Errorf("the page is %d bytes", len(page))
	}
	tags, byID := parsePage(t, page)
	canonical := "https://papers.example/papers/" + paperID(1)
	for name, want := range map[string][]string{
		"citation_title":              {p.GetTitle()},
		"citation_author":             {"Jürgen Müller", "Smith and Wesson Group", "Ada Lovelace"},
		"citation_author_institution": {"Universität Zürich & ETH", `Analytical <Engine> "Society"`},
		"citation_publication_date":   {"2023/03/14"},
		"citation_date":               {"2023/03/14"},
		"citation_online_date":        {"2023/06/01"},
		"citation_pdf_url":            {"https://arxiv.org/pdf/" + paperID(1)},
		"citation_arxiv_id":           {paperID(1)},
		"citation_doi":                {"10.1000/xyz_123"},
		"citation_journal_title":      {p.GetJournalRef()},
		"citation_abstract_html_url":  {canonical},
		"og:title":                    {p.GetTitle()},
		"og:type":                     {"article"},
		"og:url":                      {canonical},
		"og:description":              {"We study {braces} & <script>alert(1)</script> in abstracts. Second line."},
		"description":                 {"We study {braces} & <script>alert(1)</script> in abstracts. Second line."},
	} {
		if got := tags[name]; !reflect.DeepEqual(got, want) {
			t.Errorf("meta %s = %q, want %q", name, got, want)
		}
	}
	for id, want := range map[string]string{
		"paper-title":  p.GetTitle(),
		"abstract":     p.GetAbstract(),
		"published":    "14 March 2023",
		"updated":      "1 June 2023",
		"upvotes":      "▲ 0",
		"organization": "NAVER AI Lab naver-ai",
		"doi-link":     "DOI: 10.1000/xyz_123",
		"categories":   "cs.LGstat.ML primary",
		"authors":      "Jürgen Müller (Universität Zürich & ETH)Smith and Wesson GroupAda Lovelace (Analytical <Engine> \"Society\")",
		"reference":    "Müller, J., Smith and Wesson Group, & Lovelace, A. (2023). " + p.GetTitle() + ". arXiv:" + paperID(1) + " [stat.ML]. https://doi.org/10.1000/xyz_123",
	} {
		if got := byID[id]; got != want {
			t.Errorf("#%s = %q, want %q", id, got, want)
		}
	}
	for _, want := range []string{`<a id="github-link" href="https://github.com/example/braces">GitHub</a> <span class="meta">★ 4242</span>`,
		`<a id="project-link" href="https://braces.example/">`, `<a id="arxiv-link" href="https://arxiv.org/abs/` + paperID(1) + `">`,
		`<li class="primary">stat.ML`, `<link rel="canonical" href="` + canonical + `">`} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	if strings.Contains(page, "<script>") {
		t.Error("the page holds the abstract's <script> unescaped")
	}
	// One source: the page's BibTeX is CitePaper's.
	_, _, bib := get(t, ts.base+"/v1/papers/"+paperID(1)+":cite?format=bibtex", "")
	if byID["bibtex"] != bib {
		t.Errorf("the page's BibTeX\n%s\nis not CitePaper's\n%s", byID["bibtex"], bib)
	}
	// (HTML takes CRLF as LF.)
	if !strings.HasPrefix(byID["ris"], "TY  - UNPB\n") || !strings.Contains(byID["ris"], "AU  - Lovelace, Ada\n") {
		t.Errorf("the page's RIS: %q", byID["ris"])
	}

	// A changed paper's page shows the change (pages are kept rendered).
	if _, err := ts.client.UpdatePaper(admin(ctx), &catalogv1.UpdatePaperRequest{Paper: &catalogv1.Paper{Name: "papers/" + paperID(1), Title: "A new title"}}); err != nil {
		t.Fatal(err)
	}
	if _, _, page := get(t, url, ""); !strings.Contains(page, `<h1 id="paper-title">A new title</h1>`) {
		t.Errorf("after an update the page is still\n%s", page)
	}

	for path, want := range map[string]struct {
		code int
		text string
	}{
		"/papers/" + paperID(3):        {404, "There is no paper " + paperID(3)},
		"/papers/not-a-paper":          {400, "is not an arXiv identifier"},
		"/papers/2401.00001v2":         {400, "is not an arXiv identifier"},
		"/papers/" + paperID(1) + "/x": {400, "is not an arXiv identifier"},
	} {
		code, hdr, body := get(t, ts.base+path, "")
		if code != want.code || !strings.Contains(body, want.text) || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") {
			t.Errorf("%s: %d %q, want %d with %q", path, code, body, want.code, want.text)
		}
	}
	if code, hdr, _ := get(t, ts.base+"/papers/hep-th/9901001", ""); code != 301 || hdr.Get("Location") != "/papers/hep-th-9901001" {
		t.Errorf("an old-style id with its slash: %d %q", code, hdr.Get("Location"))
	}
}

func withPublicURL(cfg server.Config, url string) server.Config {
	cfg.PublicURL = url
	return cfg
}

// TestBrowserPaperPageBibTeX opens a paper's page in Chromium, reads the
// BibTeX as the page shows it and parses it with the BibTeX parser.
func TestBrowserPaperPageBibTeX(t *testing.T) {
	t.Parallel()
	ts := startServer(t, testConfig(t))
	p := citedPaper()
	if _, err := ts.client.CreatePaper(admin(testCtx(t)), &catalogv1.CreatePaperRequest{PaperId: paperID(1), Paper: p}); err != nil {
		t.Fatal(err)
	}
	browser := newBrowser(t)
	ctx, cancel := context.WithTimeout(browser, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(ts.base+"/papers/"+paperID(1))); err != nil {
		t.Fatal(err)
	}
	title, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("paper-title")))
	if err != nil || title != p.GetTitle() {
		t.Errorf("title %q %v", title, err)
	}
	// textContent: the text as it is, line breaks included.
	bib, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.ID("bibtex")))
	if err != nil {
		t.Fatal(err)
	}
	checkAxe(t, ctx, ts.base+"/papers/"+paperID(1))
	lib := citetest.Parse(t, bib)
	if len(lib.Errors) > 0 || len(lib.Entries) != 1 {
		t.Fatalf("the page's BibTeX does not parse: %s\n%s", lib.Errors, bib)
	}
	if e := lib.Entries[0]; e.String("title") != p.GetTitle() || e.String("doi") != p.GetDoi() || len(e.Creators("author")) != 3 {
		t.Errorf("the page's BibTeX parses to %+v", e)
	}
}
