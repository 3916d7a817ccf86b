package site

import (
	"context"
	"fmt"
	"html"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/papercatalog/papers/clock"
	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	"github.com/papercatalog/papers/period"
)

// zones are the time zones the pages offer (the daily page's select, the
// subscription form's suggestions); a tz parameter or the form may name any
// other IANA zone.
var zones = []string{
	"UTC", "Pacific/Honolulu", "America/Anchorage", "America/Los_Angeles", "America/Denver", "America/Chicago",
	"America/New_York", "America/Sao_Paulo", "Atlantic/Azores", "Europe/London", "Europe/Paris", "Europe/Berlin",
	"Europe/Helsinki", "Europe/Moscow", "Africa/Lagos", "Africa/Cairo", "Africa/Johannesburg", "Asia/Dubai",
	"Asia/Tehran", "Asia/Kolkata", "Asia/Bangkok", "Asia/Singapore", "Asia/Shanghai", "Asia/Seoul", "Asia/Tokyo",
	"Australia/Sydney", "Pacific/Auckland", "Europe/Madrid", "Europe/Rome", "Europe/Amsterdam", "Europe/Stockholm",
	"Europe/Warsaw", "Europe/Kyiv", "Europe/Istanbul", "Africa/Nairobi", "Asia/Karachi", "Asia/Dhaka",
	"Asia/Hong_Kong", "Asia/Taipei", "Australia/Perth", "America/Argentina/Buenos_Aires", "America/Bogota",
	"America/Mexico_City", "America/Toronto",
}

// zoneCookie keeps the reader's time zone, set by the daily page's select.
const zoneCookie = "tz"

// lookaround is how far the previous and next links look first for papers:
// one small list, whose result the read model keeps sorted and patches after
// writes; only when it is empty does a second, unbounded list follow.
const lookaround = 92 * 24 * time.Hour

// span is a period the daily page shows: a day (2024-03-05), an ISO week
// (2024-W10) or a month (2024-03).
type span struct{ kind, value string }

// spanOf is the period of kind that holds t (in t's location).
func spanOf(kind string, t time.Time) span {
	switch kind {
	case "week":
		y, w := t.ISOWeek()
		return span{kind, fmt.Sprintf("%04d-W%02d", y, w)}
	case "month":
		return span{kind, t.Format("2006-01")}
	}
	return span{"day", t.Format(time.DateOnly)}
}

// path is the span's page.
func (p span) path() string {
	if p.kind == "day" {
		return "/daily/" + p.value
	}
	return "/daily/" + p.kind + "/" + p.value
}

// link is a link of a page's navigation; Current marks the page itself.
type link struct {
	Href, Label string
	Current     bool
}

// dailyPage is the data of daily.html.
type dailyPage struct {
	Frame
	Heading string
	// Kind is day, week or month.
	Kind string
	// Prev and Next are the nearest periods of the same kind with papers,
	// if any.
	Prev, Next *link
	Views      []link // day, week, month
	Sorts      []link
	Sort       string
	Zone       string
	Zones      template.HTML
	Papers     []template.HTML
	Total      int
	// More continues the list; First goes back to its first page.
	More, First string
	// Problem says why the page could not be shown (a bad date or zone).
	Problem string
	Today   bool
	// Path is the page's path, where the time zone form goes.
	Path string
}

// home serves /: today's papers in the reader's time zone. A search from an
// old link (/?q=…) goes to the search page.
func (s *Site) home(w http.ResponseWriter, r *http.Request) {
	if q := r.URL.Query().Get("q"); strings.TrimSpace(q) != "" {
		http.Redirect(w, r, "/search?"+url.Values{"q": {q}}.Encode(), http.StatusMovedPermanently)
		return
	}
	s.daily(w, r)
}

// readerZone is the reader's time zone: the tz parameter (which the select
// sends, and which is kept in a cookie), else the cookie, else UTC. A tz
// parameter that names no zone is a problem to show; a bad cookie is ignored.
// The cookie is Secure when the site is served over HTTPS.
func (s *Site) readerZone(w http.ResponseWriter, r *http.Request) (loc *time.Location, fromQuery bool, problem string) {
	if name := r.URL.Query().Get("tz"); name != "" {
		loc, p := period.Zone(name)
		if p != "" {
			return time.UTC, false, fmt.Sprintf("The time zone %s", p)
		}
		// Secure where the site is served over HTTPS: over plain HTTP a browser
		// would drop it, and a time zone is no secret.
		secure := r.TLS != nil || strings.HasPrefix(s.PublicURL, "https://")
		http.SetCookie(w, &http.Cookie{ //nolint:gosec // Secure as said above
			Name: zoneCookie, Value: loc.String(), Path: "/", MaxAge: 365 * 24 * 3600,
			HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: secure})
		return loc, true, ""
	}
	if c, err := r.Cookie(zoneCookie); err == nil {
		if loc, p := period.Zone(c.Value); p == "" {
			return loc, false, ""
		}
	}
	return time.UTC, false, ""
}

// daily serves the daily papers of a day (/ and /daily/{date}), an ISO week
// (/daily/week/{week}) or a month (/daily/month/{month}), in the reader's time
// zone, most upvoted or newest first (sort=newest), a page at a time.
func (s *Site) daily(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	loc, zoneInQuery, problem := s.readerZone(w, r)
	now := clock.Or(s.Clock).Now().In(loc)
	sp := spanOf("day", now)
	switch {
	case r.PathValue("week") != "":
		sp = span{"week", r.PathValue("week")}
	case r.PathValue("month") != "":
		sp = span{"month", r.PathValue("month")}
	case r.PathValue("date") != "":
		sp = span{"day", r.PathValue("date")}
	}
	sort := "upvotes"
	order := "upvotes desc, submit_time desc"
	if q.Get("sort") == "newest" {
		sort, order = "newest", "submit_time desc"
	}
	// Links keep the sort and a zone the reader asked for in the URL (which
	// works without cookies too).
	href := func(path, sortBy, page string) string {
		v := url.Values{}
		if zoneInQuery {
			v.Set("tz", loc.String())
		}
		if sortBy == "newest" {
			v.Set("sort", sortBy)
		}
		if page != "" {
			v.Set("page", page)
		}
		if len(v) == 0 {
			return path
		}
		return path + "?" + v.Encode()
	}
	page := dailyPage{
		Frame: Frame{Title: "Daily papers", Description: "Research papers submitted each day, most upvoted first.",
			Feeds: []Feed{dailyFeed, trendingFeed}},
		Kind: sp.kind, Sort: sort, Zone: loc.String(), Zones: zoneChoices(loc.String()),
		Today: sp == spanOf("day", now), Path: r.URL.Path,
	}
	for _, o := range []struct{ sort, label string }{{"upvotes", "Most upvoted"}, {"newest", "Newest"}} {
		page.Sorts = append(page.Sorts, link{href(sp.path(), o.sort, ""), o.label, o.sort == sort})
	}
	if problem != "" {
		page.Heading, page.Problem = "Daily papers", problem
		render(w, http.StatusBadRequest, dailyTmpl, page)
		return
	}
	req := &catalogv1.ListDailyPapersRequest{TimeZone: loc.String(), OrderBy: order, PageSize: listPageSize,
		PageToken: q.Get("page"), View: catalogv1.PaperView_PAPER_VIEW_FULL}
	switch sp.kind {
	case "week":
		req.Week = sp.value
	case "month":
		req.Month = sp.value
	default:
		req.Date = sp.value
	}
	resp, err := s.Catalog.ListDailyPapers(ctx, req)
	if status.Code(err) == codes.InvalidArgument {
		page.Heading, page.Problem = "Daily papers", problemOf(err)
		render(w, http.StatusBadRequest, dailyTmpl, page)
		return
	}
	if err != nil {
		pageError(w, err)
		return
	}
	start, end := resp.GetPeriodStart().AsTime().In(loc), resp.GetPeriodEnd().AsTime().In(loc)
	page.Heading = heading(sp.kind, start, end, page.Today)
	page.Title = page.Heading + " · Daily papers"
	page.Papers, page.Total = s.cards(resp.GetPapers(), loc), int(resp.GetTotalSize())
	if t := resp.GetNextPageToken(); t != "" {
		page.More = href(sp.path(), sort, t)
	}
	if q.Get("page") != "" {
		page.First = href(sp.path(), sort, "")
	}
	// The other views of the period: today's when it lies in it, else the
	// period's first day.
	day := start
	if !now.Before(start) && now.Before(end) {
		day = now
	}
	for _, kind := range []string{"day", "week", "month"} {
		v := spanOf(kind, day)
		page.Views = append(page.Views, link{href(v.path(), sort, ""), strings.ToUpper(kind[:1]) + kind[1:], kind == sp.kind})
	}
	if prev, ok := s.neighbour(ctx, sp.kind, start, end, loc, false); ok {
		page.Prev = &link{Href: href(prev.path(), sort, ""), Label: spanLabel(prev, loc)}
	}
	if next, ok := s.neighbour(ctx, sp.kind, start, end, loc, true); ok {
		page.Next = &link{Href: href(next.path(), sort, ""), Label: spanLabel(next, loc)}
	}
	render(w, http.StatusOK, dailyTmpl, page)
}

// neighbour is the nearest period of kind before [start, end) (or after it,
// when later) that has papers: the period of the paper submitted last before
// start (first at or after end). It costs one ListPapers call of one paper
// over the lookaround window next to the period, and a second, unbounded one
// only when that window holds no paper. Looking later, a window that reaches
// past now is not worth a call of its own: the unbounded one goes first (few
// papers lie ahead of now).
func (s *Site) neighbour(ctx context.Context, kind string, start, end time.Time, loc *time.Location, later bool) (span, bool) {
	const at = `submit_time %s "%s"`
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
	var filters []string
	order := "submit_time desc"
	if later {
		order = "submit_time"
		unbounded := fmt.Sprintf(at, ">=", ts(end))
		if far := end.Add(lookaround); far.Before(clock.Or(s.Clock).Now()) {
			filters = append(filters, unbounded+" AND "+fmt.Sprintf(at, "<", ts(far)))
		}
		filters = append(filters, unbounded)
	} else {
		unbounded := fmt.Sprintf(at, "<", ts(start))
		filters = append(filters, unbounded+" AND "+fmt.Sprintf(at, ">=", ts(start.Add(-lookaround))), unbounded)
	}
	for _, f := range filters {
		resp, err := s.Catalog.ListPapers(ctx, &catalogv1.ListPapersRequest{Filter: f, OrderBy: order, PageSize: 1})
		if err != nil {
			return span{}, false
		}
		if ps := resp.GetPapers(); len(ps) > 0 {
			return spanOf(kind, ps[0].GetSubmitTime().AsTime().In(loc)), true
		}
	}
	return span{}, false
}

// heading names the period [start, end) of kind.
func heading(kind string, start, end time.Time, today bool) string {
	switch kind {
	case "week":
		_, w := start.ISOWeek()
		last := end.AddDate(0, 0, -1)
		if last.Month() == start.Month() {
			return fmt.Sprintf("Week %d: %s – %d, %d", w, start.Format("January 2"), last.Day(), last.Year())
		}
		return fmt.Sprintf("Week %d: %s – %s", w, start.Format("January 2"), last.Format("January 2, 2006"))
	case "month":
		return start.Format("January 2006")
	}
	if today {
		return "Today, " + start.Format("Monday, January 2, 2006")
	}
	return start.Format("Monday, January 2, 2006")
}

// spanLabel is the short name of a period in a previous or next link.
func spanLabel(p span, loc *time.Location) string {
	switch p.kind {
	case "week":
		if start, _, problems := period.Resolve("", p.value, "", loc); len(problems) == 0 {
			_, w := start.ISOWeek()
			return fmt.Sprintf("week %d (%s)", w, start.Format("Jan 2, 2006"))
		}
	case "month":
		if t, err := time.Parse("2006-01", p.value); err == nil {
			return t.Format("January 2006")
		}
	default:
		if t, err := time.Parse(time.DateOnly, p.value); err == nil {
			return t.Format("Mon, Jan 2, 2006")
		}
	}
	return p.value
}

// zoneChoices are the select's options, the reader's zone selected (and
// added when the list lacks it). They are made once per zone, not by the
// template, where they took a fifth of the page's time.
func zoneChoices(current string) template.HTML {
	if h, ok := zoneOptions.Load(current); ok {
		return h.(template.HTML)
	}
	list := zones
	if !slices.Contains(zones, current) {
		list = append([]string{current}, zones...)
	}
	var b strings.Builder
	for _, z := range list {
		if z == current {
			b.WriteString("<option selected>")
		} else {
			b.WriteString("<option>")
		}
		b.WriteString(html.EscapeString(z))
		b.WriteString("</option>")
	}
	h := template.HTML(b.String()) //nolint:gosec // zone names escaped above
	zoneOptions.Store(current, h)
	return h
}

// zoneOptions holds the select's options by the zone selected: valid zone
// names only, so a few hundred at most.
var zoneOptions sync.Map

// Feeds the list pages announce.
var (
	dailyFeed    = Feed{Title: "Daily papers (Atom)", Type: atomType, Href: "/feeds/daily.atom"}
	trendingFeed = Feed{Title: "Trending papers (Atom)", Type: atomType, Href: "/feeds/trending.atom"}
)

const atomType = "application/atom+xml"
