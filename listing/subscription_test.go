package listing

import (
	"slices"
	"testing"
	"time"

	subscriptionv1 "github.com/papercatalog/papers/gen/papers/subscription/v1"
	"github.com/papercatalog/papers/repository"
)

func TestSubscriptionFilter(t *testing.T) {
	t.Parallel()
	pending := &repository.Subscription{State: repository.SubscriptionPending}
	active := &repository.Subscription{State: repository.SubscriptionActive}
	gone := &repository.Subscription{State: repository.SubscriptionUnsubscribed}
	tests := []struct {
		name, filter string
		want         []bool // pending, active, unsubscribed; nil: refused
	}{
		{"no filter takes every subscription", "", []bool{true, true, true}},
		{"equality takes one state", "state = STATE_ACTIVE", []bool{false, true, false}},
		{"inequality takes the others", "state != STATE_ACTIVE", []bool{true, false, true}},
		{"OR joins states", "state = STATE_PENDING OR state = STATE_UNSUBSCRIBED", []bool{true, false, true}},
		{"AND and NOT combine", "NOT state = STATE_PENDING AND state != STATE_UNSUBSCRIBED", []bool{false, true, false}},
		{"an unknown state is refused", "state = STATE_BORED", nil},
		{"another field is refused", "email = STATE_ACTIVE", nil},
		{"a bare state is refused", "STATE_ACTIVE", nil},
		{"a malformed filter is refused", "state =", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			match, err := SubscriptionFilter(tt.filter, subscriptionv1.Subscription_STATE_UNSPECIFIED.Type())
			if tt.want == nil {
				if err == nil {
					t.Fatalf("SubscriptionFilter(%q) accepted", tt.filter)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := []bool{match(pending), match(active), match(gone)}
			if !slices.Equal(got, tt.want) {
				t.Errorf("matches %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSubscriptionPage(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC)
	var all []*repository.Subscription
	for i, id := range []string{"a", "b", "c", "d", "e"} {
		// b and c at the same time: ordered by id.
		all = append(all, &repository.Subscription{ID: id, CreateTime: at.Add(time.Duration(min(i, 4-i)) * time.Hour)})
	}
	var got []string
	var after Key
	for pages := 0; ; pages++ {
		page, more := SubscriptionPage(all, after, 2)
		for _, s := range page {
			got = append(got, s.ID)
		}
		if !more {
			break
		}
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		after = SubscriptionKey(page[len(page)-1])
	}
	if want := []string{"c", "b", "d", "a", "e"}; !slices.Equal(got, want) {
		t.Errorf("pages %v, want %v (newest first, then by id)", got, want)
	}
}
