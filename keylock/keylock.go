// Package keylock provides a mutex per key (a paper, a user's vote on a paper),
// for writers that must not interleave on one record while writers of other
// records go on. Both the stores (repository/mongo, on a database they alone
// use) and the services use it.
package keylock

import (
	"context"
	"sync"
)

// Set is a mutex per key, each kept only while in use. The zero value is ready
// to use; a Set must not be copied after first use.
type Set struct {
	mu    sync.Mutex
	locks map[string]*entry
}

type entry struct {
	held  chan struct{} // holds a value while locked
	users int           // holders and waiters; the entry goes with the last
}

// Lock locks key, waiting while another holds it, and returns its unlock.
func (s *Set) Lock(key string) (unlock func()) {
	unlock, _ = s.LockContext(context.Background(), key)
	return unlock
}

// LockContext locks key as Lock does, unless ctx ends first: then it returns
// ctx's error and holds nothing.
func (s *Set) LockContext(ctx context.Context, key string) (unlock func(), err error) {
	s.mu.Lock()
	if s.locks == nil {
		s.locks = map[string]*entry{}
	}
	e := s.locks[key]
	if e == nil {
		e = &entry{held: make(chan struct{}, 1)}
		s.locks[key] = e
	}
	e.users++
	s.mu.Unlock()
	release := func() {
		s.mu.Lock()
		if e.users--; e.users == 0 {
			delete(s.locks, key)
		}
		s.mu.Unlock()
	}
	select {
	case e.held <- struct{}{}:
		return func() { <-e.held; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}

// Len returns how many keys are locked or waited for.
func (s *Set) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.locks)
}
