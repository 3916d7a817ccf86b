package site

import (
	"strings"
	"testing"

	subscriptionv1 "github.com/papercatalog/papers/gen/papers/subscription/v1"
)

// TestPageTemplatesRenderEveryBranch renders the embedded page templates once
// for each of their branches, with hostile text, without a server: each renders,
// shows what it was given, and escapes it.
func TestPageTemplatesRenderEveryBranch(t *testing.T) {
	t.Parallel()
	hour := int32(7)
	items := []homeItem{{Name: "papers/2401.00001", Title: `Zeppelins <script>x</script>`, Authors: "A, B, +2 more", Upvotes: 42}}
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
		"a manage page shows the subscription's choices": {
			render: func(b *strings.Builder) error {
				return messageTmpl.ExecuteTemplate(b, "layout", message{Frame: Frame{Title: "Your subscription"}, Form: true, Action: "/subscriptions/manage", Token: "m",
					Sub:        &subscriptionv1.Subscription{Query: `"<q>"`, TimeZone: "Europe/Paris", SendHour: &hour},
					Categories: "cs.AI, cs.LG", Button: button{"unsubscribe", "Unsubscribe"}})
			},
			want: []string{`name="query" value="&#34;&lt;q&gt;&#34;"`, `value="cs.AI, cs.LG"`, "(0–23, Europe/Paris)", `max="23" value="7"`,
				`id="save"`, `id="unsubscribe">Unsubscribe</button>`},
		},
		"an empty home page says so in each list": {
			render: func(b *strings.Builder) error { return homeTmpl.ExecuteTemplate(b, "layout", homePage{}) },
			want:   []string{"None yet today.", "Nothing trending.", `action="/subscribe"`},
			not:    []string{"Search results"},
		},
		"a home page lists papers and search results": {
			render: func(b *strings.Builder) error {
				return homeTmpl.ExecuteTemplate(b, "layout", homePage{Daily: items, Trending: items, Query: "zeppelins", Results: items})
			},
			want: []string{`<ol id="results"><li><a href="/v1/papers/2401.00001">Zeppelins &lt;script&gt;x&lt;/script&gt;</a>`,
				`<ol id="daily"><li>`, `<ol id="trending"><li>`, "A, B, &#43;2 more · ▲ 42", `value="zeppelins"`},
			not: []string{"<script>"},
		},
		"a home page shows why a search failed": {
			render: func(b *strings.Builder) error {
				return homeTmpl.ExecuteTemplate(b, "layout", homePage{Query: "/.*/", SearchError: "too <many> searches"})
			},
			want: []string{`<p id="search-error">too &lt;many&gt; searches</p>`},
			not:  []string{`id="results"`},
		},
		"a search without results says so": {
			render: func(b *strings.Builder) error {
				return homeTmpl.ExecuteTemplate(b, "layout", homePage{Query: "nothing"})
			},
			want: []string{"No papers match."},
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
