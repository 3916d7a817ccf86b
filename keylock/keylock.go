// Package keylock provides a mutex per key (a paper, a user's vote on a paper),
// for writers that must not interleave on one record while writers of other
// records go on. Both the stores (repository/mongo, on a database they alone
// use) and the services use it.
package keylock

import "sync"

// Set is a mutex per key, each kept only while in use. The zero value is ready
// to use; a Set must not be copied after first use.
type Set struct {
	mu    sync.Mutex
	locks map[string]*entry
}

type entry struct {
	mu    sync.Mutex
	users int
}

// Lock locks key, waiting while another holds it, and returns its unlock.
func (s *Set) Lock(key string) (unlock func()) {
	s.mu.Lock()
	if s.locks == nil {
		s.locks = map[string]*entry{}
	}
	e := s.locks[key]
	if e == nil {
		e = &entry{}
		s.locks[key] = e
	}
	e.users++
	s.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		s.mu.Lock()
		if e.users--; e.users == 0 {
			delete(s.locks, key)
		}
		s.mu.Unlock()
	}
}

// Len returns how many keys are locked or waited for.
func (s *Set) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.locks)
}
