package keylock

import (
	"context"
	"errors"
	"sync"
	"testing"
)

// TestLockSerialisesOneKey runs read-modify-writes of two counters from many
// goroutines, each under its counter's lock: no increment is lost (the race
// detector would also see an unlocked access), and no lock is left behind.
func TestLockSerialisesOneKey(t *testing.T) {
	var s Set
	counts := map[string]*int{"a": new(int), "b": new(int)}
	var wg sync.WaitGroup
	for i := range 200 {
		key := "a"
		if i%2 == 1 {
			key = "b"
		}
		wg.Go(func() {
			unlock := s.Lock(key)
			defer unlock()
			v := *counts[key]
			*counts[key] = v + 1
		})
	}
	wg.Wait()
	if *counts["a"] != 100 || *counts["b"] != 100 {
		t.Errorf("counts %d and %d, want 100 each", *counts["a"], *counts["b"])
	}
	if n := s.Len(); n != 0 {
		t.Errorf("%d locks left behind", n)
	}
}

// TestLockContextGivesUpWhenTheContextEnds waits for a held key with a context
// that ends: the wait returns the context's error and leaves the key to its
// holder, which can then hand it on.
func TestLockContextGivesUpWhenTheContextEnds(t *testing.T) {
	var s Set
	unlock := s.Lock("a")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.LockContext(ctx, "a"); !errors.Is(err, context.Canceled) {
		t.Fatalf("waiting for a held key with a cancelled context: %v", err)
	}
	unlock()
	again, err := s.LockContext(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	again()
	if n := s.Len(); n != 0 {
		t.Errorf("%d locks left behind", n)
	}
}
