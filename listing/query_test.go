package listing

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/papercatalog/papers/repository"
)

var paper = &repository.Paper{
	ID: "2111.13056", Title: "ViDT", Categories: []string{"cs.CV", "cs.LG"}, PrimaryCategory: "cs.CV",
	Authors:      []repository.Author{{Name: "Hwanjun Song"}, {Name: "Deqing Sun"}},
	Organization: repository.Organization{ID: "naver-ai"}, Submitter: "hwanjun",
	SubmitTime: time.Date(2021, 11, 26, 0, 0, 0, 0, time.UTC), Upvotes: 12,
	GithubRepo: "https://github.com/naver-ai/vidt",
}

func TestFilterMatches(t *testing.T) {
	t.Parallel()
	tests := []struct {
		filter string
		want   bool
	}{
		{``, true},
		{`organization = "naver-ai"`, true},
		{`organization = "meta-ai"`, false},
		{`organization != "meta-ai"`, true},
		{`categories:"cs.LG"`, true},
		{`categories:"cs.CL"`, false},
		{`primary_category = "cs.CV"`, true},
		{`authors:"Sun"`, true},
		{`authors:"Hinton"`, false},
		{`submitter = "hwanjun"`, true},
		{`upvotes > 10`, true},
		{`upvotes > 12`, false},
		{`upvotes >= 12 AND upvotes <= 12`, true},
		{`submit_time > "2021-11-25T00:00:00Z"`, true},
		{`submit_time < "2021-11-25T00:00:00Z"`, false},
		{`submit_time = timestamp("2021-11-26T00:00:00Z")`, true},
		{`published_time:*`, false},
		{`github_repo:*`, true},
		{`github_repo:"naver-ai"`, true},
		{`NOT categories:"cs.LG"`, false},
		{`-categories:"cs.LG"`, false},
		{`organization = "meta-ai" OR upvotes > 5`, true},
		{`(organization = "meta-ai" OR upvotes > 50) AND categories:"cs.CV"`, false},
		{`categories:"cs.CV" categories:"cs.LG"`, true},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			t.Parallel()
			f, err := ParseFilter(tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Match(paper); got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFilterErrorsSayWhatIsWrong(t *testing.T) {
	t.Parallel()
	tests := []struct{ filter, mention string }{
		{`colour = "red"`, `unknown field "colour"; fields: authors, categories, `},
		{`upvotes = "many"`, `upvotes is int64; "=" cannot compare it with string`},
		{`upvotes >`, "ends early"},
		{`submit_time > "last week"`, "RFC3339"},
		{`(organization = "x"`, "column 20"},
		{`upvotes = 1 )`, "column 13: unexpected token )"},
		{strings.Repeat("a", MaxFilterLength+1), "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.filter[:min(len(tt.filter), 30)], func(t *testing.T) {
			t.Parallel()
			_, err := ParseFilter(tt.filter)
			if err == nil || !strings.Contains(err.Error(), tt.mention) {
				t.Fatalf("error %v does not mention %q", err, tt.mention)
			}
			// One line, without the parser's trace or the checker's internals.
			if msg := err.Error(); strings.Contains(msg, "\n") || strings.Contains(msg, "expr") {
				t.Errorf("error %q is not one short sentence", msg)
			}
		})
	}
}

func TestOrder(t *testing.T) {
	t.Parallel()
	older := *paper
	older.ID, older.SubmitTime, older.Upvotes = "2111.00001", paper.SubmitTime.Add(-time.Hour), 12
	tests := []struct {
		order, canonical string
		paperFirst       bool
	}{
		{"", "submit_time desc", true},
		{"submit_time", "submit_time", false},
		{"upvotes desc, submit_time desc", "upvotes desc, submit_time desc", true},
		{"upvotes desc,name", "upvotes desc, name", false},
		{"  title  ", "title", false},
	}
	for _, tt := range tests {
		t.Run(tt.order, func(t *testing.T) {
			t.Parallel()
			o, err := ParseOrder(tt.order)
			if err != nil {
				t.Fatal(err)
			}
			if o.Text != tt.canonical {
				t.Errorf("Text = %q, want %q", o.Text, tt.canonical)
			}
			if got := o.Compare(o.KeyOf(paper), o.KeyOf(&older)) < 0; got != tt.paperFirst && tt.order != "  title  " {
				t.Errorf("paper first = %v, want %v", got, tt.paperFirst)
			}
			if !o.Valid(o.KeyOf(paper)) {
				t.Error("a key of the order is not Valid")
			}
		})
	}
	for _, bad := range []string{"colour", "upvotes sideways", "upvotes, upvotes desc", "title.x"} {
		if _, err := ParseOrder(bad); err == nil {
			t.Errorf("ParseOrder(%q) accepted", bad)
		}
	}
}

func TestTokens(t *testing.T) {
	t.Parallel()
	tokens := NewTokens([]byte("key one"))
	key := Key{{I: 42}, {S: "2111.13056"}}
	tok := tokens.Encode("q1", key)
	got, err := tokens.Decode("q1", tok)
	if err != nil || len(got) != 2 || got[0].I != 42 || got[1].S != "2111.13056" {
		t.Fatalf("round trip: %v %v", got, err)
	}
	tests := []struct{ name, query, token string }{
		{"another query", "q2", tok},
		{"another key", "q1", NewTokens([]byte("key two")).Encode("q1", key)},
		{"flipped byte", "q1", tok[:5] + string(tok[5]^1) + tok[6:]},
		{"truncated", "q1", tok[:len(tok)-3]},
		{"not base64", "q1", "!!!"},
		{"empty", "q1", ""},
	}
	for _, tt := range tests {
		if _, err := tokens.Decode(tt.query, tt.token); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
}

func TestTrending(t *testing.T) {
	t.Parallel()
	ref := time.Date(2024, 3, 5, 12, 0, 0, 0, time.UTC)
	fresh := &repository.Paper{ID: "a", Upvotes: 10, SubmitTime: ref.Add(-time.Hour)}
	old := &repository.Paper{ID: "b", Upvotes: 100, SubmitTime: ref.Add(-48 * time.Hour)}
	future := &repository.Paper{ID: "c", Upvotes: 1, SubmitTime: ref.Add(time.Hour)}
	if got, want := TrendingScore(fresh, ref), 10/math.Pow(3, 1.8); math.Abs(got-want) > 1e-12 {
		t.Errorf("score %v, want %v", got, want)
	}
	if got, want := TrendingScore(future, ref), 1/math.Pow(2, 1.8); math.Abs(got-want) > 1e-12 {
		t.Errorf("a paper submitted after the reference time counts as age 0: %v, want %v", got, want)
	}
	o := TrendingOrder(ref)
	// 10/3^1.8 = 1.38 beats 100/50^1.8 = 0.09.
	if o.Compare(o.KeyOf(fresh), o.KeyOf(old)) >= 0 {
		t.Error("the fresh paper does not come first")
	}
	if !o.Valid(o.KeyOf(old)) {
		t.Error("trending keys are not valid keys of the order")
	}
	if TrendingOrder(ref.Add(time.Minute)).Text == o.Text {
		t.Error("orders at different reference times share a cache key")
	}
}

func TestFilterAnd(t *testing.T) {
	t.Parallel()
	f, err := ParseFilter(`organization = "naver-ai"`)
	if err != nil {
		t.Fatal(err)
	}
	both := f.And("upvotes over 100", func(p *repository.Paper) bool { return p.Upvotes > 100 })
	if both.Match(paper) {
		t.Error("the added predicate was ignored")
	}
	if !f.And("any", func(*repository.Paper) bool { return true }).Match(paper) {
		t.Error("the filter was lost")
	}
	if both.Text == f.Text {
		t.Error("the combined filter has the same cache key")
	}
}

func TestTokensCarryExtra(t *testing.T) {
	t.Parallel()
	tokens := NewTokens([]byte("k"))
	tok := tokens.EncodeExtra("q", Key{{S: "x"}}, 1709640000)
	_, extra, err := tokens.DecodeExtra("q", tok)
	if err != nil || extra != 1709640000 {
		t.Errorf("extra %d, %v", extra, err)
	}
}

// TestContainsFoldAgreesWithLowering checks the in-place comparison filters use
// against lowering both strings, on ASCII and other text.
func TestContainsFoldAgreesWithLowering(t *testing.T) {
	t.Parallel()
	texts := []string{"", "cs.LG", "CS.lg", "stat.ML", "Ünïcode Straße", "ΣΊΣΥΦΟΣ", "aaa", "xcs.lgx"}
	for _, s := range texts {
		for _, sub := range append(texts, "cs", "LG", "lg", "s.l", "ü", "Σ", "x") {
			want := strings.Contains(strings.ToLower(s), strings.ToLower(sub))
			if got := containsFold(s, sub); got != want {
				t.Errorf("containsFold(%q, %q) = %v, want %v", s, sub, got, want)
			}
		}
	}
}

func TestDailyOrder(t *testing.T) {
	for text, want := range map[string]string{
		"":                                   "upvotes desc, submit_time desc",
		"  upvotes desc,   submit_time desc": "upvotes desc, submit_time desc",
		"submit_time desc":                   "submit_time desc",
		"trending":                           "trending",
	} {
		if got, ok := DailyOrder(text); !ok || got != want {
			t.Errorf("DailyOrder(%q) = %q, %v; want %q", text, got, ok, want)
		}
	}
	if _, ok := DailyOrder("title asc"); ok {
		t.Error("DailyOrder accepted an order the daily listing does not have")
	}
}

func TestReferenceTime(t *testing.T) {
	minute := time.Date(2026, 11, 29, 23, 59, 0, 0, time.UTC)
	if got := ReferenceTime(0, minute); !got.Equal(minute) {
		t.Errorf("without a token: %v, want the current minute", got)
	}
	if got := ReferenceTime(1_700_000_000, minute); got.Unix() != 1_700_000_000 || got.Location() != time.UTC {
		t.Errorf("from a token: %v, want the token's time in UTC", got)
	}
}

func TestTermsAreTheTestsEveryMatchPasses(t *testing.T) {
	for text, want := range map[string][]Term{
		`categories:"cs.LG"`:                            {{"categories", "cs.LG"}},
		`categories:"cs.LG" AND upvotes >= 5`:           {{"categories", "cs.LG"}},
		`categories:"cs" authors:"Ada" upvotes > 1`:     {{"categories", "cs"}, {"authors", "Ada"}},
		`categories:"cs.LG" OR categories:"cs.CV"`:      nil, // either may fail
		`NOT categories:"cs.LG"`:                        nil,
		`categories:*`:                                  nil, // presence, not an element's text
		`primary_category:"cs.LG"`:                      nil, // not a list
		`(categories:"a" AND categories:"b") upvotes>0`: {{"categories", "a"}, {"categories", "b"}},
	} {
		f, err := ParseFilter(text)
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		if got := f.Terms(); !slices.Equal(got, want) {
			t.Errorf("%s: terms %v, want %v", text, got, want)
		}
		if got := f.And("more", func(*repository.Paper) bool { return true }).Terms(); !slices.Equal(got, want) {
			t.Errorf("%s AND more: terms %v, want %v", text, got, want)
		}
	}
	term := Term{"categories", "cs.lg"}
	if !term.Holds("cs.LG") || term.Holds("cs.CV") {
		t.Errorf("%v holds for cs.LG (%v) and not cs.CV (%v)", term, term.Holds("cs.LG"), term.Holds("cs.CV"))
	}
}
