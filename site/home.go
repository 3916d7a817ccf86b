package site

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"google.golang.org/grpc/status"

	"github.com/papercatalog/papers/clock"
	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
)

type homeItem struct {
	Name, Title, Authors string
	Upvotes              int64
}

func homeItems(papers []*catalogv1.Paper) []homeItem {
	out := make([]homeItem, len(papers))
	for i, p := range papers {
		var names []string
		for _, a := range p.GetAuthors()[:min(len(p.GetAuthors()), 3)] {
			names = append(names, a.GetName())
		}
		if more := len(p.GetAuthors()) - 3; more > 0 {
			names = append(names, fmt.Sprintf("+%d more", more))
		}
		out[i] = homeItem{Name: p.GetName(), Title: p.GetTitle(), Authors: strings.Join(names, ", "), Upvotes: p.GetUpvotes()}
	}
	return out
}

// homePage is the data of home.html.
type homePage struct {
	Frame
	Query, SearchError       string
	Daily, Trending, Results []homeItem
}

// home serves /: today's papers, trending papers and search.
func (s *Site) home(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	data := homePage{Frame: Frame{Title: "Daily papers"}}
	today := clock.Or(s.Clock).Now().UTC().Format(time.DateOnly)
	if daily, err := s.Catalog.ListDailyPapers(ctx, &catalogv1.ListDailyPapersRequest{Date: today, PageSize: 20}); err == nil {
		data.Daily = homeItems(daily.GetPapers())
	}
	if trending, err := s.Catalog.ListTrendingPapers(ctx, &catalogv1.ListTrendingPapersRequest{PageSize: 10}); err == nil {
		var papers []*catalogv1.Paper
		for _, t := range trending.GetPapers() {
			papers = append(papers, t.GetPaper())
		}
		data.Trending = homeItems(papers)
	}
	if q := strings.TrimSpace(r.URL.Query().Get("q")); q != "" {
		data.Query = q
		if res, err := s.Catalog.SearchPapers(ctx, &catalogv1.SearchPapersRequest{Query: q, PageSize: 20}); err == nil {
			var papers []*catalogv1.Paper
			for _, x := range res.GetResults() {
				papers = append(papers, x.GetPaper())
			}
			data.Results = homeItems(papers)
		} else {
			// Such as a query past a limit of search, or too many expensive
			// searches at once: the message says which.
			data.SearchError = status.Convert(err).Message()
		}
	}
	render(w, http.StatusOK, homeTmpl, data)
}
