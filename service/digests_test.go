package service

import (
	"fmt"
	"testing"
	"time"

	"github.com/papercatalog/papers/delivery"
	"github.com/papercatalog/papers/readmodel"
	"github.com/papercatalog/papers/repository"
)

// TestDigestPeriodsFollowTheSubscribersCalendarAcrossDST lists a paper
// submitted every hour around a daylight-saving change and takes the
// editions of the days around it: each paper is in exactly one edition, and
// the edition after the change has the day's 23 or 25 hours of papers.
func TestDigestPeriodsFollowTheSubscribersCalendarAcrossDST(t *testing.T) {
	for _, c := range []struct {
		name     string
		zone     string
		from     string // the first edition; papers are submitted every hour from two days before it
		editions int
		hours    []int // papers in each edition
	}{
		{"New York leaves summer time (a 25-hour day)", "America/New_York", "2026-10-31", 3, []int{24, 25, 24}},
		{"Berlin enters summer time (a 23-hour day)", "Europe/Berlin", "2026-03-28", 3, []int{24, 23, 24}},
		{"a day without a change", "UTC", "2026-11-29", 2, []int{24, 24}},
		{"a weekly digest over a change", "America/New_York", "2026-11-04", 1, []int{7*24 + 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			loc, err := time.LoadLocation(c.zone)
			if err != nil {
				t.Fatal(err)
			}
			first, err := time.ParseInLocation(time.DateOnly, c.from, loc)
			if err != nil {
				t.Fatal(err)
			}
			sub := &repository.Subscription{ID: "s", Frequency: "daily", SendHour: 8, TimeZone: c.zone, MaxPapers: 1000}
			if len(c.hours) == 1 && c.hours[0] > 24 {
				sub.Frequency = "weekly"
			}
			var all []*repository.Paper
			for at := first.AddDate(0, 0, -9); at.Before(first.AddDate(0, 0, c.editions+1)); at = at.Add(time.Hour) {
				all = append(all, &repository.Paper{ID: fmt.Sprintf("p%d", at.Unix()), Title: "t", SubmitTime: at.Add(30 * time.Minute), Version: 1})
			}
			m := readmodel.New()
			m.Replace(all, 0)
			s := &Catalog{Model: m}
			seen := map[string]string{}
			for i := range c.editions {
				day := first.AddDate(0, 0, i)
				papers, err := s.DigestPapers(sub, delivery.EditionTime(sub, day))
				if err != nil {
					t.Fatal(err)
				}
				if len(papers) != c.hours[i] {
					t.Errorf("the edition of %s has %d papers, want %d", day.Format(time.DateOnly), len(papers), c.hours[i])
				}
				for _, p := range papers {
					if prev, ok := seen[p.ID]; ok {
						t.Errorf("paper submitted at %v is in the editions of %s and %s", p.SubmitTime.In(loc), prev, day.Format(time.DateOnly))
					}
					seen[p.ID] = day.Format(time.DateOnly)
				}
			}
		})
	}
}
