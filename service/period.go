package service

import (
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

// loadZone returns the IANA time zone name (default UTC), or adds a violation
// of field.
func loadZone(v *violations, field, name string) *time.Location {
	if name == "" {
		return time.UTC
	}
	if name == "Local" || len(name) > 100 {
		v.add(field, "must be an IANA time zone such as Europe/Paris")
		return time.UTC
	}
	loc, err := zone(name)
	if err != nil {
		v.add(field, "%q is not an IANA time zone such as Europe/Paris", name)
		return time.UTC
	}
	return loc
}

// zones caches time.LoadLocation, which reads and parses the zone's file on
// every call (the scheduler needs each subscriber's zone every minute).
var zones sync.Map // name → *time.Location

func zone(name string) (*time.Location, error) {
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

// subscriberZone is a stored subscription's time zone (checked when it was
// set), or UTC.
func subscriberZone(name string) *time.Location {
	loc, err := zone(name)
	if err != nil {
		return time.UTC
	}
	return loc
}

// resolvePeriod turns exactly one of date (YYYY-MM-DD), week (YYYY-Www, ISO 8601)
// and month (YYYY-MM) into the instants [start, end) in loc.
func resolvePeriod(v *violations, date, week, month string, loc *time.Location) (start, end time.Time) {
	set := 0
	for _, s := range []string{date, week, month} {
		if s != "" {
			set++
		}
	}
	if set != 1 {
		for _, f := range []string{"date", "week", "month"} {
			v.add(f, "exactly one of date (YYYY-MM-DD), week (YYYY-Www) and month (YYYY-MM) must be set, got %d", set)
		}
		return
	}
	field := "month"
	switch {
	case date != "":
		field = "date"
		t, err := time.ParseInLocation("2006-01-02", date, loc)
		if !datePattern.MatchString(date) || err != nil {
			v.add("date", "%q is not a date such as 2024-03-05", date)
			return
		}
		start, end = t, t.AddDate(0, 0, 1)
	case week != "":
		field = "week"
		m := weekPattern.FindStringSubmatch(week)
		if m == nil {
			v.add("week", "%q is not an ISO week such as 2024-W09", week)
			return
		}
		year, _ := strconv.Atoi(m[1])
		w, _ := strconv.Atoi(m[2])
		if _, last := time.Date(year, 12, 28, 0, 0, 0, 0, time.UTC).ISOWeek(); w < 1 || w > last {
			v.add("week", "%d has ISO weeks 1 to %d, not %d", year, last, w)
			return
		}
		// January 4th is always in week 1; weeks start on Monday.
		jan4 := time.Date(year, 1, 4, 0, 0, 0, 0, loc)
		monday := jan4.AddDate(0, 0, -((int(jan4.Weekday()) + 6) % 7))
		start = monday.AddDate(0, 0, 7*(w-1))
		end = start.AddDate(0, 0, 7)
	default:
		t, err := time.ParseInLocation("2006-01", month, loc)
		if !monthPattern.MatchString(month) || err != nil {
			v.add("month", "%q is not a month such as 2024-03", month)
			return
		}
		start, end = t, t.AddDate(0, 1, 0)
	}
	if y := start.Year(); y < 1990 || y > 2200 {
		v.add(field, "must lie between the years 1990 and 2200")
	}
	return start, end
}
