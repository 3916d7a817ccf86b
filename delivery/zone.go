package delivery

import (
	"slices"
	"time"

	"github.com/papercatalog/papers/period"
	"github.com/papercatalog/papers/repository"
)

// EditionTime is when a subscription's edition of day is due: its send hour on
// that day in its time zone.
func EditionTime(sub *repository.Subscription, day time.Time) time.Time {
	return time.Date(day.Year(), day.Month(), day.Day(), sub.SendHour, 0, 0, 0, period.StoredZone(sub.TimeZone))
}

// dueOn reports whether a subscription gets an edition on day's weekday.
func dueOn(sub *repository.Subscription, day time.Time) bool {
	days := sub.Weekdays
	if len(days) == 0 {
		days = []time.Weekday{time.Monday}
	}
	if sub.Frequency == "weekly" {
		return day.Weekday() == days[0]
	}
	return slices.Contains(days, day.Weekday())
}

// localDay is the subscriber's calendar day at now, as midnight in their zone.
func localDay(sub *repository.Subscription, now time.Time) time.Time {
	l := now.In(period.StoredZone(sub.TimeZone))
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, l.Location())
}
