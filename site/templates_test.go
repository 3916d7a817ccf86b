package site

import (
	"html/template"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	subscriptionv1 "github.com/papercatalog/papers/gen/papers/subscription/v1"
)

// TestPageTemplatesRenderEveryBranch renders the embedded page templates once
// for each of their branches, with hostile text, without a server: each renders,
// shows what it was given, and escapes it.
func TestPageTemplatesRenderEveryBranch(t *testing.T) {
	t.Parallel()
	hour := int32(7)
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	hostile := newCard(&catalogv1.Paper{
		Name: "papers/2401.00001", ArxivId: "2401.00001", Title: `Zeppelins <script>x</script>`,
		Abstract:     "We fly\n  <b>zeppelins</b> over the sea.",
		Authors:      []*catalogv1.Author{{Name: "Ada <Lovelace>"}, {Name: "Alan Turing"}, {Name: "Grace Hopper"}, {Name: "Edsger Dijkstra"}},
		Organization: &catalogv1.Organization{Id: "naver-ai", DisplayName: `NAVER "AI" Lab`},
		SubmitTime:   timestamppb.New(time.Date(2024, 3, 4, 23, 30, 0, 0, time.UTC)), Upvotes: 1234,
		GithubRepo: "https://github.com/naver-ai/zeppelin", GithubStars: 98765,
	}, paris)
	bare := newCard(&catalogv1.Paper{Name: "papers/hep-th-9901001", ArxivId: "hep-th/9901001", Title: "Strings", Upvotes: 1,
		Authors: []*catalogv1.Author{{Name: "Solo"}}}, time.UTC)
	snippet := hostile
	snippet.TitleSnippet = marked(`<mark>Zeppelins</mark> &lt;script&gt;`)
	snippet.Snippets = []template.HTML{marked(`we fly <mark>zeppelins</mark> <img src=x>`)}
	for name, tc := range map[string]struct {
		render func(*strings.Builder) error
		want   []string
		not    []string
	}{
		"a message page shows its title and message": {
			render: func(b *strings.Builder) error {
				return messageTmpl.ExecuteTemplate(b, "layout", message{Frame: Frame{Title: "That did not work", NoSubscribeBox: true}, Message: `bad <token>`})
			},
			want: []string{`<h1 id="title">That did not work</h1>`, `<p id="message">bad &lt;token&gt;</p>`},
			not:  []string{"<form", "<token>"},
		},
		"a confirm page has a form with the token and one button": {
			render: func(b *strings.Builder) error {
				return messageTmpl.ExecuteTemplate(b, "layout", message{Frame: Frame{Title: "Confirm your subscription", NoSubscribeBox: true}, Form: true, Action: "/subscriptions/confirm",
					Token: `t"><x`, Button: button{"confirm", "Confirm"}})
			},
			want: []string{`<form method="post" action="/subscriptions/confirm">`, `value="t&#34;&gt;&lt;x"`,
				`<button type="submit" name="action" value="confirm" id="confirm">Confirm</button>`},
			not: []string{`id="save"`, `id="message"`},
		},
		"a manage page shows every preference of the subscription": {
			render: func(b *strings.Builder) error {
				return subscriptionTmpl.ExecuteTemplate(b, "layout", managePage("m", &subscriptionv1.Subscription{
					Email: "ada@example.org", State: subscriptionv1.Subscription_STATE_PENDING, Query: `"<q>"`, TimeZone: "Europe/Paris", SendHour: &hour,
					Categories: []string{"cs.AI", "cs.LG"}, Organizations: []string{"naver-ai"}, MinUpvotes: 3, MaxPapers: 25,
					Frequency: subscriptionv1.Subscription_FREQUENCY_WEEKLY, Weekdays: []subscriptionv1.Subscription_Weekday{6, 7}}))
			},
			want: []string{`name="query" value="&#34;&lt;q&gt;&#34;"`, `value="cs.AI, cs.LG"`, `name="organizations" value="naver-ai"`,
				`value="3"`, `value="25"`, `value="weekly" id="frequency-weekly" checked`, `id="day-6" checked`, `id="day-7" checked`,
				`<option value="7" selected>07:00</option>`, `name="time_zone" list="zones" autocomplete="off" value="Europe/Paris"`,
				`<input type="hidden" name="token" value="m">`, `id="save">Save</button>`, `id="unsubscribe"`, "is not confirmed yet"},
			not: []string{`id="day-1" checked`, `value="daily" id="frequency-daily" checked`, `id="problem"`, "aria-invalid", `id="email"`},
		},
		"a refused subscribe form keeps what was typed and says why next to the field": {
			render: func(b *strings.Builder) error {
				p := defaultPrefs()
				p.TimeZone = `Mars/<Olympus>`
				return subscriptionTmpl.ExecuteTemplate(b, "layout", subscriptionPage{Frame: Frame{Title: "Subscribe"}, Action: "/subscribe", AskEmail: true,
					Email: "ada@example.org", Prefs: p, Problem: "One value needs a change: see below.",
					Errors: map[string]string{"time_zone": `The time zone: "Mars/<Olympus>" is not an IANA time zone.`}})
			},
			want: []string{`<div id="problem" class="problem" role="alert"><p>One value needs a change: see below.</p>`,
				`<a href="#time_zone">The time zone: &#34;Mars/&lt;Olympus&gt;&#34; is not an IANA time zone.</a>`,
				`value="Mars/&lt;Olympus&gt;" aria-invalid="true" aria-describedby="time_zone-error">`,
				`<p class="error" id="time_zone-error">`, `name="email" value="ada@example.org"`, `id="day-1" checked`, `id="day-5" checked`,
				`<option value="8" selected>08:00</option>`, `id="save">Subscribe</button>`},
			not: []string{`id="unsubscribe"`, `id="day-6" checked`, `name="token"`, "Olympus>"},
		},
		"an empty day says so, and links to the day before": {
			render: func(b *strings.Builder) error {
				return dailyTmpl.ExecuteTemplate(b, "layout", dailyPage{Heading: "Today, Monday, March 4, 2024", Today: true, Zone: "UTC", Zones: zoneChoices("UTC"),
					Prev: &link{Href: "/daily/2024-03-01", Label: "Fri, Mar 1, 2024"}, Path: "/"})
			},
			want: []string{`<h1 id="period">Today, Monday, March 4, 2024</h1>`, `<ol class="cards" id="daily" aria-labelledby="count"></ol>`,
				"No papers yet today. See <a href=\"/daily/2024-03-01\">Fri, Mar 1, 2024</a>.", `<span id="no-next">No later papers</span>`,
				`<option selected>UTC</option>`, `<form method="get" action="/">`, `action="/subscribe"`},
		},
		"a day's cards show every field, escaped": {
			render: func(b *strings.Builder) error {
				return dailyTmpl.ExecuteTemplate(b, "layout", dailyPage{Heading: "Tuesday, March 5, 2024", Papers: []template.HTML{cardHTML(hostile), cardHTML(bare)}, Total: 2,
					Zone: "Europe/Paris", Zones: zoneChoices("Europe/Paris"), Sort: "newest", More: "/daily/2024-03-05?page=t%26x", Path: "/daily/2024-03-05",
					Prev: &link{Href: "/daily/2024-03-04", Label: "Mon"}, Next: &link{Href: "/daily/2024-03-06", Label: "Wed"},
					Views: []link{{"/daily/2024-03-05", "Day", true}, {"/daily/week/2024-W10", "Week", false}}})
			},
			want: []string{`<h2 id="count">2 papers, newest first</h2>`,
				`<a href="/papers/2401.00001">Zeppelins &lt;script&gt;x&lt;/script&gt;</a>`,
				`<p class="abstract">We fly &lt;b&gt;zeppelins&lt;/b&gt; over the sea.</p>`,
				`4 authors</span>: Ada &lt;Lovelace&gt;, Alan Turing, Grace Hopper and others</p>`,
				`<a class="org" href="/organizations/naver-ai">naver-ai</a> <span class="org-name">NAVER &#34;AI&#34; Lab</span>`,
				`<time class="submitted" datetime="2024-03-05T00:30:00&#43;01:00">Mar 5, 2024</time>`, "1,234 upvotes",
				`<a class="github" href="https://github.com/naver-ai/zeppelin">GitHub <span class="repo">naver-ai/zeppelin</span></a>`, "98,765 stars",
				`href="https://arxiv.org/abs/2401.00001"`, `href="https://arxiv.org/pdf/2401.00001"`,
				`<a href="/papers/hep-th-9901001">Strings</a>`, `href="https://arxiv.org/abs/hep-th/9901001"`, `1 author</span>: Solo</p>`, "1 upvote</span>",
				`<a id="prev" rel="prev" href="/daily/2024-03-04">`, `<a id="next" rel="next" href="/daily/2024-03-06">`,
				`<a id="view-day" href="/daily/2024-03-05" aria-current="page">Day</a>`, `<a id="view-week" href="/daily/week/2024-W10">Week</a>`,
				`<option selected>Europe/Paris</option>`, `<input type="hidden" name="sort" value="newest">`,
				`<a href="/daily/2024-03-05?page=t%26x" id="more" rel="next">`},
			not: []string{"<script>", "<b>", `id="empty"`, `class="github" href=""`},
		},
		"a bad period or zone is named, without a list": {
			render: func(b *strings.Builder) error {
				return dailyTmpl.ExecuteTemplate(b, "layout", dailyPage{Heading: "Daily papers", Problem: `The time zone "<Mars>" is not an IANA time zone.`, Zones: zoneChoices("UTC")})
			},
			want: []string{`<p class="problem" id="problem" role="alert">The time zone &#34;&lt;Mars&gt;&#34; is not an IANA time zone.</p>`},
			not:  []string{`id="daily"`, "<Mars>"},
		},
		"a trending list with its window switch": {
			render: func(b *strings.Builder) error {
				return listTmpl.ExecuteTemplate(b, "layout", listPage{Heading: "Trending papers", ListID: "trending", SwitchLabel: "Window",
					Switch: []link{{"/trending?window=1d", "Day", false}, {"/trending", "Week", true}}, Papers: []template.HTML{cardHTML(bare)}, Total: 1})
			},
			want: []string{`<ol class="cards" id="trending" aria-labelledby="count"><li class="card">`, `<a href="/trending" aria-current="page">Week</a>`, "<h2 id=\"count\">1 paper</h2>"},
		},
		"search results show their snippets, counts and facets": {
			render: func(b *strings.Builder) error {
				return searchTmpl.ExecuteTemplate(b, "layout", searchPage{Query: `zeppelin "<x>"`, Searched: true, Total: 1, Results: []template.HTML{cardHTML(snippet)},
					Facets:  []facetGroup{{ID: "facet-year", Label: "Year", Values: []facetValue{{Value: "2024", Count: 1, Href: "/search?q=z&year=2024"}}}},
					Filters: []link{{Href: "/search?q=z", Label: "Category: cs.LG"}}})
			},
			want: []string{`value="zeppelin &#34;&lt;x&gt;&#34;"`, `<h2 id="count">1 result</h2>`,
				`<a href="/papers/2401.00001"><mark>Zeppelins</mark> &lt;script&gt;</a>`,
				`<p class="snippet">we fly <mark>zeppelins</mark> &lt;img src=x&gt;</p>`,
				`<a href="/search?q=z&amp;year=2024">2024</a> (1)`, `Category: cs.LG (<a href="/search?q=z">remove`},
			not: []string{"<img", `class="abstract"`, "No papers match."},
		},
		"a search without results says so": {
			render: func(b *strings.Builder) error {
				return searchTmpl.ExecuteTemplate(b, "layout", searchPage{Query: "nothing", Searched: true})
			},
			want: []string{"No papers match.", "0 results"},
		},
		"a bad query shows its reason, and not that nothing matches": {
			render: func(b *strings.Builder) error {
				return searchTmpl.ExecuteTemplate(b, "layout", searchPage{Query: "/.*/", Problem: "This search cannot run. Too <many> words."})
			},
			want: []string{`<p class="problem" id="search-error" role="alert">This search cannot run. Too &lt;many&gt; words.</p>`},
			not:  []string{`id="results"`, "No papers match."},
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var b strings.Builder
			if err := tc.render(&b); err != nil {
				t.Fatal(err)
			}
			html := b.String()
			if !strings.HasPrefix(html, "<!DOCTYPE html>\n") || !strings.HasSuffix(html, "</html>") {
				t.Errorf("not a whole document:\n%s", html)
			}
			for _, w := range tc.want {
				if !strings.Contains(html, w) {
					t.Errorf("lacks %q:\n%s", w, html)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(html, n) {
					t.Errorf("holds %q:\n%s", n, html)
				}
			}
		})
	}
}
