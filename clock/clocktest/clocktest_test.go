package clocktest_test

import (
	"testing"
	"time"

	"github.com/papercatalog/papers/clock/clocktest"
)

func TestNewStartsAtTheInstantTheEnvironmentNames(t *testing.T) {
	t.Setenv(clocktest.NowEnv, "2026-11-01T01:59:59-04:00")
	t.Setenv(clocktest.ZoneEnv, "America/New_York")
	c := clocktest.New(t)
	if want := time.Date(2026, 11, 1, 5, 59, 59, 0, time.UTC); !c.Now().Equal(want) {
		t.Errorf("Now %v, want %v", c.Now(), want)
	}
	// One second on, New York has left daylight-saving time: 01:00 again.
	local := c.Advance(time.Second).In(clocktest.Zone(t))
	if local.Hour() != 1 || local.Minute() != 0 {
		t.Errorf("in %s a second later: %v, want 01:00 EST", clocktest.Zone(t), local)
	}
}

func TestNewWithoutTheEnvironmentStartsNow(t *testing.T) {
	t.Setenv(clocktest.NowEnv, "")
	t.Setenv(clocktest.ZoneEnv, "")
	before := time.Now()
	c := clocktest.New(t)
	if got := c.Now(); got.Before(before) || got.After(time.Now()) {
		t.Errorf("Now %v, want the current time", got)
	}
	if clocktest.Zone(t) != time.UTC {
		t.Errorf("zone %v, want UTC", clocktest.Zone(t))
	}
}
