package cpu

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestGateBoundsComputations runs many computations through a gate of two and
// checks that never more than two held a turn at once, and that all ran.
func TestGateBoundsComputations(t *testing.T) {
	t.Parallel()
	g := NewGate(2)
	var running, most, done atomic.Int64
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			release, err := g.Enter(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			defer release()
			n := running.Add(1)
			for {
				m := most.Load()
				if n <= m || most.CompareAndSwap(m, n) {
					break
				}
			}
			time.Sleep(time.Millisecond) // hold the turn while others try
			running.Add(-1)
			done.Add(1)
		})
	}
	wg.Wait()
	if most.Load() > 2 {
		t.Errorf("%d computations held a turn at once, want at most 2", most.Load())
	}
	if done.Load() != 20 {
		t.Errorf("%d computations ran, want 20", done.Load())
	}
	if g.Busy() != 0 {
		t.Errorf("%d turns still held after every computation ended", g.Busy())
	}
}

// TestGateWaitEndsWithTheContext checks that a caller waiting for a turn gets
// its context's error when the context ends, and that a nil gate admits all.
func TestGateWaitEndsWithTheContext(t *testing.T) {
	t.Parallel()
	g := NewGate(1)
	release, err := g.Enter(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := g.Enter(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Enter with a cancelled context while the turn is held: %v, want context.Canceled", err)
	}
	release()
	var none *Gate
	r, err := none.Enter(ctx)
	if err != nil {
		t.Fatalf("a nil gate refused: %v", err)
	}
	r()
}
