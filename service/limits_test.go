package service

import (
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
