package server_test

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
)

// feedResponse is one answer of a feed URL.
type feedResponse struct {
	code   int
	header http.Header
	body   []byte
}

func getFeed(t *testing.T, rawURL string, header map[string]string) feedResponse {
	t.Helper()
	code, h, body := fetch(t, rawURL, header)
	return feedResponse{code, h, body}
}

// atomDoc is what RFC 4287 requires of a feed and its entries (section
// 4.1.1: atom:id, atom:title, atom:updated, an atom:author unless every entry
// has one, a rel="self" link SHOULD be there; 4.1.2: an entry's atom:id,
// atom:title, atom:updated, and an alternate link without atom:content).
type atomDoc struct {
	XMLName xml.Name `xml:"http://www.w3.org/2005/Atom feed"`
	ID      string   `xml:"id"`
	Title   string   `xml:"title"`
	Updated string   `xml:"updated"`
	Authors []struct {
		Name string `xml:"name"`
	} `xml:"author"`
	Links []struct {
		Rel  string `xml:"rel,attr"`
		Href string `xml:"href,attr"`
	} `xml:"link"`
	Entries []struct {
		ID      string `xml:"id"`
		Title   string `xml:"title"`
		Updated string `xml:"updated"`
		Summary string `xml:"summary"`
		Authors []struct {
			Name string `xml:"name"`
		} `xml:"author"`
		Links []struct {
			Rel  string `xml:"rel,attr"`
			Href string `xml:"href,attr"`
		} `xml:"link"`
	} `xml:"entry"`
}

// checkRFC4287 checks an Atom document's required elements.
func checkRFC4287(t *testing.T, what string, body []byte) {
	t.Helper()
	var doc atomDoc
	if err := xml.Unmarshal(body, &doc); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	dateOK := func(s string) bool { _, err := time.Parse(time.RFC3339, s); return err == nil }
	if doc.ID == "" || doc.Title == "" || !dateOK(doc.Updated) {
		t.Errorf("%s: feed id %q, title %q, updated %q", what, doc.ID, doc.Title, doc.Updated)
	}
	self := false
	for _, l := range doc.Links {
		self = self || (l.Rel == "self" && l.Href == doc.ID)
	}
	if !self {
		t.Errorf("%s: no self link to %s: %+v", what, doc.ID, doc.Links)
	}
	everyEntryHasAuthor := true
	for i, e := range doc.Entries {
		everyEntryHasAuthor = everyEntryHasAuthor && len(e.Authors) > 0
		alternate := false
		for _, l := range e.Links {
			alternate = alternate || (l.Rel == "alternate" && l.Href != "")
		}
		if e.ID == "" || e.Title == "" || !dateOK(e.Updated) || (!alternate && e.Summary == "") {
			t.Errorf("%s: entry %d: id %q, title %q, updated %q, alternate link %v", what, i, e.ID, e.Title, e.Updated, alternate)
		}
	}
	if (len(doc.Authors) == 0 || doc.Authors[0].Name == "") && !everyEntryHasAuthor {
		t.Errorf("%s: neither the feed nor every entry has an author", what)
	}
}

// TestFeedsParseLinkToPapersAndAnswerConditionalRequests reads every feed of a
// small catalog, in Atom and RSS, with a real feed parser: each parses, lists
// the papers it should with the abstract, authors, categories and links, each
// entry links to its paper's page, and Atom has RFC 4287's required elements.
// Hostile titles still make well-formed feeds. A reader polling with either
// validator gets 304 and no body until the catalog changes (an upvote, a new
// paper); a bad standing query is a 400 with its reason.
func TestFeedsParseLinkToPapersAndAnswerConditionalRequests(t *testing.T) {
	t.Parallel()
	cfg := userConfig(t)
	cfg.PublicURL = "https://papers.example"
	ts := startServer(t, cfg)
	ctx := testCtx(t)
	hostile := "Zeppelins ]]> <script>x</script> & \uFFFE fly"
	for i, p := range []*catalogv1.Paper{
		{Title: hostile, Abstract: "Zeppelins as transformers <b>over</b> diffusion.", Categories: []string{"cs.LG", "cs.CV"},
			Authors:      []*catalogv1.Author{{Name: "Ada <Lovelace>"}, {Name: "Alan Turing"}},
			Organization: &catalogv1.Organization{Id: "naver-ai", DisplayName: "NAVER AI Lab"},
			GithubRepo:   "https://github.com/naver-ai/zeppelin", Doi: "10.1000/xyz"},
		{Title: "Balloons", Abstract: "Hot air balloons.", Categories: []string{"cs.CV"}, Authors: []*catalogv1.Author{{Name: "Grace Hopper"}}},
	} {
		if _, err := ts.client.CreatePaper(admin(ctx), &catalogv1.CreatePaperRequest{PaperId: paperID(i + 1), Paper: p}); err != nil {
			t.Fatal(err)
		}
	}
	zeppelin := "https://papers.example/papers/" + paperID(1)
	cleanTitle := strings.ReplaceAll(hostile, "\uFFFE", "\uFFFD")
	search := "/feeds/search.atom?" + url.Values{"q": {"zeppelins"}, "filter": {`categories:"cs.LG"`}}.Encode()
	eventually(t, "the search index has the paper", func() bool {
		return bytes.Contains(getFeed(t, ts.base+search, nil).body, []byte(zeppelin))
	})

	for path, want := range map[string][]string{
		"/feeds/daily.atom":                         {zeppelin, "https://papers.example/papers/" + paperID(2)},
		"/feeds/daily.rss":                          {zeppelin, "https://papers.example/papers/" + paperID(2)},
		"/feeds/trending.atom":                      {zeppelin, "https://papers.example/papers/" + paperID(2)},
		"/feeds/trending.rss":                       {zeppelin, "https://papers.example/papers/" + paperID(2)},
		"/feeds/categories/cs.LG.atom":              {zeppelin},
		"/feeds/categories/cs.LG.rss":               {zeppelin},
		"/feeds/organizations/naver-ai.atom":        {zeppelin},
		"/feeds/organizations/naver-ai.rss":         {zeppelin},
		search:                                      {zeppelin},
		strings.Replace(search, ".atom", ".rss", 1): {zeppelin},
	} {
		r := getFeed(t, ts.base+path, nil)
		if r.code != http.StatusOK {
			t.Fatalf("%s: %d %s", path, r.code, r.body)
		}
		format := "atom"
		if strings.Contains(path, ".rss") {
			format = "rss"
		}
		if ct := r.header.Get("Content-Type"); ct != "application/"+format+"+xml; charset=utf-8" {
			t.Errorf("%s: Content-Type %q", path, ct)
		}
		if cc := r.header.Get("Cache-Control"); cc != "public, max-age=300" || r.header.Get("ETag") == "" || r.header.Get("Last-Modified") == "" {
			t.Errorf("%s: Cache-Control %q, ETag %q, Last-Modified %q", path, cc, r.header.Get("ETag"), r.header.Get("Last-Modified"))
		}
		f, err := gofeed.NewParser().Parse(bytes.NewReader(r.body))
		if err != nil {
			t.Fatalf("%s: gofeed: %v\n%s", path, err, r.body)
		}
		if f.FeedType != format {
			t.Errorf("%s: parsed as %q", path, f.FeedType)
		}
		if format == "atom" {
			checkRFC4287(t, path, r.body)
		}
		var links []string
		for _, it := range f.Items {
			links = append(links, it.Link)
			if !strings.HasPrefix(it.Link, "https://papers.example/papers/") || it.GUID != it.Link {
				t.Errorf("%s: item %q links to %q, id %q", path, it.Title, it.Link, it.GUID)
			}
			if it.Link != zeppelin {
				continue
			}
			if it.Title != cleanTitle || !strings.Contains(it.Description, "Zeppelins as transformers <b>over</b> diffusion.") {
				t.Errorf("%s: title %q, description %q", path, it.Title, it.Description)
			}
			if len(it.Categories) != 2 || it.Categories[0] != "cs.LG" {
				t.Errorf("%s: categories %q", path, it.Categories)
			}
			if len(it.Authors) == 0 || it.Authors[0].Name != "Ada <Lovelace>" {
				t.Errorf("%s: authors %v", path, it.Authors)
			}
			if it.PublishedParsed == nil || it.UpdatedParsed == nil && format == "atom" {
				t.Errorf("%s: published %v, updated %v", path, it.PublishedParsed, it.UpdatedParsed)
			}
			for _, l := range []string{"https://arxiv.org/abs/" + paperID(1), "https://arxiv.org/pdf/" + paperID(1), "https://github.com/naver-ai/zeppelin", "https://doi.org/10.1000/xyz"} {
				if !bytes.Contains(r.body, []byte(l)) {
					t.Errorf("%s: no link to %s", path, l)
				}
			}
		}
		if strings.Join(links, " ") != strings.Join(want, " ") {
			t.Errorf("%s: entries %q, want %q", path, links, want)
		}
	}

	// Polling: 304 with no body for either validator, until the catalog changes.
	first := getFeed(t, ts.base+"/feeds/daily.atom", nil)
	tag, modified := first.header.Get("ETag"), first.header.Get("Last-Modified")
	if !strings.HasPrefix(tag, `"`) {
		t.Fatalf("ETag %q is not strong", tag)
	}
	for name, h := range map[string]map[string]string{
		"If-None-Match":            {"If-None-Match": tag},
		"If-None-Match, weak form": {"If-None-Match": `"other", W/` + tag},
		"If-Modified-Since":        {"If-Modified-Since": modified},
	} {
		r := getFeed(t, ts.base+"/feeds/daily.atom", h)
		if r.code != http.StatusNotModified || len(r.body) != 0 || r.header.Get("ETag") != tag {
			t.Errorf("%s: %d, %d bytes, ETag %q", name, r.code, len(r.body), r.header.Get("ETag"))
		}
	}
	if r := getFeed(t, ts.base+"/feeds/daily.atom", map[string]string{"If-None-Match": `"stale"`, "If-Modified-Since": modified}); r.code != http.StatusOK {
		t.Errorf("a stale ETag with a current date: %d (If-None-Match wins)", r.code)
	}
	if _, err := ts.client.UpvotePaper(asUser(ctx, userToken(t, "ann")), &catalogv1.UpvotePaperRequest{Name: "papers/" + paperID(2)}); err != nil {
		t.Fatal(err)
	}
	upvoted := getFeed(t, ts.base+"/feeds/daily.atom", map[string]string{"If-None-Match": tag})
	if upvoted.code != http.StatusOK || upvoted.header.Get("ETag") == tag {
		t.Fatalf("after an upvote: %d, ETag %q (was %q)", upvoted.code, upvoted.header.Get("ETag"), tag)
	}
	if r := getFeed(t, ts.base+"/feeds/daily.atom", map[string]string{"If-Modified-Since": modified}); r.code != http.StatusOK {
		t.Errorf("after an upvote, If-Modified-Since the old date: %d", r.code)
	}
	tag = upvoted.header.Get("ETag")
	if _, err := ts.client.CreatePaper(admin(ctx), &catalogv1.CreatePaperRequest{PaperId: paperID(3), Paper: newPaper(3)}); err != nil {
		t.Fatal(err)
	}
	added := getFeed(t, ts.base+"/feeds/daily.atom", map[string]string{"If-None-Match": tag})
	if added.code != http.StatusOK || added.header.Get("ETag") == tag || !bytes.Contains(added.body, []byte(paperID(3))) {
		t.Errorf("after a new paper: %d, ETag %q (was %q)", added.code, added.header.Get("ETag"), tag)
	}
	if r := getFeed(t, ts.base+"/feeds/daily.rss", map[string]string{"If-None-Match": added.header.Get("ETag")}); r.code != http.StatusOK {
		t.Errorf("the RSS feed answered 304 to the Atom feed's ETag")
	}

	// Refusals: the reason, as text, not an empty feed.
	for path, want := range map[string]struct {
		code int
		text string
	}{
		"/feeds/search.atom?q=" + url.QueryEscape(`title:"unclosed`): {400, "quoted phrase is not closed"},
		"/feeds/search.atom": {400, "the q parameter, a search query, is required"},
		"/feeds/search.rss?q=x&filter=" + url.QueryEscape("nosuchfield = 1"):          {400, "nosuchfield"},
		"/feeds/daily.atom?tz=Mars/Olympus":                                           {400, "is not an IANA time zone"},
		"/feeds/categories/cs.LG.json":                                                {404, "feeds end in .atom or .rss"},
		"/feeds/organizations/" + url.PathEscape(`x" OR organization != "`) + ".atom": {404, "no such organization"},
	} {
		r := getFeed(t, ts.base+path, nil)
		if r.code != want.code || !strings.Contains(string(r.body), want.text) || r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: %d %q (Cache-Control %q), want %d with %q", path, r.code, r.body, r.header.Get("Cache-Control"), want.code, want.text)
		}
	}
}
