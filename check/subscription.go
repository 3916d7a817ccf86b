package check

import (
	"net/mail"
	"strings"
	"time"

	"github.com/papercatalog/papers/period"
	"github.com/papercatalog/papers/repository"
	"github.com/papercatalog/papers/search"
)

// Subscription limits and defaults.
const (
	defaultMaxPapers = 10
	maxMaxPapers     = 50
	defaultSendHour  = 8
	maxEmail         = 254
	maxTopicEntries  = 50
	maxOrganization  = 63
)

// PreferenceFields are the fields of a subscription its subscriber sets, as
// the API names them.
var PreferenceFields = map[string]bool{"frequency": true, "weekdays": true, "send_hour": true, "time_zone": true,
	"query": true, "categories": true, "organizations": true, "min_upvotes": true, "max_papers": true}

// Preferences are a subscriber's preferences as a request gives them, before
// checks and defaults.
type Preferences struct {
	// Weekly is a weekly digest; otherwise daily.
	Weekly bool
	// Weekdays are days numbered as in ISO 8601: 1 (Monday) to 7 (Sunday).
	Weekdays []int32
	// SendHour is nil when the request sets none.
	SendHour                  *int32
	TimeZone, Query           string
	Categories, Organizations []string
	MinUpvotes                int64
	// MaxPapers is 0 when the request sets none.
	MaxPapers int32
}

// Email returns the address part of a well-formed address: one bare address
// of at most 254 characters. It adds a violation of field and returns "" for
// anything else.
func Email(v *Violations, field, s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		v.Add(field, "is required")
		return ""
	}
	// Only a bare address: a quoted local part ("a b"@example.org) would be
	// stored without its quotes, as an address nobody can mail.
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s || len(a.Address) > maxEmail {
		v.Add(field, "must be one e-mail address such as ada@example.org")
		return ""
	}
	return a.Address
}

// Subscription copies the preferences named in mask from in to sub, checking
// them and filling in the defaults of those in does not set; prefix is the
// path of the subscription in the request ("subscription.").
func Subscription(v *Violations, prefix string, sub *repository.Subscription, in Preferences, mask map[string]bool) {
	if mask["frequency"] {
		sub.Frequency = "daily"
		if in.Weekly {
			sub.Frequency = "weekly"
		}
	}
	if mask["weekdays"] {
		sub.Weekdays = weekdays(v, prefix+"weekdays", in.Weekdays)
	}
	if mask["send_hour"] {
		sub.SendHour = defaultSendHour
		if in.SendHour != nil {
			if h := *in.SendHour; h < 0 || h > 23 {
				v.Add(prefix+"send_hour", "must be an hour from 0 to 23")
			} else {
				sub.SendHour = int(h)
			}
		}
	}
	if mask["time_zone"] {
		loc, problem := period.Zone(in.TimeZone)
		if problem != "" {
			v.Add(prefix+"time_zone", "%s", problem)
		}
		sub.TimeZone = loc.String()
	}
	if mask["query"] {
		// Checked as a search query now, rather than failing each digest later.
		if sub.Query = strings.TrimSpace(in.Query); sub.Query != "" {
			if _, err := search.Parse(sub.Query); err != nil {
				v.Add(prefix+"query", "%s", err.Error())
			}
		}
	}
	if mask["categories"] {
		sub.Categories = in.Categories
		List(v, prefix+"categories", sub.Categories, maxTopicEntries, MaxCategory)
	}
	if mask["organizations"] {
		sub.Organizations = in.Organizations
		List(v, prefix+"organizations", sub.Organizations, maxTopicEntries, maxOrganization)
	}
	if mask["min_upvotes"] {
		sub.MinUpvotes = in.MinUpvotes
		if sub.MinUpvotes < 0 {
			v.Add(prefix+"min_upvotes", "must not be negative")
		}
	}
	if mask["max_papers"] {
		sub.MaxPapers = defaultMaxPapers
		if n := in.MaxPapers; n != 0 {
			if n < 1 || n > maxMaxPapers {
				v.Add(prefix+"max_papers", "must be from 1 to %d", maxMaxPapers)
			} else {
				sub.MaxPapers = int(n)
			}
		}
	}
}

// weekdays are the days of days, each once in the order given (Monday to
// Friday when there are none).
func weekdays(v *Violations, field string, days []int32) []time.Weekday {
	var out []time.Weekday
	seen := map[time.Weekday]bool{}
	for _, w := range days {
		if w < 1 || w > 7 {
			v.Add(field, "must be days from WEEKDAY_MONDAY to WEEKDAY_SUNDAY")
			break
		}
		d := time.Weekday(int(w) % 7)
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		return []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}
	}
	return out
}
