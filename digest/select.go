package digest

import (
	"slices"
	"time"

	"github.com/papercatalog/papers/period"
	"github.com/papercatalog/papers/repository"
)

// PeriodStart is the start of the period that the digest of sub due at ref
// covers (it ends at ref): a day, or a week for weekly digests. It starts at
// the same hour of the day on the calendar in the subscriber's time zone, so
// that across a daylight-saving change (a day of 23 or 25 hours) each paper
// is in exactly one edition.
func PeriodStart(sub *repository.Subscription, ref time.Time) time.Time {
	days := 1
	if sub.Frequency == "weekly" {
		days = 7
	}
	return ref.In(period.StoredZone(sub.TimeZone)).AddDate(0, 0, -days)
}

// Select returns the papers of sub's digest from the papers of its period,
// in the order given: those with at least its minimum of upvotes, in one of
// its categories and organizations (when it names any) and, when matches is
// not nil, in matches (the papers its query matches); at most MaxPapers.
func Select(papers []*repository.Paper, sub *repository.Subscription, matches map[string]bool) []*repository.Paper {
	var out []*repository.Paper
	for _, p := range papers {
		if len(out) == max(sub.MaxPapers, 1) {
			break
		}
		if p.Upvotes < sub.MinUpvotes || (matches != nil && !matches[p.ID]) {
			continue
		}
		if len(sub.Categories) > 0 && !slices.ContainsFunc(p.Categories, func(c string) bool { return slices.Contains(sub.Categories, c) }) {
			continue
		}
		if len(sub.Organizations) > 0 && !slices.Contains(sub.Organizations, p.Organization.ID) {
			continue
		}
		out = append(out, p)
	}
	return out
}
