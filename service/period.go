package service

import (
	"time"

	"github.com/papercatalog/papers/apierror"
	"github.com/papercatalog/papers/period"
)

// loadZone returns the IANA time zone name (default UTC), or adds a violation
// of field.
func loadZone(v *apierror.Violations, field, name string) *time.Location {
	loc, problem := period.Zone(name)
	if problem != "" {
		v.Add(field, "%s", problem)
	}
	return loc
}

// resolvePeriod is period.Resolve, its problems added to v.
func resolvePeriod(v *apierror.Violations, date, week, month string, loc *time.Location) (start, end time.Time) {
	start, end, problems := period.Resolve(date, week, month, loc)
	for _, p := range problems {
		v.Add(p.Field, "%s", p.Description)
	}
	return start, end
}
