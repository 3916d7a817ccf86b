// Package period turns the periods callers name (a day, an ISO week, a month, in
// a time zone) into the instants they span.
package period

import (
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"time"
)

var (
	datePattern  = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)
	weekPattern  = regexp.MustCompile(`^([0-9]{4})-W([0-9]{2})$`)
	monthPattern = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}$`)
)

// Problem is a field that does not name a period, and why; the field is date,
// week, month or time_zone.
type Problem struct {
	Field, Description string
}

// Zone returns the IANA time zone name, UTC for "", or the problem with it.
func Zone(name string) (*time.Location, string) {
	if name == "" {
		return time.UTC, ""
	}
	if name == "Local" || len(name) > 100 {
		return time.UTC, "must be an IANA time zone such as Europe/Paris"
	}
	loc, err := load(name)
	if err != nil {
		return time.UTC, fmt.Sprintf("%q is not an IANA time zone such as Europe/Paris", name)
	}
	return loc, ""
}

// StoredZone is a stored time zone (checked with Zone when it was set), or UTC.
func StoredZone(name string) *time.Location {
	loc, err := load(name)
	if err != nil {
		return time.UTC
	}
	return loc
}

// zones caches time.LoadLocation, which reads and parses the zone's file on
// every call (the digest scheduler needs each subscriber's zone every minute).
var zones sync.Map // name → *time.Location

func load(name string) (*time.Location, error) {
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	zones.Store(name, loc)
	return loc, nil
}

// Resolve turns exactly one of date (YYYY-MM-DD), week (YYYY-Www, ISO 8601) and
// month (YYYY-MM) into the instants [start, end) in loc, or returns the problems.
func Resolve(date, week, month string, loc *time.Location) (start, end time.Time, problems []Problem) {
	add := func(field, format string, args ...any) {
		problems = append(problems, Problem{field, fmt.Sprintf(format, args...)})
	}
	set := 0
	for _, s := range []string{date, week, month} {
		if s != "" {
			set++
		}
	}
	if set != 1 {
		for _, f := range []string{"date", "week", "month"} {
			add(f, "exactly one of date (YYYY-MM-DD), week (YYYY-Www) and month (YYYY-MM) must be set, got %d", set)
		}
		return start, end, problems
	}
	field := "month"
	switch {
	case date != "":
		field = "date"
		t, err := time.ParseInLocation("2006-01-02", date, loc)
		if !datePattern.MatchString(date) || err != nil {
			add("date", "%q is not a date such as 2024-03-05", date)
			return start, end, problems
		}
		start, end = t, t.AddDate(0, 0, 1)
	case week != "":
		field = "week"
		m := weekPattern.FindStringSubmatch(week)
		if m == nil {
			add("week", "%q is not an ISO week such as 2024-W09", week)
			return start, end, problems
		}
		year, _ := strconv.Atoi(m[1])
		w, _ := strconv.Atoi(m[2])
		if _, last := time.Date(year, 12, 28, 0, 0, 0, 0, time.UTC).ISOWeek(); w < 1 || w > last {
			add("week", "%d has ISO weeks 1 to %d, not %d", year, last, w)
			return start, end, problems
		}
		// January 4th is always in week 1; weeks start on Monday.
		jan4 := time.Date(year, 1, 4, 0, 0, 0, 0, loc)
		monday := jan4.AddDate(0, 0, -((int(jan4.Weekday()) + 6) % 7))
		start = monday.AddDate(0, 0, 7*(w-1))
		end = start.AddDate(0, 0, 7)
	default:
		t, err := time.ParseInLocation("2006-01", month, loc)
		if !monthPattern.MatchString(month) || err != nil {
			add("month", "%q is not a month such as 2024-03", month)
			return start, end, problems
		}
		start, end = t, t.AddDate(0, 1, 0)
	}
	if y := start.Year(); y < 1990 || y > 2200 {
		add(field, "must lie between the years 1990 and 2200")
	}
	return start, end, problems
}
