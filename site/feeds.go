package site

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/papercatalog/papers/clock"
	"github.com/papercatalog/papers/feed"
	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	"github.com/papercatalog/papers/period"
)

// feedSize is the most entries a feed lists.
const feedSize = 50

// feedVersion changes whenever the way feeds are written changes, so that
// the validators of old renderings stop matching.
const feedVersion = "feed-1"

// feedCacheControl lets readers and shared caches keep a feed 5 minutes, then
// revalidate it with its ETag or Last-Modified.
const feedCacheControl = "public, max-age=300"

// listed is what a feed source found: the feed's title and page, and its
// papers in order.
type listed struct {
	Title, Subtitle string
	// Page is the web page the feed mirrors, absolute.
	Page   string
	Papers []*catalogv1.Paper
}

// source lists a feed's papers, with the abstracts (PAPER_VIEW_FULL) or
// without (PAPER_VIEW_BASIC, enough for the validators). A status error of
// the call is answered as it is (a bad query is a 400 with its reason).
type source func(ctx context.Context, r *http.Request, view catalogv1.PaperView) (*listed, error)

var (
	// categoryPattern is an arXiv category (cs.LG, hep-th, math.GT).
	categoryPattern     = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9.-]{0,49}$`)
	organizationPattern = regexp.MustCompile(`^[a-z0-9-]{1,63}$`)
)

// feedRoutes are the feeds, each in Atom (.atom) and RSS 2.0 (.rss).
func (s *Site) feedRoutes() []Route {
	var routes []Route
	for _, format := range []string{"atom", "rss"} {
		routes = append(routes,
			Route{"GET /feeds/daily." + format, s.feed(format, s.dailyFeed)},
			Route{"GET /feeds/trending." + format, s.feed(format, s.trendingFeed)},
			Route{"GET /feeds/search." + format, s.feed(format, s.searchFeed)})
	}
	// {category}.atom and {category}.rss: the format is the file's extension.
	for _, kind := range []struct {
		path string
		src  func(string) source
	}{{"categories", s.categoryFeed}, {"organizations", s.organizationFeed}} {
		routes = append(routes, Route{"GET /feeds/" + kind.path + "/{file}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			file := r.PathValue("file")
			for _, format := range []string{"atom", "rss"} {
				if name, ok := strings.CutSuffix(file, "."+format); ok {
					s.feed(format, kind.src(name)).ServeHTTP(w, r)
					return
				}
			}
			feedError(w, http.StatusNotFound, "no such feed: feeds end in .atom or .rss")
		})})
	}
	return routes
}

// feed serves a feed of src in format ("atom" or "rss") with conditional GET.
//
// What a poll costs: the papers are listed twice at most, both times from the
// read model (no database read). The first listing is PAPER_VIEW_BASIC (no
// abstracts); the validators are a SHA-256 of the papers' names, etags and
// upvotes in order, so an unchanged feed is answered 304 from that listing
// alone, without the abstracts and without writing the feed. Only a changed
// feed is listed again with the abstracts and written (and its validators
// computed from that second listing, so that they describe what is sent).
func (s *Site) feed(format string, src source) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		key := s.feedKey(r)
		basic, err := src(ctx, r, catalogv1.PaperView_PAPER_VIEW_BASIC)
		if err != nil {
			feedCallError(w, err)
			return
		}
		tag := s.feedETag(format, key, basic)
		modified := s.stamps.modified(key, tag, clock.Or(s.Clock).Now())
		if notModified(r, tag, modified) {
			validators(w, tag, modified)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		full, err := src(ctx, r, catalogv1.PaperView_PAPER_VIEW_FULL)
		if err != nil {
			feedCallError(w, err)
			return
		}
		if t := s.feedETag(format, key, full); t != tag {
			tag, modified = t, s.stamps.modified(key, t, clock.Or(s.Clock).Now())
		}
		f := s.toFeed(key, full)
		var b bytes.Buffer
		write, contentType := feed.Atom, feed.AtomType
		if format == "rss" {
			write, contentType = feed.RSS, feed.RSSType
		}
		if err := write(&b, f); err != nil {
			feedError(w, http.StatusInternalServerError, "the feed could not be written")
			return
		}
		validators(w, tag, modified)
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			_, _ = w.Write(b.Bytes())
		}
	})
}

// feedKey is the feed's canonical absolute URL: the path with the query
// parameters feeds read, in a fixed order. It is the feed's id and self link.
func (s *Site) feedKey(r *http.Request) string {
	q := url.Values{}
	for _, k := range []string{"q", "filter", "tz"} {
		if v := r.URL.Query().Get(k); v != "" {
			q.Set(k, v)
		}
	}
	key := s.PublicURL + r.URL.EscapedPath()
	if len(q) > 0 {
		key += "?" + q.Encode()
	}
	return key
}

// feedETag is the strong validator of a feed: it changes whenever the feed's
// bytes may change (its papers, their order, any write of one of them, its
// title, the format, the writer's version).
func (s *Site) feedETag(format, key string, l *listed) string {
	h := sha256.New()
	for _, part := range []string{feedVersion, format, key, l.Title, l.Subtitle, l.Page} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	for _, p := range l.Papers {
		h.Write([]byte(p.GetName()))
		h.Write([]byte{0})
		h.Write([]byte(p.GetEtag()))
		h.Write([]byte{0})
		h.Write(strconv.AppendInt(nil, p.GetUpvotes(), 10))
		h.Write([]byte{0})
	}
	return `"` + base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:18]) + `"`
}

// validators sets a feed's caching headers (also on a 304).
func validators(w http.ResponseWriter, tag string, modified time.Time) {
	h := w.Header()
	h.Set("ETag", tag)
	h.Set("Last-Modified", modified.UTC().Format(http.TimeFormat))
	h.Set("Cache-Control", feedCacheControl) // instead of the pages' no-store
}

// notModified applies If-None-Match and, only without it, If-Modified-Since
// (RFC 9110, section 13.2.2).
func notModified(r *http.Request, tag string, modified time.Time) bool {
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		for _, t := range strings.Split(inm, ",") {
			// If-None-Match compares weakly: W/"x" matches "x".
			if t = strings.TrimPrefix(strings.TrimSpace(t), "W/"); t == tag || t == "*" {
				return true
			}
		}
		return false
	}
	since, err := http.ParseTime(r.Header.Get("If-Modified-Since"))
	return err == nil && !modified.Truncate(time.Second).After(since)
}

// stamps remembers, per feed, the ETag last served and when this process
// first served it: that time is the feed's Last-Modified. A feed's papers
// carry no time at which the feed itself changed (a paper leaving the
// trending window, a reordering after an upvote), so Last-Modified is the
// first time its current content was seen; a new content always gets a
// later time than the one before, so If-Modified-Since never hides a change.
// After a restart (or on another replica) every feed starts again at the
// time it is first served: a reader with an older date gets the feed once
// more, never a wrong 304. Readers that send If-None-Match (most) are not
// affected: the ETag is derived from the content alone.
type stamps struct {
	mu   sync.Mutex
	seen map[string]stamp
}

type stamp struct {
	tag string
	at  time.Time
}

// maxStamps bounds the feeds remembered (standing searches are unbounded); a
// feed forgotten starts again at the time it is next served.
const maxStamps = 10000

// modified returns the Last-Modified of feed key whose current ETag is tag.
func (st *stamps) modified(key, tag string, now time.Time) time.Time {
	st.mu.Lock()
	defer st.mu.Unlock()
	now = now.UTC().Truncate(time.Second)
	prev, ok := st.seen[key]
	if ok && prev.tag == tag {
		return prev.at
	}
	if ok && !now.After(prev.at) {
		now = prev.at.Add(time.Second) // changed twice within a second
	}
	if st.seen == nil {
		st.seen = map[string]stamp{}
	}
	if !ok && len(st.seen) >= maxStamps {
		for k := range st.seen {
			delete(st.seen, k)
			break
		}
	}
	st.seen[key] = stamp{tag, now}
	return now
}

// toFeed converts a listing to a feed: proto types stop here.
func (s *Site) toFeed(key string, l *listed) *feed.Feed {
	f := &feed.Feed{ID: key, Title: l.Title + " · Paper Catalog", Subtitle: l.Subtitle, Link: l.Page, Self: key,
		Author: "Paper Catalog", Updated: time.Unix(0, 0).UTC()}
	for _, p := range l.Papers {
		e := s.entry(p)
		if e.Updated.After(f.Updated) {
			f.Updated = e.Updated
		}
		f.Entries = append(f.Entries, e)
	}
	return f
}

// maxFeedAuthors is the most authors an entry names (a paper may have 5000).
const maxFeedAuthors = 50

// feedPaperLink is the absolute URL of a paper's page, from its resource name
// `papers/{paper}`.
func (s *Site) feedPaperLink(name string) string {
	return s.PublicURL + "/papers/" + url.PathEscape(strings.TrimPrefix(name, "papers/"))
}

func (s *Site) entry(p *catalogv1.Paper) feed.Entry {
	link := s.feedPaperLink(p.GetName())
	e := feed.Entry{ID: link, Title: p.GetTitle(), Link: link, Summary: p.GetAbstract(), Categories: p.GetCategories(),
		Published: p.GetPublishedTime().AsTime(), Updated: p.GetUpdateTime().AsTime()}
	if p.GetPublishedTime() == nil {
		e.Published = p.GetSubmitTime().AsTime()
	}
	if p.GetUpdateTime() == nil {
		e.Updated = e.Published
	}
	for i, a := range p.GetAuthors() {
		if i == maxFeedAuthors {
			e.Authors = append(e.Authors, "and "+strconv.Itoa(len(p.GetAuthors())-i)+" more")
			break
		}
		e.Authors = append(e.Authors, a.GetName())
	}
	if id := p.GetArxivId(); id != "" {
		e.Related = append(e.Related, feed.Link{Href: "https://arxiv.org/abs/" + id, Title: "arXiv"})
	}
	pdf := p.GetPdfUrl()
	if pdf == "" && p.GetArxivId() != "" {
		pdf = "https://arxiv.org/pdf/" + p.GetArxivId()
	}
	if pdf != "" {
		e.Related = append(e.Related, feed.Link{Href: pdf, Title: "PDF", Type: "application/pdf"})
	}
	if gh := p.GetGithubRepo(); gh != "" {
		e.Related = append(e.Related, feed.Link{Href: gh, Title: "Code"})
	}
	if doi := p.GetDoi(); doi != "" {
		e.Related = append(e.Related, feed.Link{Href: "https://doi.org/" + doi, Title: "DOI"})
	}
	if pp := p.GetProjectPage(); pp != "" {
		e.Related = append(e.Related, feed.Link{Href: pp, Title: "Project page"})
	}
	return e
}

// dailyFeed lists the papers submitted today and yesterday (in the time zone
// of the tz parameter, default UTC), newest first: two days, so that a reader
// polling now and then misses none submitted late in a day.
func (s *Site) dailyFeed(ctx context.Context, r *http.Request, view catalogv1.PaperView) (*listed, error) {
	loc, problem := period.Zone(r.URL.Query().Get("tz"))
	if problem != "" {
		return nil, status.Error(codes.InvalidArgument, "tz "+problem)
	}
	now := clock.Or(s.Clock).Now().In(loc)
	from := time.Date(now.Year(), now.Month(), now.Day()-1, 0, 0, 0, 0, loc)
	resp, err := s.Catalog.ListPapers(ctx, &catalogv1.ListPapersRequest{PageSize: feedSize, View: view, OrderBy: "submit_time desc",
		Filter: `submit_time >= "` + from.UTC().Format(time.RFC3339) + `"`})
	if err != nil {
		return nil, err
	}
	return &listed{Title: "Daily papers", Subtitle: "Papers submitted today and yesterday (" + loc.String() + "), newest first",
		Page: s.PublicURL + "/", Papers: resp.GetPapers()}, nil
}

// trendingFeed lists the trending papers of the last 7 days.
func (s *Site) trendingFeed(ctx context.Context, _ *http.Request, view catalogv1.PaperView) (*listed, error) {
	resp, err := s.Catalog.ListTrendingPapers(ctx, &catalogv1.ListTrendingPapersRequest{PageSize: feedSize, View: view})
	if err != nil {
		return nil, err
	}
	l := &listed{Title: "Trending papers", Subtitle: "The papers of the last 7 days with the highest trending score",
		Page: s.PublicURL + "/trending"}
	for _, t := range resp.GetPapers() {
		l.Papers = append(l.Papers, t.GetPaper())
	}
	return l, nil
}

// searchFeed is a standing search: the q and filter parameters of
// SearchPapers, most relevant first.
func (s *Site) searchFeed(ctx context.Context, r *http.Request, view catalogv1.PaperView) (*listed, error) {
	q, filter := r.URL.Query().Get("q"), r.URL.Query().Get("filter")
	if strings.TrimSpace(q) == "" {
		return nil, status.Error(codes.InvalidArgument, "the q parameter, a search query, is required")
	}
	resp, err := s.Catalog.SearchPapers(ctx, &catalogv1.SearchPapersRequest{Query: q, Filter: filter, PageSize: feedSize, View: view})
	if err != nil {
		return nil, err
	}
	page := url.Values{"q": {q}}
	sub := "Papers matching " + q
	if filter != "" {
		page.Set("filter", filter)
		sub += " where " + filter
	}
	l := &listed{Title: "Search: " + q, Subtitle: sub + ", most relevant first", Page: s.PublicURL + "/search?" + page.Encode()}
	for _, x := range resp.GetResults() {
		l.Papers = append(l.Papers, x.GetPaper())
	}
	return l, nil
}

// categoryFeed lists the newest papers of an arXiv category.
func (s *Site) categoryFeed(category string) source {
	return func(ctx context.Context, _ *http.Request, view catalogv1.PaperView) (*listed, error) {
		if !categoryPattern.MatchString(category) {
			return nil, status.Error(codes.NotFound, "no such category: categories are like cs.LG")
		}
		resp, err := s.Catalog.ListPapers(ctx, &catalogv1.ListPapersRequest{PageSize: feedSize, View: view, OrderBy: "submit_time desc",
			Filter: `categories:"` + category + `"`})
		if err != nil {
			return nil, err
		}
		return &listed{Title: "Papers in " + category, Subtitle: "The newest papers of the arXiv category " + category,
			Page: s.PublicURL + "/search?" + url.Values{"filter": {`categories:"` + category + `"`}}.Encode(), Papers: resp.GetPapers()}, nil
	}
}

// organizationFeed lists the newest papers of an organization.
func (s *Site) organizationFeed(id string) source {
	return func(ctx context.Context, _ *http.Request, view catalogv1.PaperView) (*listed, error) {
		if !organizationPattern.MatchString(id) {
			return nil, status.Error(codes.NotFound, "no such organization: organization ids are like naver-ai")
		}
		resp, err := s.Catalog.ListPapers(ctx, &catalogv1.ListPapersRequest{PageSize: feedSize, View: view, OrderBy: "submit_time desc",
			Filter: `organization = "` + id + `"`})
		if err != nil {
			return nil, err
		}
		name := id
		if ps := resp.GetPapers(); len(ps) > 0 && ps[0].GetOrganization().GetDisplayName() != "" {
			name = ps[0].GetOrganization().GetDisplayName()
		}
		return &listed{Title: "Papers of " + name, Subtitle: "The newest papers of " + name + " (" + id + ")",
			Page: s.PublicURL + "/organizations/" + id, Papers: resp.GetPapers()}, nil
	}
}

// feedCallError answers a failed listing with its status mapped to HTTP and
// its message (a bad query's reason) as plain text.
func feedCallError(w http.ResponseWriter, err error) {
	st := status.Convert(err)
	feedError(w, runtime.HTTPStatusFromCode(st.Code()), st.Message())
}

func feedError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(msg + "\n"))
}
