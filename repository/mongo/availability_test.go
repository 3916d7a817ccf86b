package mongo

import (
	"testing"

	"go.mongodb.org/mongo-driver/v2/event"
)

// TestLateHeartbeatsOfAnInProcessServerAreNotFollowed checks that a database
// opened InProcess never waits on its heartbeats (so a loaded process never
// takes its own database for hung), and that one opened without it does.
func TestLateHeartbeatsOfAnInProcessServerAreNotFollowed(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name     string
		opts     []Option
		followed bool
	}{
		{"in process", []Option{InProcess()}, false},
		{"another process", nil, true},
	} {
		db, err := Open("mongodb://127.0.0.1:1/?connect=direct", "x", c.opts...)
		if err != nil {
			t.Fatal(err)
		}
		// Stop the driver's own monitoring first, so that only this heartbeat counts.
		_ = db.Close(t.Context())
		db.avail.heartbeatStarted(&event.ServerHeartbeatStartedEvent{ConnectionID: "127.0.0.1:1[-3]"})
		db.avail.mu.Lock()
		n := len(db.avail.beats)
		for _, b := range db.avail.beats {
			b.timer.Stop()
		}
		db.avail.mu.Unlock()
		if followed := n > 0; followed != c.followed {
			t.Errorf("%s: heartbeat followed %v, want %v", c.name, followed, c.followed)
		}
	}
}
