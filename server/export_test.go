package server

import (
	"context"
	"errors"

	"github.com/papercatalog/papers/search"
)

// HoldSearchTurn takes a turn of the expensive-search budget for an expensive
// query, as a running search would, and returns the function that gives it back.
// It waits for the turn until ctx ends, however short the server's Limits.Wait:
// an earlier search gives its turn back only after as long again as it held it,
// which a loaded machine makes longer than the wait.
func (s *Server) HoldSearchTurn(ctx context.Context) (func(), error) {
	q, err := search.Parse("/.*/")
	if err != nil {
		return nil, err
	}
	for {
		_, release, err := s.index.Admit(ctx, q)
		if !errors.Is(err, search.ErrBusy) || ctx.Err() != nil {
			return release, err
		}
	}
}
