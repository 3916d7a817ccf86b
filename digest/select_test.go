package digest

import (
	"testing"
	"time"

	"github.com/papercatalog/papers/repository"
)

func TestPeriodStartFollowsTheSubscribersCalendar(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	// 8:00 in New York on the day after summer time ends: 25 hours after the
	// 8:00 before.
	ref := time.Date(2026, 11, 1, 8, 0, 0, 0, ny)
	daily := &repository.Subscription{Frequency: "daily", TimeZone: "America/New_York"}
	if got := ref.Sub(PeriodStart(daily, ref)); got != 25*time.Hour {
		t.Errorf("a daily period across the change lasts %v, want 25h", got)
	}
	weekly := &repository.Subscription{Frequency: "weekly", TimeZone: "America/New_York"}
	if got := ref.Sub(PeriodStart(weekly, ref)); got != 7*24*time.Hour+time.Hour {
		t.Errorf("a weekly period across the change lasts %v, want 169h", got)
	}
	utc := &repository.Subscription{Frequency: "daily", TimeZone: "Not/AZone"}
	if got := ref.Sub(PeriodStart(utc, ref)); got != 24*time.Hour {
		t.Errorf("an unknown zone is UTC: the period lasts %v, want 24h", got)
	}
}

func TestSelect(t *testing.T) {
	papers := []*repository.Paper{
		{ID: "a", Upvotes: 5, Categories: []string{"cs.LG"}, Organization: repository.Organization{ID: "google"}},
		{ID: "b", Upvotes: 1, Categories: []string{"cs.CV"}},
		{ID: "c", Upvotes: 9, Categories: []string{"cs.CV", "cs.LG"}, Organization: repository.Organization{ID: "meta-ai"}},
		{ID: "d", Upvotes: 3, Categories: []string{"cs.CL"}, Organization: repository.Organization{ID: "google"}},
	}
	ids := func(ps []*repository.Paper) string {
		var s string
		for _, p := range ps {
			s += p.ID
		}
		return s
	}
	for _, c := range []struct {
		name    string
		sub     repository.Subscription
		matches map[string]bool
		want    string
	}{
		{"everything, in order", repository.Subscription{MaxPapers: 10}, nil, "abcd"},
		{"at most MaxPapers", repository.Subscription{MaxPapers: 2}, nil, "ab"},
		{"at least one paper", repository.Subscription{}, nil, "a"},
		{"a minimum of upvotes", repository.Subscription{MaxPapers: 10, MinUpvotes: 4}, nil, "ac"},
		{"any of the categories", repository.Subscription{MaxPapers: 10, Categories: []string{"cs.LG", "cs.CL"}}, nil, "acd"},
		{"the organizations", repository.Subscription{MaxPapers: 10, Organizations: []string{"google"}}, nil, "ad"},
		{"what the query matches", repository.Subscription{MaxPapers: 10}, map[string]bool{"b": true, "d": true}, "bd"},
		{"a query that matches nothing", repository.Subscription{MaxPapers: 10}, map[string]bool{}, ""},
	} {
		if got := ids(Select(papers, &c.sub, c.matches)); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
