package period

import (
	"strings"
	"testing"
	"time"
)

func TestResolve(t *testing.T) {
	t.Parallel()
	paris, problem := Zone("Europe/Paris")
	if problem != "" {
		t.Fatal(problem)
	}
	tests := []struct {
		name                string
		date, week, month   string
		loc                 *time.Location
		start, end, problem string // start and end in RFC 3339, or the problem
	}{
		{name: "a date is its day in the zone", date: "2024-03-05", loc: paris,
			start: "2024-03-05T00:00:00+01:00", end: "2024-03-06T00:00:00+01:00"},
		{name: "a day with a DST change is 23 hours long", date: "2024-03-31", loc: paris,
			start: "2024-03-31T00:00:00+01:00", end: "2024-04-01T00:00:00+02:00"},
		{name: "an ISO week starts on Monday", week: "2024-W09", loc: time.UTC,
			start: "2024-02-26T00:00:00Z", end: "2024-03-04T00:00:00Z"},
		{name: "week 1 may start in the year before", week: "2025-W01", loc: time.UTC,
			start: "2024-12-30T00:00:00Z", end: "2025-01-06T00:00:00Z"},
		{name: "a month is its calendar month", month: "2024-02", loc: time.UTC,
			start: "2024-02-01T00:00:00Z", end: "2024-03-01T00:00:00Z"},
		{name: "none set is a problem", loc: time.UTC, problem: "exactly one of date"},
		{name: "two set is a problem", date: "2024-03-05", month: "2024-03", loc: time.UTC, problem: "got 2"},
		{name: "a week past the year's last is a problem", week: "2021-W53", loc: time.UTC,
			problem: "2021 has ISO weeks 1 to 52, not 53"},
		{name: "a malformed date is a problem", date: "2024-3-5", loc: time.UTC, problem: "is not a date"},
		{name: "a year out of range is a problem", month: "1900-01", loc: time.UTC, problem: "between the years 1990 and 2200"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			start, end, problems := Resolve(tt.date, tt.week, tt.month, tt.loc)
			if tt.problem != "" {
				if len(problems) == 0 || !strings.Contains(problems[0].Description, tt.problem) {
					t.Errorf("problems %v, want one containing %q", problems, tt.problem)
				}
				return
			}
			if len(problems) > 0 {
				t.Fatalf("problems %v", problems)
			}
			if got := start.Format(time.RFC3339); got != tt.start {
				t.Errorf("start %s, want %s", got, tt.start)
			}
			if got := end.Format(time.RFC3339); got != tt.end {
				t.Errorf("end %s, want %s", got, tt.end)
			}
		})
	}
}

func TestZone(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]string{
		"":             "",
		"Europe/Paris": "",
		"Local":        "must be an IANA time zone",
		"Mars/Olympus": "is not an IANA time zone",
	} {
		if _, problem := Zone(name); (want == "") != (problem == "") || !strings.Contains(problem, want) {
			t.Errorf("Zone(%q): problem %q, want %q", name, problem, want)
		}
	}
	if StoredZone("Mars/Olympus") != time.UTC {
		t.Error("an unknown stored zone is not UTC")
	}
}
