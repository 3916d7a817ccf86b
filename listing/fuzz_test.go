package listing

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/papercatalog/papers/repository"
)

// fuzzPapers are the papers fuzzed filters and orders run on: a typical one, one
// with every field empty, and one with extreme values.
var fuzzPapers = []*repository.Paper{
	{
		ID: "2111.13056", Title: "ViDT: An Efficient Detector", Abstract: "We study detection.",
		Categories: []string{"cs.CV", "cs.LG"}, PrimaryCategory: "cs.CV",
		Authors:      []repository.Author{{Name: "Hwanjun Song"}, {Name: "Deqing Sun"}},
		Organization: repository.Organization{ID: "naver-ai", DisplayName: "NAVER AI"}, Submitter: "hwanjun",
		SubmitTime:    time.Date(2021, 11, 26, 0, 0, 0, 0, time.UTC),
		PublishedTime: time.Date(2021, 11, 25, 12, 50, 18, 0, time.UTC),
		CreateTime:    time.Date(2024, 3, 5, 9, 0, 0, 0, time.UTC), UpdateTime: time.Date(2024, 3, 6, 9, 0, 0, 0, time.UTC),
		Upvotes: 12, GithubRepo: "https://github.com/naver-ai/vidt",
	},
	{ID: "hep-th/9901001"},
	{
		ID: "math.GT/0309136", Title: "\x00\xff Ünïcödé \u2028 <b>", Categories: []string{"", "*", "cs.LG"},
		Authors:      []repository.Author{{Name: ""}, {Name: "*"}},
		Organization: repository.Organization{ID: "*"}, Submitter: "\"",
		SubmitTime:    time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		PublishedTime: time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
		CreateTime:    time.Unix(0, math.MinInt64), UpdateTime: time.Unix(0, math.MaxInt64),
		Upvotes: math.MinInt64,
	},
	{ID: "2401.00001", Upvotes: math.MaxInt64, SubmitTime: time.Unix(-1, 0)},
}

// FuzzParseFilter parses arbitrary filters. An error has a message fit for the
// caller (UTF-8); a filter that parses keeps its text and matches every sample
// paper without panicking, the same way every time.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		``, `  `, `organization = "naver-ai"`, `categories:"cs.LG"`, `authors:"Sun" OR authors:*`,
		`upvotes >= 12 AND upvotes <= 12`, `upvotes > 1.5`, `upvotes = -9223372036854775808`,
		`submit_time > "2021-11-25T00:00:00Z"`, `submit_time = timestamp("2021-11-26T00:00:00Z")`,
		`published_time:*`, `NOT categories:"cs.LG"`, `-categories:"cs.LG"`,
		`(organization = "meta-ai" OR upvotes > 50) AND categories:"cs.CV"`, `categories:"cs.CV" categories:"cs.LG"`,
		`github_repo:"naver-ai"`, `submit_time < published_time`, `upvotes = upvotes`, `submitter:submitter`,
		`timestamp("x")`, `submit_time:"2021-11-26T00:00:00Z"`, `organization`, `upvotes`, `true`, `a.b.c = 1`,
		`(organization = "x"`, `upvotes >`, `colour = "red"`, strings.Repeat("(", 100), strings.Repeat("NOT ", 50) + "upvotes > 1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		flt, err := ParseFilter(text)
		if err != nil {
			checkMessage(t, err)
			return
		}
		if flt.Text != text {
			t.Fatalf("Text = %q, want %q", flt.Text, text)
		}
		for _, p := range fuzzPapers {
			if a, b := flt.Match(p), flt.Match(p); a != b {
				t.Fatalf("Match(%s) gave %v, then %v", p.ID, a, b)
			}
		}
	})
}

// FuzzParseOrder parses arbitrary orders. An error has a message fit for the
// caller (UTF-8); an order that parses has a canonical text that parses to
// itself, and its keys are valid and consistently compared: a key equals itself,
// Compare is antisymmetric, and the paper ID breaks ties.
func FuzzParseOrder(f *testing.F) {
	for _, s := range []string{
		"", "submit_time", "submit_time desc", "upvotes desc, submit_time desc", "upvotes desc,name",
		"  title  ", "title desc, name desc", "published_time, create_time, update_time", "colour",
		"upvotes sideways", "upvotes, upvotes desc", "title.x", "upvotes desc desc", ",", "upvotes,", "\tupvotes\n",
	} {
		f.Add(s, "2401.00002", "A title", int64(12), int64(1709640000))
	}
	f.Add("title", "", "", int64(0), int64(0))
	f.Add("upvotes desc", "x", "\xff", int64(math.MinInt64), int64(math.MaxInt64))
	f.Fuzz(func(t *testing.T, text, id, title string, upvotes, submit int64) {
		o, err := ParseOrder(text)
		if err != nil {
			checkMessage(t, err)
			return
		}
		again, err := ParseOrder(o.Text)
		if err != nil || again.Text != o.Text {
			t.Fatalf("canonical text %q of %q parses to %q, %v", o.Text, text, again.Text, err)
		}
		if id == "" {
			id = "x" // papers always have an ID
		}
		fuzzed := &repository.Paper{ID: id, Title: title, Upvotes: upvotes, SubmitTime: time.Unix(submit, 0),
			PublishedTime: time.Unix(0, submit), CreateTime: time.Unix(submit, 0).UTC(), UpdateTime: time.Unix(0, submit)}
		papers := append([]*repository.Paper{fuzzed}, fuzzPapers...)
		keys := make([]Key, len(papers))
		for i, p := range papers {
			keys[i] = o.KeyOf(p)
			if !o.Valid(keys[i]) {
				t.Fatalf("order %q: the key %v of paper %q is not Valid", o.Text, keys[i], p.ID)
			}
			if c := o.Compare(keys[i], keys[i]); c != 0 {
				t.Fatalf("order %q: Compare(k, k) = %d for %v", o.Text, c, keys[i])
			}
		}
		for i := range keys {
			for j := range keys {
				ab, ba := o.Compare(keys[i], keys[j]), o.Compare(keys[j], keys[i])
				if sign(ab) != -sign(ba) {
					t.Fatalf("order %q: Compare(%v, %v) = %d but the reverse is %d", o.Text, keys[i], keys[j], ab, ba)
				}
				if ab == 0 && papers[i].ID != papers[j].ID {
					t.Fatalf("order %q: papers %q and %q compare equal", o.Text, papers[i].ID, papers[j].ID)
				}
			}
		}
	})
}

// checkMessage fails unless err has a message that can be sent to the caller
// (status messages are protobuf strings, which must be UTF-8).
func checkMessage(t *testing.T, err error) {
	t.Helper()
	if msg := err.Error(); msg == "" || !utf8.ValidString(msg) {
		t.Fatalf("error message %q", msg)
	}
}

func sign(c int) int {
	switch {
	case c < 0:
		return -1
	case c > 0:
		return 1
	}
	return 0
}

// FuzzTokens checks page tokens: arbitrary tokens are refused without panicking;
// a token round-trips for its query (for keys of valid UTF-8 text, as paper
// titles and IDs are) and is refused for any other query, and a modified token
// is refused or decodes to the very same key and number.
func FuzzTokens(f *testing.F) {
	tokens := NewTokens([]byte("fuzz key"))
	valid := tokens.EncodeExtra("papers\x00\x00submit_time desc", Key{{I: 42}, {S: "2111.13056"}}, 1709640000)
	f.Add("papers\x00\x00submit_time desc", valid, "2111.13056", int64(42), int64(0), "", uint(5), byte(1), byte(0))
	f.Add("q", "", "", int64(0), int64(0), "q2", uint(0), byte(0), byte(1))
	f.Add("q", "!!!", "x", int64(-1), int64(math.MaxInt64), "q", uint(3), byte('\n'), byte(2))
	f.Add("q", "e30", "\u00e9\U0001F600<>&\"", int64(math.MinInt64), int64(math.MinInt64), "Q", uint(1000), byte(0xff), byte(3))
	f.Add("", valid+"\n", "a", int64(1), int64(1), "", uint(0), byte('='), byte(4))
	f.Fuzz(func(t *testing.T, q, token, s string, i, extra int64, other string, pos uint, b, op byte) {
		// Arbitrary text is refused with ErrInvalidToken (unless it is a token
		// of q, as the first seed is), by Decode and DecodeExtra alike.
		k1, _, err1 := tokens.DecodeExtra(q, token)
		k2, err2 := tokens.Decode(q, token)
		if (err1 == nil) != (err2 == nil) || !slices.Equal(k1, k2) {
			t.Fatalf("Decode and DecodeExtra disagree on %q: %v %v", token, err1, err2)
		}
		if err1 != nil && !errors.Is(err1, ErrInvalidToken) {
			t.Fatalf("token %q refused with %v, not ErrInvalidToken", token, err1)
		}

		key := Key{{I: i}, {S: s}, {I: extra, S: s}}
		tok := tokens.EncodeExtra(q, key, extra)
		got, gotExtra, err := tokens.DecodeExtra(q, tok)
		switch {
		case err != nil:
			t.Fatalf("own token refused: %v", err)
		case gotExtra != extra:
			t.Fatalf("extra %d came back as %d", extra, gotExtra)
		case utf8.ValidString(s) && !slices.Equal(got, key):
			t.Fatalf("key %v came back as %v", key, got)
		}
		if k, err := tokens.Decode(q, tokens.Encode(q, key)); err != nil || (utf8.ValidString(s) && !slices.Equal(k, key)) {
			t.Fatalf("Encode/Decode: key %v came back as %v, %v", key, k, err)
		}
		if other != q {
			if _, _, err := tokens.DecodeExtra(other, tok); err == nil {
				t.Fatalf("token of query %q accepted for query %q", q, other)
			}
		}
		if _, _, err := NewTokens([]byte("another key")).DecodeExtra(q, tok); err == nil {
			t.Fatal("token accepted by a catalog with another key")
		}

		mod := modify(tok, pos, b, op)
		if mod == tok {
			return
		}
		mk, mx, err := tokens.DecodeExtra(q, mod)
		if err == nil {
			want, _, _ := tokens.DecodeExtra(q, tok)
			if mx != extra || !slices.Equal(mk, want) {
				t.Fatalf("modified token %q (of %q) decodes to %v, %d", mod, tok, mk, mx)
			}
		}
	})
}

// modify changes tok at pos: op chooses between replacing a byte by b, XORing it
// with b, inserting b, deleting a byte, truncating, and appending b.
func modify(tok string, pos uint, b, op byte) string {
	buf := []byte(tok)
	if len(buf) == 0 {
		return string(b)
	}
	p := int(pos % uint(len(buf))) //nolint:gosec // less than len(buf)
	switch op % 6 {
	case 0:
		buf[p] = b
	case 1:
		buf[p] ^= b
	case 2:
		buf = slices.Insert(buf, p, b)
	case 3:
		buf = slices.Delete(buf, p, p+1)
	case 4:
		buf = buf[:p]
	default:
		buf = append(buf, b)
	}
	return string(buf)
}
