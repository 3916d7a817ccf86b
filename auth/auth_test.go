package auth

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/papercatalog/papers/auth/authtest"
)

// fromClient is the context of a call from addr (as the gRPC server sees it)
// with the given authorization values.
func fromClient(addr string, authorization ...string) context.Context {
	ctx := withAuthorization(authorization...)
	return peer.NewContext(ctx, &peer.Peer{Addr: &net.TCPAddr{IP: net.ParseIP(addr), Port: 40000}})
}

func testGuard(t *testing.T, writes, upvotes RateLimit) *Guard {
	t.Helper()
	return &Guard{Admins: NewAdmins([]string{"admin-token"}), Users: newUsers(t, UsersConfig{Secret: testSecret}),
		Limits: NewLimiters(writes, upvotes, RateLimit{Off: true})}
}

// TestAdmitChecksAccess: each access lets through whom it says, and names the
// caller it found.
func TestAdmitChecksAccess(t *testing.T) {
	t.Parallel()
	g := testGuard(t, RateLimit{Off: true}, RateLimit{Off: true})
	user := "Bearer " + authtest.Sign(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"sub": "ada", "exp": time.Now().Add(time.Hour).Unix()}, "")
	expired := "Bearer " + authtest.Sign(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"sub": "ada", "exp": time.Now().Add(-time.Hour).Unix()}, "")
	const admin = "Bearer admin-token"
	for _, c := range []struct {
		name          string
		access        Access
		ownToken      bool
		authorization []string
		want          Caller
		refused       bool // with an *UnauthenticatedError
	}{
		{"public, anonymous", Public, false, nil, Caller{}, false},
		{"public ignores a bad user token", Public, false, []string{expired}, Caller{}, false},
		{"viewer, anonymous", Viewer, false, nil, Caller{}, false},
		{"viewer with a user token", Viewer, false, []string{user}, Caller{User: "ada"}, false},
		{"viewer with an admin token", Viewer, false, []string{admin}, Caller{}, false},
		{"viewer with an expired user token", Viewer, false, []string{expired}, Caller{}, true},
		{"user, anonymous", User, false, nil, Caller{}, true},
		{"user with a user token", User, false, []string{user}, Caller{User: "ada"}, false},
		{"user with an admin token", User, false, []string{admin}, Caller{}, true},
		{"admin, anonymous", Admin, false, nil, Caller{}, true},
		{"admin with a user token", Admin, false, []string{user}, Caller{}, true},
		{"admin with the admin token", Admin, false, []string{admin}, Caller{Admin: true}, false},
		{"owner with the resource's token", Owner, true, nil, Caller{}, false},
		{"owner without it", Owner, false, nil, Caller{}, true},
		{"owner without it, as an admin", Owner, false, []string{admin}, Caller{Admin: true}, false},
	} {
		got, err := g.Admit(fromClient("192.0.2.1", c.authorization...), c.access, NoLimit, c.ownToken)
		var unauthenticated *UnauthenticatedError
		switch {
		case c.refused && !errors.As(err, &unauthenticated):
			t.Errorf("%s: %v, want an *UnauthenticatedError", c.name, err)
		case !c.refused && (err != nil || got != c.want):
			t.Errorf("%s: %+v, %v; want %+v", c.name, got, err, c.want)
		}
	}
}

// TestAdmitSpendsLimits: a limit per client address is spent before any token
// is looked at (a wrong token past the limit is told to wait, not that it is
// wrong), one per user only once the user is known; a policy that cannot be
// enforced is an error of its own, not a refusal.
func TestAdmitSpendsLimits(t *testing.T) {
	t.Parallel()
	g := testGuard(t, RateLimit{Burst: 1, Per: time.Hour}, RateLimit{Burst: 1, Per: time.Hour})
	var limited *LimitError
	var unauthenticated *UnauthenticatedError
	if _, err := g.Admit(fromClient("192.0.2.1", "Bearer wrong"), Admin, Writes, false); !errors.As(err, &unauthenticated) {
		t.Fatalf("1st write with a wrong token: %v, want an *UnauthenticatedError", err)
	}
	if _, err := g.Admit(fromClient("192.0.2.1", "Bearer admin-token"), Admin, Writes, false); !errors.As(err, &limited) {
		t.Errorf("2nd write: %v, want a *LimitError (the wrong token spent the call)", err)
	}
	if _, err := g.Admit(fromClient("192.0.2.2", "Bearer admin-token"), Admin, Writes, false); err != nil {
		t.Errorf("a write from another address: %v", err)
	}

	token := func(sub string) string {
		return "Bearer " + authtest.Sign(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"sub": sub, "exp": time.Now().Add(time.Hour).Unix()}, "")
	}
	if _, err := g.Admit(fromClient("192.0.2.3"), User, Upvotes, false); !errors.As(err, &unauthenticated) {
		t.Errorf("an anonymous upvote: %v", err)
	}
	if c, err := g.Admit(fromClient("192.0.2.3", token("ada")), User, Upvotes, false); err != nil || c.User != "ada" {
		t.Errorf("ada's upvote: %+v %v (an anonymous call spent her budget?)", c, err)
	}
	if _, err := g.Admit(fromClient("192.0.2.4", token("ada")), User, Upvotes, false); !errors.As(err, &limited) {
		t.Errorf("ada's 2nd upvote, from elsewhere: %v, want a *LimitError", err)
	}
	if _, err := g.Admit(fromClient("192.0.2.3", token("grace")), User, Upvotes, false); err != nil {
		t.Errorf("grace's upvote from ada's address: %v", err)
	}

	for name, admit := range map[string]func() (Caller, error){
		"an unknown access":           func() (Caller, error) { return g.Admit(context.Background(), Access(0), NoLimit, false) },
		"upvotes without user access": func() (Caller, error) { return g.Admit(fromClient("192.0.2.5"), Public, Upvotes, false) },
	} {
		_, err := admit()
		if err == nil || errors.As(err, &unauthenticated) || errors.As(err, &limited) {
			t.Errorf("%s: %v, want an error that is not a refusal", name, err)
		}
	}
}

// TestClientKey: the client is the gRPC peer's host, else the last address of
// x-forwarded-for (the one the REST gateway appends).
func TestClientKey(t *testing.T) {
	t.Parallel()
	xff := func(v string) context.Context {
		return metadata.NewIncomingContext(context.Background(), metadata.Pairs("x-forwarded-for", v))
	}
	for _, c := range []struct {
		name string
		ctx  context.Context
		want string
	}{
		{"a gRPC peer", fromClient("198.51.100.7"), "198.51.100.7"},
		{"through the gateway", xff("198.51.100.8"), "198.51.100.8"},
		{"through a proxy and the gateway", xff("203.0.113.1, 198.51.100.9"), "198.51.100.9"},
		{"nothing to go by", context.Background(), "unknown"},
	} {
		if got := clientKey(c.ctx); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// TestCallerInContext: handlers read the caller Admit found; a call that went
// through no policy has none.
func TestCallerInContext(t *testing.T) {
	t.Parallel()
	if c := FromContext(context.Background()); c != (Caller{}) {
		t.Errorf("no caller: %+v", c)
	}
	ctx := NewContext(context.Background(), Caller{User: "ada"})
	if c := FromContext(ctx); c.User != "ada" || c.Admin {
		t.Errorf("caller %+v", c)
	}
}
