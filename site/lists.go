package site

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
)

// listPage is the data of list.html: the trending papers, or an
// organization's.
type listPage struct {
	Frame
	Heading, Intro string
	// ListID is the id of the list's element.
	ListID string
	// Switch, under SwitchLabel, are the list's variants (the trending windows).
	SwitchLabel string
	Switch      []link
	Papers      []template.HTML
	Total       int
	More, First string
	// Empty is what an empty list says.
	Empty string
	// Problem says why the list could not be shown.
	Problem string
}

// windows are the trending page's windows, by the window parameter.
var windows = []struct {
	param, label, span string
	d                  time.Duration
}{
	{"1d", "Day", "24 hours", 24 * time.Hour},
	{"7d", "Week", "7 days", 7 * 24 * time.Hour},
	{"30d", "Month", "30 days", 30 * 24 * time.Hour},
	{"365d", "Year", "365 days", 365 * 24 * time.Hour},
}

// trending serves /trending: the papers with the highest trending score
// submitted within a window (window=1d, 7d, the default, 30d or 365d).
func (s *Site) trending(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	loc, _, _ := s.readerZone(w, r)
	param := q.Get("window")
	if param == "" {
		param = "7d"
	}
	page := listPage{
		Frame:   Frame{Title: "Trending papers", Description: "The papers readers upvote most, newest first among equals.", Feeds: []Feed{trendingFeed}},
		Heading: "Trending papers", ListID: "trending", SwitchLabel: "Window",
		Empty: "No paper was submitted in this window.",
	}
	window := time.Duration(0)
	for _, wd := range windows {
		href := "/trending"
		if wd.param != "7d" {
			href += "?window=" + wd.param
		}
		page.Switch = append(page.Switch, link{href, wd.label, wd.param == param})
		if wd.param == param {
			window = wd.d
			page.Intro = "Papers submitted in the last " + wd.span + ", highest trending score first (upvotes, weighed by age)."
		}
	}
	if window == 0 {
		page.Problem = fmt.Sprintf("The window %q is not one of 1d, 7d, 30d and 365d.", param)
		render(w, http.StatusBadRequest, listTmpl, page)
		return
	}
	resp, err := s.Catalog.ListTrendingPapers(r.Context(), &catalogv1.ListTrendingPapersRequest{Window: durationpb.New(window),
		PageSize: listPageSize, PageToken: q.Get("page"), View: catalogv1.PaperView_PAPER_VIEW_FULL})
	if code, ok := refused(w, err); ok {
		page.Problem = problemOf(err)
		render(w, code, listTmpl, page)
		return
	}
	papers := make([]*catalogv1.Paper, len(resp.GetPapers()))
	for i, t := range resp.GetPapers() {
		papers[i] = t.GetPaper()
	}
	page.Papers, page.Total = s.cards(papers, loc), int(resp.GetTotalSize())
	base := "/trending?window=" + param
	if t := resp.GetNextPageToken(); t != "" {
		page.More = base + "&page=" + url.QueryEscape(t)
	}
	if q.Get("page") != "" {
		page.First = base
	}
	render(w, http.StatusOK, listTmpl, page)
}

// orgID is an organization's id, as the API allows it.
var orgID = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)

// organization serves /organizations/{id}: the organization's papers, newest
// first, a page at a time.
func (s *Site) organization(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	loc, _, _ := s.readerZone(w, r)
	page := listPage{Frame: Frame{Title: "Organization " + id}, Heading: id, ListID: "organization", Empty: "No papers."}
	if !orgID.MatchString(id) {
		page.Problem = fmt.Sprintf("%q is not an organization id: those are lower-case letters, digits and hyphens.", id)
		render(w, http.StatusNotFound, listTmpl, page)
		return
	}
	tok := r.URL.Query().Get("page")
	resp, err := s.Catalog.ListPapers(r.Context(), &catalogv1.ListPapersRequest{Filter: fmt.Sprintf("organization = %q", id),
		OrderBy: "submit_time desc", PageSize: listPageSize, PageToken: tok, View: catalogv1.PaperView_PAPER_VIEW_FULL})
	if code, ok := refused(w, err); ok {
		page.Problem = problemOf(err)
		render(w, code, listTmpl, page)
		return
	}
	if resp.GetTotalSize() == 0 {
		page.Problem = fmt.Sprintf("No papers are attributed to the organization %q.", id)
		render(w, http.StatusNotFound, listTmpl, page)
		return
	}
	if ps := resp.GetPapers(); len(ps) > 0 && ps[0].GetOrganization().GetDisplayName() != "" {
		name := cut(ps[0].GetOrganization().GetDisplayName(), cardOrgBytes)
		page.Heading = name
		page.Title = name + " (" + id + ")"
	}
	page.Intro = fmt.Sprintf("Papers of %s (%s), newest first: %s.", page.Heading, id, plural(int(resp.GetTotalSize()), "paper", "papers"))
	page.Feeds = []Feed{{Title: "Papers of " + page.Title + " (Atom)", Type: atomType, Href: "/feeds/organizations/" + id + ".atom"}}
	page.Papers, page.Total = s.cards(resp.GetPapers(), loc), int(resp.GetTotalSize())
	base := "/organizations/" + id
	if t := resp.GetNextPageToken(); t != "" {
		page.More = base + "?page=" + url.QueryEscape(t)
	}
	if tok != "" {
		page.First = base
	}
	render(w, http.StatusOK, listTmpl, page)
}

// searchPage is the data of search.html.
type searchPage struct {
	Frame
	Query string
	// Filters are the chosen facet values, each with a link that drops it.
	Filters []link
	Facets  []facetGroup
	Results []template.HTML
	Total   int
	// Searched is set when a query ran.
	Searched    bool
	More, First string
	Problem     string
}

// facetGroup is one facet of the results: its values, each a link that
// filters by it.
type facetGroup struct {
	ID, Label string
	Values    []facetValue
}

type facetValue struct {
	Value, Href string
	Count       int32
	Current     bool
}

var (
	yearPattern = regexp.MustCompile(`^(199[0-9]|2[0-1][0-9]{2}|2200)$`)
)

// searchFacets are the search page's facets: the query parameter, the
// label, and the filter a value stands for.
var searchFacets = []struct {
	param, label string
	valid        *regexp.Regexp
	filter       func(v string) string
}{
	{"category", "Category", categoryPattern, func(v string) string { return fmt.Sprintf("primary_category = %q", v) }},
	{"organization", "Organization", orgID, func(v string) string { return fmt.Sprintf("organization = %q", v) }},
	{"year", "Year", yearPattern, func(v string) string {
		// The year of publication, else (no publication time) of submission,
		// as the year facet counts.
		y, _ := strconv.Atoi(v)
		from, to := fmt.Sprintf("%04d-01-01T00:00:00Z", y), fmt.Sprintf("%04d-01-01T00:00:00Z", y+1)
		return fmt.Sprintf(`((published_time >= %q AND published_time < %q) OR (published_time < "0002-01-01T00:00:00Z" AND submit_time >= %q AND submit_time < %q))`,
			from, to, from, to)
	}},
}

// search serves /search?q=…: the results of a query, filtered by the facets'
// values (category, organization, year), with the reason when the query
// cannot run.
func (s *Site) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	loc, _, _ := s.readerZone(w, r)
	query := strings.TrimSpace(q.Get("q"))
	page := searchPage{Frame: Frame{Title: "Search papers"}, Query: query}
	chosen := url.Values{}
	var filters []string
	for _, f := range searchFacets {
		v := q.Get(f.param)
		if v == "" {
			continue
		}
		if !f.valid.MatchString(v) {
			page.Problem = fmt.Sprintf("%q is not a %s to filter by.", v, strings.ToLower(f.label))
			render(w, http.StatusBadRequest, searchTmpl, page)
			return
		}
		chosen.Set(f.param, v)
		filters = append(filters, f.filter(v))
	}
	filter := strings.Join(filters, " AND ")
	// href is this search with the facet param set to v ("" drops it).
	href := func(param, v, tok string) string {
		u := url.Values{"q": {query}}
		for k, vs := range chosen {
			u[k] = vs
		}
		if param != "" {
			if v == "" {
				u.Del(param)
			} else {
				u.Set(param, v)
			}
		}
		if tok != "" {
			u.Set("page", tok)
		}
		return "/search?" + u.Encode()
	}
	for _, f := range searchFacets {
		if v := chosen.Get(f.param); v != "" {
			page.Filters = append(page.Filters, link{Href: href(f.param, "", ""), Label: f.label + ": " + v})
		}
	}
	if query == "" {
		render(w, http.StatusOK, searchTmpl, page)
		return
	}
	page.Title = query + " · Search papers"
	feed := url.Values{"q": {query}}
	if filter != "" {
		feed.Set("filter", filter)
	}
	page.Feeds = append(page.Feeds, Feed{Title: "Papers matching this search (Atom)", Type: atomType, Href: "/feeds/search.atom?" + feed.Encode()})
	if c := chosen.Get("category"); c != "" {
		page.Feeds = append(page.Feeds, Feed{Title: "Papers in " + c + " (Atom)", Type: atomType, Href: "/feeds/categories/" + c + ".atom"})
	}
	if o := chosen.Get("organization"); o != "" {
		page.Feeds = append(page.Feeds, Feed{Title: "Papers of " + o + " (Atom)", Type: atomType, Href: "/feeds/organizations/" + o + ".atom"})
	}
	tok := q.Get("page")
	resp, err := s.Catalog.SearchPapers(r.Context(), &catalogv1.SearchPapersRequest{Query: query, Filter: filter,
		PageSize: listPageSize, PageToken: tok, View: catalogv1.PaperView_PAPER_VIEW_BASIC})
	if code, ok := refused(w, err); ok {
		page.Problem = "This search cannot run. " + problemOf(err)
		render(w, code, searchTmpl, page)
		return
	}
	page.Searched, page.Total = true, int(resp.GetTotalSize())
	for _, res := range resp.GetResults() {
		c := newCard(res.GetPaper(), loc)
		if ts := res.GetTitleSnippets(); len(ts) > 0 {
			c.TitleSnippet = marked(cut(ts[0], 2*cardTitleBytes))
		}
		for _, sn := range res.GetAbstractSnippets()[:min(2, len(res.GetAbstractSnippets()))] {
			c.Snippets = append(c.Snippets, marked(cut(sn, 2*cardAbstractBytes)))
		}
		page.Results = append(page.Results, cardHTML(c))
	}
	for _, g := range []struct {
		param  string
		facets []*catalogv1.Facet
	}{
		{"category", resp.GetPrimaryCategoryFacets()},
		{"organization", resp.GetOrganizationFacets()},
		{"year", resp.GetYearFacets()},
	} {
		group := facetGroup{ID: "facet-" + g.param}
		for _, f := range searchFacets {
			if f.param == g.param {
				group.Label = f.label
			}
		}
		for _, f := range g.facets[:min(len(g.facets), maxFacetValues)] {
			cur := chosen.Get(g.param) == f.GetValue()
			group.Values = append(group.Values, facetValue{Value: f.GetValue(), Count: f.GetCount(), Current: cur, Href: href(g.param, f.GetValue(), "")})
		}
		if len(group.Values) > 0 {
			page.Facets = append(page.Facets, group)
		}
	}
	if t := resp.GetNextPageToken(); t != "" {
		page.More = href("", "", t)
	}
	if tok != "" {
		page.First = href("", "", "")
	}
	render(w, http.StatusOK, searchTmpl, page)
}

// maxFacetValues is how many values of each facet the search page offers.
const maxFacetValues = 10

// refused reports whether err is a refusal the page shows in place of its
// list, and with which HTTP status (a RetryInfo's delay as Retry-After).
func refused(w http.ResponseWriter, err error) (int, bool) {
	if err == nil {
		return 0, false
	}
	setRetryAfter(w, err)
	if status.Code(err) == codes.Unknown {
		return http.StatusInternalServerError, true
	}
	return httpStatus(err), true
}
