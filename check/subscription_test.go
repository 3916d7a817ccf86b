package check

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/papercatalog/papers/repository"
)

func TestEmail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want, violation string
	}{
		{"a bare address is taken, without surrounding spaces", " ada@example.org ", "ada@example.org", ""},
		{"an address is required", "  ", "", "email: is required"},
		{"a display name is refused", "Ada <ada@example.org>", "", "email: must be one e-mail address"},
		{"a quoted local part is refused", `"a b"@example.org`, "", "email: must be one e-mail address"},
		{"two addresses are refused", "a@example.org, b@example.org", "", "email: must be one e-mail address"},
		{"an address past 254 characters is refused", strings.Repeat("a", 250) + "@example.org", "", "email: must be one e-mail address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var v Violations
			got := Email(&v, "email", tt.in)
			if got != tt.want || !strings.HasPrefix(v.First(), tt.violation) || (tt.violation == "") != (len(v) == 0) {
				t.Errorf("Email(%q) = %q, %q; want %q, %q", tt.in, got, v.First(), tt.want, tt.violation)
			}
		})
	}
}

func TestSubscription(t *testing.T) {
	t.Parallel()
	hour := func(h int32) *int32 { return &h }
	tests := []struct {
		name      string
		in        Preferences
		violation string // the first, or ""
		check     func(*repository.Subscription) bool
	}{
		{"defaults: daily at 8 UTC, Monday to Friday, 10 papers", Preferences{}, "", func(s *repository.Subscription) bool {
			return s.Frequency == "daily" && s.SendHour == 8 && s.TimeZone == "UTC" && s.MaxPapers == 10 &&
				slices.Equal(s.Weekdays, []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday})
		}},
		{"weekly on Sunday at midnight, days once each", Preferences{Weekly: true, Weekdays: []int32{7, 7}, SendHour: hour(0)}, "", func(s *repository.Subscription) bool {
			return s.Frequency == "weekly" && s.SendHour == 0 && slices.Equal(s.Weekdays, []time.Weekday{time.Sunday})
		}},
		{"a day past Sunday is refused", Preferences{Weekdays: []int32{8}}, "subscription.weekdays: must be days from WEEKDAY_MONDAY", nil},
		{"hour 24 is refused", Preferences{SendHour: hour(24)}, "subscription.send_hour: must be an hour from 0 to 23", nil},
		{"an unknown time zone is refused", Preferences{TimeZone: "Mars/Olympus"}, "subscription.time_zone: ", nil},
		{"a malformed query is refused", Preferences{Query: `title:"unclosed`}, "subscription.query: ", nil},
		{"an empty category is refused", Preferences{Categories: []string{"cs.LG", " "}}, "subscription.categories: entry 1 is empty", nil},
		{"negative upvotes are refused", Preferences{MinUpvotes: -1}, "subscription.min_upvotes: must not be negative", nil},
		{"more than 50 papers are refused", Preferences{MaxPapers: 51}, "subscription.max_papers: must be from 1 to 50", nil},
		{"a zone and a query are kept", Preferences{TimeZone: "Europe/Paris", Query: " diffusion "}, "", func(s *repository.Subscription) bool {
			return s.TimeZone == "Europe/Paris" && s.Query == "diffusion"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var v Violations
			var sub repository.Subscription
			Subscription(&v, "subscription.", &sub, tt.in, PreferenceFields)
			if !strings.HasPrefix(v.First(), tt.violation) || (tt.violation == "") != (len(v) == 0) {
				t.Fatalf("first violation %q, want %q", v.First(), tt.violation)
			}
			if tt.check != nil && !tt.check(&sub) {
				t.Errorf("subscription %+v", sub)
			}
		})
	}
}

func TestSubscriptionChangesOnlyTheMask(t *testing.T) {
	t.Parallel()
	sub := repository.Subscription{Frequency: "weekly", SendHour: 5, MaxPapers: 3}
	var v Violations
	Subscription(&v, "", &sub, Preferences{MaxPapers: 20}, map[string]bool{"max_papers": true})
	if len(v) != 0 || sub.Frequency != "weekly" || sub.SendHour != 5 || sub.MaxPapers != 20 {
		t.Errorf("violations %v, subscription %+v", v, sub)
	}
}
