package auth

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/grpc/metadata"
)

// withAuthorization is the context of a call whose metadata carries the given
// authorization values.
func withAuthorization(values ...string) context.Context {
	md := metadata.MD{}
	for _, v := range values {
		md.Append("authorization", v)
	}
	return metadata.NewIncomingContext(context.Background(), md)
}

// TestAdminTokens: only a configured token, sent as a bearer token, passes;
// blank tokens configure nothing, and with none configured nothing passes.
func TestAdminTokens(t *testing.T) {
	t.Parallel()
	a := NewAdmins([]string{" first-token ", "", "  ", "second-token"})
	if a.Len() != 2 {
		t.Fatalf("Len() = %d, want 2 (blank tokens are ignored)", a.Len())
	}
	for _, c := range []struct {
		name string
		ctx  context.Context
		want string // the error's message, "" for none
	}{
		{"no metadata", context.Background(), "this call needs an admin token: authorization: Bearer <token>"},
		{"a token that is not a bearer token", withAuthorization("Basic Zmlyc3QtdG9rZW4="), "this call needs an admin token: authorization: Bearer <token>"},
		{"the first token", withAuthorization("Bearer first-token"), ""},
		{"the second token, scheme in lower case", withAuthorization("bearer second-token"), ""},
		{"a token with spaces around it", withAuthorization("Bearer   first-token  "), ""},
		{"an unknown token", withAuthorization("Bearer third-token"), "invalid admin token"},
		{"a prefix of a token", withAuthorization("Bearer first"), "invalid admin token"},
		{"only the first bearer value counts", withAuthorization("Bearer nope", "Bearer first-token"), "invalid admin token"},
	} {
		err := a.Check(c.ctx)
		var unauthenticated *UnauthenticatedError
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (!errors.As(err, &unauthenticated) || err.Error() != c.want):
			t.Errorf("%s: %v, want an *UnauthenticatedError %q", c.name, err, c.want)
		}
	}
	for name, none := range map[string]*Admins{"no tokens": NewAdmins(nil), "nil": nil} {
		if err := none.Check(withAuthorization("Bearer first-token")); err == nil || err.Error() != "invalid admin token" {
			t.Errorf("%s: %v, want invalid admin token", name, err)
		}
	}
}
