// Package cpu keeps long computations from crowding out short calls. Go's
// scheduler runs every runnable goroutine in turn, 10 ms at a time: with twenty
// searches and listings computing at once on two cores, a GetPaper that needs
// 50 µs waits behind all of them. A Gate bounds how many long computations run
// at once (one per core by default); the others wait parked, off the run queue,
// so a short call waits behind at most that many.
package cpu

import (
	"context"
	"runtime"
)

// Gate bounds how many long computations run at once. A nil *Gate bounds
// nothing. It is safe for concurrent use.
type Gate struct {
	slots chan struct{}
}

// NewGate returns a gate for n computations at once; n < 1 means one per CPU
// Go uses (GOMAXPROCS).
func NewGate(n int) *Gate {
	if n < 1 {
		n = runtime.GOMAXPROCS(0)
	}
	return &Gate{slots: make(chan struct{}, n)}
}

// Enter waits for a turn and returns the function that ends it, which must be
// called once the computation is done. It returns ctx's error if ctx ends
// first.
func (g *Gate) Enter(ctx context.Context) (release func(), err error) {
	if g == nil {
		return func() {}, nil
	}
	select {
	case g.slots <- struct{}{}:
		return func() { <-g.slots }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Busy returns how many computations hold a turn now.
func (g *Gate) Busy() int {
	if g == nil {
		return 0
	}
	return len(g.slots)
}
