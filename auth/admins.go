package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"strings"

	"github.com/papercatalog/papers/reason"
)

// Admins checks admin bearer tokens. Tokens are kept only as SHA-256 hashes and
// compared in constant time against every configured token.
type Admins struct {
	hashes [][sha256.Size]byte
}

// NewAdmins returns a checker for the given tokens; empty tokens are ignored. With
// no tokens every call that needs an admin is refused.
func NewAdmins(tokens []string) *Admins {
	a := &Admins{}
	for _, t := range tokens {
		if t = strings.TrimSpace(t); t != "" {
			a.hashes = append(a.hashes, sha256.Sum256([]byte(t)))
		}
	}
	return a
}

// Len returns the number of configured tokens.
func (a *Admins) Len() int {
	if a == nil {
		return 0
	}
	return len(a.hashes)
}

// Check returns an *UnauthenticatedError unless ctx's incoming metadata carries
// `authorization: Bearer <token>` with a configured token. A nil *Admins knows
// no token.
func (a *Admins) Check(ctx context.Context) error {
	tok, ok := bearer(ctx)
	if !ok {
		return &UnauthenticatedError{Reason: reason.AdminTokenRequired, Message: "this call needs an admin token: authorization: Bearer <token>"}
	}
	h := sha256.Sum256([]byte(tok))
	match := 0
	for i := range a.Len() {
		match |= subtle.ConstantTimeCompare(h[:], a.hashes[i][:])
	}
	if match != 1 {
		return &UnauthenticatedError{Reason: reason.AdminTokenInvalid, Message: "invalid admin token"}
	}
	return nil
}
