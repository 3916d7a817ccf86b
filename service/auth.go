package service

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
)

// Admins checks admin bearer tokens. Tokens are kept only as SHA-256 hashes and
// compared in constant time against every configured token.
type Admins struct {
	hashes [][sha256.Size]byte
}

// NewAdmins returns a checker for the given tokens; empty tokens are ignored. With
// no tokens every write is refused.
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
func (a *Admins) Len() int { return len(a.hashes) }

// Check returns an UNAUTHENTICATED error unless ctx's incoming metadata carries
// `authorization: Bearer <token>` with a configured token.
func (a *Admins) Check(ctx context.Context) error {
	tok, ok := bearer(ctx)
	if !ok {
		return errorf(codes.Unauthenticated, "this call needs an admin token: authorization: Bearer <token>")
	}
	h := sha256.Sum256([]byte(tok))
	match := 0
	for i := range a.hashes {
		match |= subtle.ConstantTimeCompare(h[:], a.hashes[i][:])
	}
	if match != 1 {
		return errorf(codes.Unauthenticated, "invalid admin token")
	}
	return nil
}

func bearer(ctx context.Context) (string, bool) {
	md, _ := metadata.FromIncomingContext(ctx)
	for _, v := range md.Get("authorization") {
		if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
			return strings.TrimSpace(v[7:]), true
		}
	}
	return "", false
}
