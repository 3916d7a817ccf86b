// Package auth decides who may make a call: it checks admin tokens (Admins) and
// user tokens (Users, JWTs), and spends per-client and per-user rate limits
// (Limiters). A Guard puts the three together for one call, as the service's
// policy table asks (an Access and a Limit per RPC).
//
// Credentials come from the call's incoming gRPC metadata (authorization:
// Bearer …), which the REST gateway fills in from HTTP headers; the client
// address from the gRPC peer, or from the x-forwarded-for the gateway appends.
package auth

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc/metadata"
)

// Access says who may make a call.
type Access int

const (
	// Public calls are open to anyone.
	Public Access = iota + 1
	// Viewer calls are open to anyone; a caller that presents a user token is
	// identified by it, and refused if it is not valid.
	Viewer
	// User calls need a valid user token.
	User
	// Admin calls need an admin token.
	Admin
	// Owner calls act on a resource that has a token of its own (a
	// subscription's manage token). A call that carries such a token is let
	// through for its handler to check the token against the resource, the one
	// thing that can; any other needs an admin token.
	Owner
)

func (a Access) String() string {
	switch a {
	case Public:
		return "public"
	case Viewer:
		return "viewer"
	case User:
		return "user"
	case Admin:
		return "admin"
	case Owner:
		return "owner"
	}
	return fmt.Sprintf("Access(%d)", int(a))
}

// Limit names the rate limit a call spends.
type Limit int

const (
	// NoLimit calls spend nothing.
	NoLimit Limit = iota
	// Writes are counted per client address: paper writes, imports, sending
	// digests and every call that presents a subscription token.
	Writes
	// Subscribes are counted per client address: the calls that mail an
	// address.
	Subscribes
	// Upvotes are counted per user: adding and removing an upvote. Only calls
	// with User access can spend them.
	Upvotes
)

func (l Limit) String() string {
	switch l {
	case NoLimit:
		return "none"
	case Writes:
		return "writes"
	case Subscribes:
		return "subscribes"
	case Upvotes:
		return "upvotes"
	}
	return fmt.Sprintf("Limit(%d)", int(l))
}

// PerUser reports whether l is counted per user rather than per client address.
func (l Limit) PerUser() bool { return l == Upvotes }

// UnauthenticatedError refuses a call whose caller did not prove who it is: no
// token where one is needed, or a token that is not valid. Its message says
// which, without quoting the token, and is safe to show to callers.
type UnauthenticatedError struct {
	// Reason is the google.rpc.ErrorInfo reason (reason.AdminTokenRequired,
	// AdminTokenInvalid, UserTokenRequired, UserTokenInvalid or
	// UserTokensOff).
	Reason  string
	Message string
}

func (e *UnauthenticatedError) Error() string { return e.Message }

// LimitError refuses a call past its caller's rate limit.
type LimitError struct {
	// Wait is how long until the caller has a call again.
	Wait time.Duration
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("too many requests from this client; retry in %d s", int(e.Wait.Seconds())+1)
}

// Guard admits calls: it spends their rate limit and checks their tokens.
type Guard struct {
	// Admins checks admin tokens; nil knows none.
	Admins *Admins
	// Users verifies user tokens; nil accepts none.
	Users *Users
	// Limits are the rate limits; nil lets every call through.
	Limits *Limiters
}

// Caller is who made a call, as far as Guard.Admit found out.
type Caller struct {
	// User is the subject of the caller's user token, "" without one.
	User string
	// Admin says the caller presented a valid admin token.
	Admin bool
}

// Admit decides whether the caller of ctx may make a call that needs access
// and spends limit. A limit counted per client address is spent before any
// token is looked at, so that guessing tokens is slowed down like anything
// else; a limit counted per user once the user is known. ownToken says that
// the call carries its resource's own token (see Owner).
//
// It returns the caller, or an *UnauthenticatedError, or a *LimitError. Any
// other error is a policy that cannot be enforced (an unknown Access, Upvotes
// without User access): a bug, never the caller's fault.
func (g *Guard) Admit(ctx context.Context, access Access, limit Limit, ownToken bool) (Caller, error) {
	var c Caller
	if limit != NoLimit && !limit.PerUser() {
		if err := g.Limits.Spend(limit, clientKey(ctx)); err != nil {
			return c, err
		}
	}
	var err error
	switch access {
	case Public:
	case Viewer:
		c.User, _, err = g.Users.Subject(ctx)
	case User:
		c.User, err = g.Users.RequireSubject(ctx)
	case Admin:
		err = g.Admins.Check(ctx)
		c.Admin = err == nil
	case Owner:
		if !ownToken {
			err = g.Admins.Check(ctx)
			c.Admin = err == nil
		}
	default:
		return c, fmt.Errorf("auth: no such access %v", access)
	}
	if err != nil {
		return Caller{}, err
	}
	if limit.PerUser() {
		if access != User {
			return Caller{}, fmt.Errorf("auth: the %v limit is counted per user, and %v access does not need one", limit, access)
		}
		if err := g.Limits.Spend(limit, c.User); err != nil {
			return Caller{}, err
		}
	}
	return c, nil
}

type callerKey struct{}

// NewContext returns ctx carrying c, for the handler of the call Admit let c
// make.
func NewContext(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// FromContext returns the caller NewContext put in ctx; the zero Caller (no
// user, not an admin) if none.
func FromContext(ctx context.Context) Caller {
	c, _ := ctx.Value(callerKey{}).(Caller)
	return c
}

// bearer returns the token of the first `authorization: Bearer <token>` in
// ctx's incoming metadata.
func bearer(ctx context.Context) (string, bool) {
	for _, v := range metadata.ValueFromIncomingContext(ctx, "authorization") {
		if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
			return strings.TrimSpace(v[7:]), true
		}
	}
	return "", false
}
