package site

import (
	"strings"
	"testing"
	"time"
)

// TestCutKeepsFieldsShortAtWords checks the cards' cuts: at most the limit
// plus the ellipsis, at a word when one is near, never inside a character.
func TestCutKeepsFieldsShortAtWords(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		in   string
		n    int
		want string
	}{
		"a short text is kept":             {"Attention is all you need", 30, "Attention is all you need"},
		"a long text is cut at a word":     {"Attention is all you need, really", 20, "Attention is all you…"},
		"a text without spaces is cut":     {strings.Repeat("a", 30), 10, strings.Repeat("a", 10) + "…"},
		"a cut never splits a character":   {"ééééé", 5, "éé…"},
		"punctuation before the cut drops": {"one two three, four five", 15, "one two three…"},
	} {
		if got := cut(tc.in, tc.n); got != tc.want {
			t.Errorf("%s: cut(%q, %d) = %q, want %q", name, tc.in, tc.n, got, tc.want)
		}
	}
}

// TestMarkedLetsOnlyMarkThrough checks that a snippet keeps its <mark>
// elements, balanced, and nothing else that is markup.
func TestMarkedLetsOnlyMarkThrough(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`a <mark>b</mark> c`:                     `a <mark>b</mark> c`,
		`<script>x</script> <mark>y</mark>`:      `&lt;script&gt;x&lt;/script&gt; <mark>y</mark>`,
		`<mark>open`:                             `<mark>open</mark>`,
		`close</mark> <mark><mark>twice</mark>`:  `close <mark>twice</mark>`,
		`&lt;b&gt; <img src=x onerror=alert(1)>`: `&lt;b&gt; &lt;img src=x onerror=alert(1)&gt;`,
	} {
		if got := string(marked(in)); got != want {
			t.Errorf("marked(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPeriodsAndTheirNames checks the periods that hold an instant and the
// headings of the daily page.
func TestPeriodsAndTheirNames(t *testing.T) {
	t.Parallel()
	// Sunday, 2024-01-07 in Tokyo is the last day of ISO week 1 of 2024.
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 1, 6, 20, 0, 0, 0, time.UTC).In(tokyo)
	for kind, want := range map[string]span{
		"day": {"day", "2024-01-07"}, "week": {"week", "2024-W01"}, "month": {"month", "2024-01"},
	} {
		if got := spanOf(kind, at); got != want {
			t.Errorf("spanOf(%s) = %v, want %v", kind, got, want)
		}
	}
	if p := (span{"week", "2024-W01"}).path(); p != "/daily/week/2024-W01" {
		t.Errorf("path %q", p)
	}
	if p := (span{"day", "2024-01-07"}).path(); p != "/daily/2024-01-07" {
		t.Errorf("path %q", p)
	}
	start := time.Date(2024, 1, 29, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		kind  string
		start time.Time
		days  int
		want  string
	}{
		{"day", start, 1, "Monday, January 29, 2024"},
		{"week", start, 7, "Week 5: January 29 – February 4, 2024"},
		{"week", start.AddDate(0, 0, -7), 7, "Week 4: January 22 – 28, 2024"},
		{"month", start.AddDate(0, 0, 3), 29, "February 2024"},
	} {
		if got := heading(tc.kind, tc.start, tc.start.AddDate(0, 0, tc.days), false); got != tc.want {
			t.Errorf("heading(%s) = %q, want %q", tc.kind, got, tc.want)
		}
	}
	if got := spanLabel(span{"week", "2024-W05"}, time.UTC); got != "week 5 (Jan 29, 2024)" {
		t.Errorf("spanLabel = %q", got)
	}
}
