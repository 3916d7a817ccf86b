package server_test

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
)

// weekOf is the ISO week of t (in its location), as the daily pages name it.
func weekOf(t time.Time) string {
	y, w := t.ISOWeek()
	return fmt.Sprintf("%04d-W%02d", y, w)
}

// pagesCatalog is what seedPages stored: papers today (UTC), three days ago
// and forty days ago, with nothing in between.
type pagesCatalog struct {
	today, threeAgo, fortyAgo time.Time // midnights, UTC
	// published is each paper's publication time.
	published map[string]time.Time
}

// publishedIn are the ids of the papers published in year, sorted.
func (c pagesCatalog) publishedIn(year int) []string {
	var ids []string
	for id, t := range c.published {
		if t.Year() == year {
			ids = append(ids, id)
		}
	}
	return slices.Sorted(slices.Values(ids))
}

// seedPages imports the daily pages' papers, with upvotes, and waits until
// search finds them.
func seedPages(t *testing.T, ts *testServer) pagesCatalog {
	t.Helper()
	now := testClock(t).Now().UTC()
	c := pagesCatalog{today: now.Truncate(24 * time.Hour)}
	c.threeAgo, c.fortyAgo = c.today.AddDate(0, 0, -3), c.today.AddDate(0, 0, -40)
	rec := func(id, title string, submit time.Time, upvotes int64, edit func(*catalogv1.Paper)) *catalogv1.ImportRecord {
		p := &catalogv1.Paper{Title: title, Abstract: "We study zeppelins. " + strings.Repeat("Airships carry loads over long distances. ", 20),
			Authors: []*catalogv1.Author{{Name: "Ada Lovelace"}}, Categories: []string{"cs.LG"}, SubmitTime: timestamppb.New(submit),
			PublishedTime: timestamppb.New(submit.Add(-24 * time.Hour))}
		if edit != nil {
			edit(p)
		}
		return &catalogv1.ImportRecord{PaperId: id, Paper: p, ImportedUpvotes: &upvotes}
	}
	recs := []*catalogv1.ImportRecord{
		rec("2401.00001", "Rethinking zeppelins for vision", c.today.Add(time.Minute), 50, func(p *catalogv1.Paper) {
			p.Authors = []*catalogv1.Author{{Name: "Ada Lovelace"}, {Name: "Alan Turing"}, {Name: "Grace Hopper"}, {Name: "Edsger Dijkstra"}, {Name: "Barbara Liskov"}}
			p.Organization = &catalogv1.Organization{Id: "naver-ai", DisplayName: "NAVER AI Lab"}
			p.GithubRepo, p.GithubStars = "https://github.com/naver-ai/zeppelin", 1234
			p.Categories = []string{"cs.CV", "cs.LG"}
		}),
		rec("2401.00002", "Small zeppelins", c.today.Add(3*time.Minute), 10, func(p *catalogv1.Paper) {
			p.Organization = &catalogv1.Organization{Id: "naver-ai", DisplayName: "NAVER AI Lab"}
		}),
		rec("2401.00003", "Zeppelins without an organization", c.today.Add(2*time.Minute), 0, nil),
		rec("2401.00004", "Zeppelins of three days ago", c.threeAgo.Add(12*time.Hour), 7, nil),
		rec("2401.00005", "Zeppelins of forty days ago", c.fortyAgo.Add(12*time.Hour), 3, func(p *catalogv1.Paper) {
			p.Organization = &catalogv1.Organization{Id: "naver-ai", DisplayName: "NAVER AI Lab"}
		}),
	}
	if r := importRecords(t, ts, recs); r.GetCreated() != int64(len(recs)) {
		t.Fatalf("import: %v", r)
	}
	c.published = map[string]time.Time{}
	for _, r := range recs {
		c.published[r.GetPaperId()] = r.GetPaper().GetPublishedTime().AsTime()
	}
	eventually(t, "the papers are searchable", func() bool { return ts.searchTotal(t, "zeppelins") == int32(len(recs)) })
	return c
}

// page GETs a page and returns its status and body.
func page(t *testing.T, ts *testServer, path string, header map[string]string) (int, string) {
	t.Helper()
	code, body, _ := formRequest(t, "GET", ts.base+path, "", header)
	return code, body
}

// titles are the card titles of a list, in order.
var cardTitle = regexp.MustCompile(`<h3 class="title" id="t-[^"]+"><a href="/papers/([^"]+)">`)

func cardIDs(body string) []string {
	var ids []string
	for _, m := range cardTitle.FindAllStringSubmatch(body, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

// TestDailyPagesNavigateBetweenPeriodsWithPapers reads the daily pages of a
// seeded catalog over HTTP: today's cards with every field, previous and
// next links that skip empty days and stop at the ends, the week and month
// views, the sort switch, the reader's time zone from the parameter and then
// the cookie, and clear refusals of a bad zone and a bad date.
func TestDailyPagesNavigateBetweenPeriodsWithPapers(t *testing.T) {
	t.Parallel()
	ts := startServer(t, testConfig(t))
	c := seedPages(t, ts)
	day := func(t time.Time) string { return t.Format(time.DateOnly) }

	code, home := page(t, ts, "/", nil)
	if code != http.StatusOK {
		t.Fatalf("/: %d\n%s", code, home)
	}
	if ids := cardIDs(home); strings.Join(ids, " ") != "2401.00001 2401.00002 2401.00003" {
		t.Errorf("today's cards, most upvoted first: %v", ids)
	}
	for _, want := range []string{
		`<h1 id="period">Today, ` + c.today.Format("Monday, January 2, 2006") + `</h1>`,
		`<a href="/papers/2401.00001">Rethinking zeppelins for vision</a>`,
		`<p class="abstract">We study zeppelins. Airships carry loads`,
		`<span class="count">5 authors</span>: Ada Lovelace, Alan Turing, Grace Hopper and others`,
		`<a class="org" href="/organizations/naver-ai">naver-ai</a> <span class="org-name">NAVER AI Lab</span>`,
		`<time class="submitted" datetime="` + strings.ReplaceAll(c.today.Add(time.Minute).Format(time.RFC3339), "+", "&#43;") + `">`,
		"50 upvotes",
		`<a class="github" href="https://github.com/naver-ai/zeppelin">`, "1,234 stars",
		`<a class="arxiv" href="https://arxiv.org/abs/2401.00001">`, `<a class="pdf" href="https://arxiv.org/pdf/2401.00001">`,
		`<a id="prev" rel="prev" href="/daily/` + day(c.threeAgo) + `">`, `<span id="no-next">No later papers</span>`,
		`<a id="view-week" href="/daily/week/` + weekOf(c.today) + `">`, `<a id="view-month" href="/daily/month/` + c.today.Format("2006-01") + `">`,
		`<link rel="alternate" type="application/atom&#43;xml" title="Daily papers (Atom)" href="/feeds/daily.atom">`,
		`action="/subscribe"`,
	} {
		if !strings.Contains(home, want) {
			t.Errorf("/ lacks %s", want)
		}
	}
	if ex := regexp.MustCompile(`<p class="abstract">([^<]*)</p>`).FindStringSubmatch(home); ex == nil || len(ex[1]) > 400 || !strings.HasSuffix(ex[1], "…") {
		t.Errorf("the abstract is not an excerpt: %q", ex)
	}

	// A changed paper shows changed (cards are kept per paper version).
	if _, err := ts.client.UpdatePaper(admin(testCtx(t)), &catalogv1.UpdatePaperRequest{Paper: &catalogv1.Paper{Name: "papers/2401.00002",
		Title: "Small zeppelins, revised"}}); err != nil {
		t.Fatal(err)
	}
	if _, again := page(t, ts, "/", nil); !strings.Contains(again, `<a href="/papers/2401.00002">Small zeppelins, revised</a>`) {
		t.Errorf("/ after an update:\n%s", mainOf(again))
	}

	// Three days ago: previous is forty days ago, next is today; both skip
	// the empty days between.
	_, mid := page(t, ts, "/daily/"+day(c.threeAgo), nil)
	if ids := cardIDs(mid); len(ids) != 1 || ids[0] != "2401.00004" ||
		!strings.Contains(mid, `<a id="prev" rel="prev" href="/daily/`+day(c.fortyAgo)+`">`) ||
		!strings.Contains(mid, `<a id="next" rel="next" href="/daily/`+day(c.today)+`">`) {
		t.Errorf("three days ago: %v\n%s", ids, mainOf(mid))
	}
	_, first := page(t, ts, "/daily/"+day(c.fortyAgo), nil)
	if !strings.Contains(first, `<span id="no-prev">No earlier papers</span>`) || !strings.Contains(first, `href="/daily/`+day(c.threeAgo)+`"`) {
		t.Errorf("forty days ago:\n%s", mainOf(first))
	}
	// An empty day says so and still links to the periods with papers.
	_, empty := page(t, ts, "/daily/"+day(c.today.AddDate(0, 0, -1)), nil)
	if !strings.Contains(empty, "No papers in this period.") || !strings.Contains(empty, `<a id="prev" rel="prev" href="/daily/`+day(c.threeAgo)+`"`) ||
		!strings.Contains(empty, `<a id="next" rel="next" href="/daily/`+day(c.today)+`"`) {
		t.Errorf("an empty day:\n%s", mainOf(empty))
	}

	// The week and the month hold what their days hold.
	for path, period := range map[string][2]time.Time{
		"/daily/week/" + weekOf(c.today):            weekBounds(c.today),
		"/daily/month/" + c.today.Format("2006-01"): {time.Date(c.today.Year(), c.today.Month(), 1, 0, 0, 0, 0, time.UTC), time.Date(c.today.Year(), c.today.Month()+1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		code, body := page(t, ts, path, nil)
		want := 0
		for _, d := range []time.Time{c.today, c.threeAgo, c.fortyAgo} {
			if !d.Before(period[0]) && d.Before(period[1]) {
				want += map[time.Time]int{c.today: 3, c.threeAgo: 1, c.fortyAgo: 1}[d]
			}
		}
		if ids := cardIDs(body); code != http.StatusOK || len(ids) != want || !strings.Contains(body, fmt.Sprintf(`<h2 id="count">%d papers`, want)) {
			t.Errorf("%s: %d, cards %v, want %d", path, code, ids, want)
		}
		if !strings.Contains(body, `aria-current="page">`+map[bool]string{true: "Week", false: "Month"}[strings.Contains(path, "week")]+`</a>`) {
			t.Errorf("%s does not mark its view as current", path)
		}
	}

	// Newest first.
	_, newest := page(t, ts, "/?sort=newest", nil)
	if ids := cardIDs(newest); strings.Join(ids, " ") != "2401.00002 2401.00003 2401.00001" ||
		!strings.Contains(newest, `<a id="prev" rel="prev" href="/daily/`+day(c.threeAgo)+`?sort=newest">`) {
		t.Errorf("newest first: %v", ids)
	}

	// A zone far ahead of UTC: the tz parameter sets the cookie; with the
	// cookie alone the page keeps the zone.
	code, body, hdr := formRequest(t, "GET", ts.base+"/?tz=Pacific%2FKiritimati", "", nil)
	kiri, _ := time.LoadLocation("Pacific/Kiritimati")
	if code != http.StatusOK || !strings.Contains(body, `<option selected>Pacific/Kiritimati</option>`) ||
		!strings.Contains(body, testClock(t).Now().In(kiri).Format("Monday, January 2, 2006")) {
		t.Errorf("?tz=Pacific/Kiritimati: %d\n%s", code, mainOf(body))
	}
	cookie := hdr.Get("Set-Cookie")
	if !strings.HasPrefix(cookie, "tz=Pacific/Kiritimati;") || !strings.Contains(cookie, "HttpOnly") || !strings.Contains(cookie, "SameSite=Lax") {
		t.Errorf("Set-Cookie %q", cookie)
	}
	_, body = page(t, ts, "/daily/"+day(c.today), map[string]string{"Cookie": "tz=Pacific/Kiritimati"})
	if !strings.Contains(body, `<option selected>Pacific/Kiritimati</option>`) ||
		!strings.Contains(html.UnescapeString(body), `datetime="`+c.today.Add(time.Minute).In(kiri).Format(time.RFC3339)+`"`) {
		t.Errorf("with the cookie, dates are not in its zone:\n%s", mainOf(body))
	}

	for path, want := range map[string]string{
		"/?tz=Mars%2FBase":                      `The time zone &#34;Mars/Base&#34; is not an IANA time zone such as Europe/Paris`,
		"/daily/2024-13-05":                     `&#34;2024-13-05&#34; is not a date such as 2024-03-05`,
		"/daily/week/2024-W60":                  `2024 has ISO weeks 1 to 52, not 60`,
		"/daily/month/1800-01":                  `Must lie between the years 1990 and 2200`,
		"/daily/" + day(c.today) + "?page=nope": "page",
	} {
		code, body := page(t, ts, path, nil)
		if code != http.StatusBadRequest || !strings.Contains(body, `<p class="problem" id="problem" role="alert">`) || !strings.Contains(body, want) {
			t.Errorf("%s: %d, want 400 saying %q\n%s", path, code, want, mainOf(body))
		}
	}
}

// weekBounds is the ISO week (Monday to Monday, UTC) that holds day.
func weekBounds(day time.Time) [2]time.Time {
	monday := day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7))
	return [2]time.Time{monday, monday.AddDate(0, 0, 7)}
}

// TestListPagesTrendingSearchOrganization reads the trending page and its
// windows, the search page with its facets, counts, snippets and reasons,
// and an organization's page, and the feeds each one announces.
func TestListPagesTrendingSearchOrganization(t *testing.T) {
	t.Parallel()
	ts := startServer(t, testConfig(t))
	c := seedPages(t, ts)

	_, trending := page(t, ts, "/trending", nil)
	if ids := cardIDs(trending); len(ids) != 4 || ids[0] != "2401.00001" ||
		!strings.Contains(trending, `<a href="/trending" aria-current="page">Week</a>`) ||
		!strings.Contains(trending, `href="/feeds/trending.atom"`) {
		t.Errorf("trending (7 days): %v\n%s", ids, mainOf(trending))
	}
	if _, year := page(t, ts, "/trending?window=365d", nil); len(cardIDs(year)) != 5 {
		t.Errorf("trending over a year: %v", cardIDs(year))
	}
	if code, body := page(t, ts, "/trending?window=2h", nil); code != http.StatusBadRequest || !strings.Contains(body, `The window &#34;2h&#34; is not one of`) {
		t.Errorf("a bad window: %d", code)
	}

	code, res := page(t, ts, "/search?q=zeppelins", nil)
	if code != http.StatusOK || len(cardIDs(res)) != 5 || !strings.Contains(res, `<h2 id="count">5 results</h2>`) ||
		!strings.Contains(res, `<mark>Zeppelins</mark>`) ||
		!strings.Contains(res, `<link rel="alternate" type="application/atom&#43;xml" title="Papers matching this search (Atom)" href="/feeds/search.atom?q=zeppelins">`) {
		t.Errorf("search: %d %v\n%s", code, cardIDs(res), mainOf(res))
	}
	for path, want := range map[string][]string{
		"/search?q=zeppelins&category=cs.CV":        {"2401.00001"},
		"/search?q=zeppelins&organization=naver-ai": {"2401.00001", "2401.00002", "2401.00005"},
		// Published the day before submission: forty days ago, in a year that
		// may be this one or the one before.
		"/search?q=zeppelins&year=" + c.fortyAgo.Add(-12*time.Hour).Format("2006"): c.publishedIn(c.fortyAgo.Add(-12 * time.Hour).Year()),
	} {
		code, body := page(t, ts, path, nil)
		ids := cardIDs(body)
		if code != http.StatusOK || strings.Join(slices.Sorted(slices.Values(ids)), " ") != strings.Join(want, " ") || !strings.Contains(body, `(<a href="/search?q=zeppelins">remove`) {
			t.Errorf("%s: %d %v, want %v", path, code, ids, want)
		}
	}
	_, byCat := page(t, ts, "/search?q=zeppelins&category=cs.CV", nil)
	if !strings.Contains(byCat, `href="/feeds/categories/cs.CV.atom"`) ||
		!strings.Contains(html.UnescapeString(byCat), `href="/feeds/search.atom?filter=primary_category+%3D+%22cs.CV%22&q=zeppelins"`) {
		t.Errorf("the category's feeds are not announced:\n%.1500s", byCat)
	}
	for path, want := range map[string]string{
		"/search?q=" + url.QueryEscape("/a.*/ /e.*/ /i.*/ /o.*/ /u.*/"): "at most 4 are allowed",
		"/search?q=%22open+phrase":                                      "a quoted phrase is not closed",
		"/search?q=nope%3Azeppelins":                                    `unknown field &#34;nope&#34;`,
		"/search?q=zeppelins&year=12":                                   `&#34;12&#34; is not a year to filter by`,
		"/search?q=zeppelins&category=%22":                              `is not a category to filter by`,
	} {
		code, body := page(t, ts, path, nil)
		if code != http.StatusBadRequest || !strings.Contains(body, `id="search-error" role="alert"`) || !strings.Contains(body, want) || strings.Contains(body, "No papers match") {
			t.Errorf("%s: %d, want 400 naming %q\n%s", path, code, want, mainOf(body))
		}
	}
	if _, none := page(t, ts, "/search?q=dirigibles", nil); !strings.Contains(none, "No papers match.") || !strings.Contains(none, "0 results") {
		t.Errorf("no match:\n%s", mainOf(none))
	}

	code, org := page(t, ts, "/organizations/naver-ai", nil)
	if ids := cardIDs(org); code != http.StatusOK || strings.Join(ids, " ") != "2401.00002 2401.00001 2401.00005" ||
		!strings.Contains(org, `<h1 id="heading">NAVER AI Lab</h1>`) ||
		!strings.Contains(org, `href="/feeds/organizations/naver-ai.atom"`) {
		t.Errorf("organization page, newest first: %d %v\n%s", code, ids, mainOf(org))
	}
	for path, want := range map[string]string{
		"/organizations/nobody":   "No papers are attributed to the organization &#34;nobody&#34;.",
		"/organizations/Bad%22Id": "is not an organization id",
	} {
		if code, body := page(t, ts, path, nil); code != http.StatusNotFound || !strings.Contains(body, want) {
			t.Errorf("%s: %d, want 404 saying %q", path, code, want)
		}
	}
}

// TestListPagesStayUnder100KB fills one day, one organization and one search
// with more papers than a page shows, each with the longest title,
// abstract, author names, organization name and GitHub URL the API accepts,
// and checks that every list page stays under 100 KB and pages on.
func TestListPagesStayUnder100KB(t *testing.T) {
	t.Parallel()
	ts := startServer(t, testConfig(t))
	now := testClock(t).Now().UTC()
	long := func(word string, n int) string { return strings.TrimSpace(strings.Repeat(word+" ", n/(len(word)+1))) }
	var recs []*catalogv1.ImportRecord
	for i := range 45 {
		authors := make([]*catalogv1.Author, 50)
		for j := range authors {
			authors[j] = &catalogv1.Author{Name: long("Wolfeschlegel&<", 300), Affiliation: long("Institute", 300)}
		}
		up := int64(1000 + i)
		recs = append(recs, &catalogv1.ImportRecord{PaperId: paperID(100 + i), ImportedUpvotes: &up, Paper: &catalogv1.Paper{
			Title: long(`Zeppelin "&<>"`, 1000), Abstract: long(`zeppelin <b>&amp;</b>`, 20000), Authors: authors,
			Categories: []string{"cs.LG"}, Keywords: []string{"zeppelin"},
			Organization: &catalogv1.Organization{Id: strings.Repeat("a", 63), DisplayName: long(`Lab "&<>"`, 200)},
			GithubRepo:   "https://github.com/" + strings.Repeat("o", 39) + "/" + strings.Repeat("r", 100), GithubStars: 1 << 40,
			SubmitTime: timestamppb.New(now.Truncate(24 * time.Hour).Add(time.Duration(i) * time.Second)),
		}})
	}
	if r := importRecords(t, ts, recs); r.GetCreated() != int64(len(recs)) {
		t.Fatalf("import: %v", r)
	}
	eventually30(t, "the papers are searchable", func() bool { return ts.searchTotal(t, "zeppelin") == int32(len(recs)) })
	for _, path := range []string{"/", "/daily/week/" + weekOf(now), "/daily/month/" + now.Format("2006-01"), "/trending",
		"/trending?window=365d", "/search?q=zeppelin", "/search?q=" + url.QueryEscape(`zeppelin lab "zeppelin"`), "/organizations/" + strings.Repeat("a", 63)} {
		code, body := page(t, ts, path, nil)
		if code != http.StatusOK || len(cardIDs(body)) != 30 || !strings.Contains(body, `id="more" rel="next"`) {
			t.Errorf("%s: %d with %d cards and no link to more", path, code, len(cardIDs(body)))
		}
		if len(body) >= 100_000 {
			t.Errorf("%s is %d bytes, want under 100 KB", path, len(body))
		}
		t.Logf("%s: %d bytes", path, len(body))
		// The next page holds the rest.
		more := regexp.MustCompile(`<a href="([^"]+)" id="more"`).FindStringSubmatch(body)
		if more == nil {
			continue
		}
		if code, next := page(t, ts, html.UnescapeString(more[1]), nil); code != http.StatusOK || len(cardIDs(next)) != 15 || !strings.Contains(next, `id="first-page"`) {
			t.Errorf("%s, page 2: %d with %d cards", path, code, len(cardIDs(next)))
		}
	}
}

// mainOf is the main element of a page, what failures print.
func mainOf(page string) string {
	if i, j := strings.Index(page, "<main"), strings.Index(page, "</main>"); i >= 0 && j > i {
		return page[i:j]
	}
	return page
}
