package auth

import (
	"errors"
	"regexp"
	"testing"
	"time"
)

func TestRateLimitSettings(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]RateLimit{
		"off": {Off: true}, "600/1m": {Burst: 600, Per: time.Minute}, " 5/5m ": {Burst: 5, Per: 5 * time.Minute},
	} {
		if got, err := ParseRateLimit(in); err != nil || got != want {
			t.Errorf("ParseRateLimit(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0/1m", "-1/1m", "10", "10/", "10/0s", "10/-1m", "ten/1m", "10/soon"} {
		if _, err := ParseRateLimit(in); err == nil {
			t.Errorf("ParseRateLimit(%q) succeeded", in)
		}
	}
}

// TestBucketRefillsEvenly: a client has Burst calls at once, then one every
// Per/Burst; a refused call says how long to wait and costs nothing.
func TestBucketRefillsEvenly(t *testing.T) {
	t.Parallel()
	l := &clientLimiter{Limit: RateLimit{Burst: 3, Per: time.Hour}}
	start := time.Date(2026, 11, 29, 23, 59, 59, 0, time.UTC)
	for i := range 3 {
		if _, ok := l.allow("a", start); !ok {
			t.Fatalf("call %d of the burst refused", i+1)
		}
	}
	wait, ok := l.allow("a", start)
	if ok || (wait-20*time.Minute).Abs() > time.Millisecond {
		t.Fatalf("4th call: ok %v, wait %v; want refused, 20m", ok, wait)
	}
	// The refusal did not push the next call further away.
	if _, ok := l.allow("a", start.Add(20*time.Minute-time.Second)); ok {
		t.Error("a call a second before the refill went through")
	}
	if _, ok := l.allow("a", start.Add(20*time.Minute+time.Millisecond)); !ok {
		t.Error("the call after the refill was refused")
	}
	if _, ok := l.allow("b", start); !ok {
		t.Error("another client was refused")
	}
}

// TestLimitersSpendTheirOwnBuckets: each limit has its buckets; off and a nil
// *Limiters let every call through; a refusal is a *LimitError whose message
// gives whole seconds to wait.
func TestLimitersSpendTheirOwnBuckets(t *testing.T) {
	t.Parallel()
	l := NewLimiters(RateLimit{Burst: 1, Per: time.Hour}, RateLimit{Off: true}, RateLimit{Burst: 2, Per: time.Minute})
	if err := l.Spend(Writes, "203.0.113.7"); err != nil {
		t.Fatal(err)
	}
	var limited *LimitError
	err := l.Spend(Writes, "203.0.113.7")
	if !errors.As(err, &limited) || limited.Wait <= 59*time.Minute || limited.Wait > time.Hour {
		t.Fatalf("2nd write: %v, want a *LimitError of about an hour", err)
	}
	if !regexp.MustCompile(`^too many requests from this client; retry in 360[01] s$`).MatchString(err.Error()) {
		t.Errorf("message %q, want the whole seconds to wait", err)
	}
	for i := range 2 {
		if err := l.Spend(Subscribes, "203.0.113.7"); err != nil {
			t.Errorf("subscribe %d spent the writes' bucket: %v", i+1, err)
		}
	}
	if err := l.Spend(Subscribes, "203.0.113.7"); !errors.As(err, &limited) {
		t.Errorf("3rd subscribe: %v", err)
	}
	for range 100 {
		if err := l.Spend(Upvotes, "alice"); err != nil {
			t.Fatalf("upvotes are off: %v", err)
		}
	}
	if err := l.Spend(NoLimit, "203.0.113.7"); err != nil {
		t.Errorf("NoLimit: %v", err)
	}
	var none *Limiters
	if err := none.Spend(Writes, "x"); err != nil {
		t.Errorf("nil limiters: %v", err)
	}
}
