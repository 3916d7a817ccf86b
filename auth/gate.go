package auth

import (
	"context"
	"strings"
	"time"

	middleware "github.com/grpc-ecosystem/go-grpc-middleware/v2"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Policy is what the Gate does for a call of one RPC before its handler runs.
type Policy struct {
	// Access says who may call; the handler finds the caller with
	// FromContext.
	Access Access
	// Limit is the rate limit each call spends (NoLimit: none).
	Limit Limit
	// Deadline is the deadline of a call whose caller set none: 0 is the
	// Gate's Timeout, NoDeadline none.
	Deadline time.Duration
	// Writes says whether the call changes anything: stores, deletes or sends
	// mail.
	Writes bool
}

// NoDeadline is a Policy.Deadline: a call without a deadline of its own runs
// as long as its caller keeps it open.
const NoDeadline time.Duration = -1

// ManageTokenHeader is the metadata key (over REST, the HTTP header
// X-Manage-Token) that carries a subscription's manage token, so that it stays
// out of URLs and access logs. The request's manage_token field (over REST, the
// manage_token query parameter: deprecated) still works; the field wins when
// both are set.
const ManageTokenHeader = "x-manage-token"

// Gate enforces a table of policies: it is the interceptor every call goes
// through, from gRPC, from REST and from the pages alike. It gives a call
// without a deadline the one its policy says, admits the caller
// (Guard.Admit) and hands the handler a context that names it.
type Gate struct {
	Guard *Guard
	// Timeout is the deadline of a call whose caller set none and whose policy
	// says 0.
	Timeout time.Duration
	// Policies returns the policy of a full method name: ok is false for a
	// method the table does not cover (it passes untouched), err is set for one
	// it should cover but lacks (it is refused).
	Policies func(fullMethod string) (p Policy, ok bool, err error)
	// Fail turns an error of a call of method (its last part) into the status
	// its caller gets.
	Fail func(ctx context.Context, method string, err error) error
}

// Unary is the Gate as a unary server interceptor.
func (g *Gate) Unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	p, ok, err := g.Policies(info.FullMethod)
	if !ok {
		return next(ctx, req)
	}
	if err != nil {
		return nil, g.Fail(ctx, shortName(info.FullMethod), err)
	}
	ctx, cancel := g.deadline(ctx, p)
	defer cancel()
	headerManageToken(ctx, req)
	if ctx, err = g.Admit(ctx, shortName(info.FullMethod), p, req); err != nil {
		return nil, err
	}
	resp, err := next(ctx, req)
	return resp, NameResource(err, req)
}

// Stream is the Gate as a stream server interceptor. A streaming call has no
// request to look at, so an Owner call needs an admin token.
func (g *Gate) Stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, next grpc.StreamHandler) error {
	p, ok, err := g.Policies(info.FullMethod)
	if !ok {
		return next(srv, ss)
	}
	if err != nil {
		return g.Fail(ss.Context(), shortName(info.FullMethod), err)
	}
	ctx, cancel := g.deadline(ss.Context(), p)
	defer cancel()
	if ctx, err = g.Admit(ctx, shortName(info.FullMethod), p, nil); err != nil {
		return err
	}
	wrapped := middleware.WrapServerStream(ss)
	wrapped.WrappedContext = ctx
	return next(srv, wrapped)
}

// Admit admits the caller of ctx to a call of method with policy p and returns
// the handler's context, which names the caller (FromContext). req is the
// call's request: an Owner call that carries a manage token is let through,
// for its handler to check the token. The errors are Fail's: an
// UnauthenticatedError, a LimitError or, for a policy that cannot be
// enforced, an internal error.
func (g *Gate) Admit(ctx context.Context, method string, p Policy, req any) (context.Context, error) {
	c, err := g.Guard.Admit(ctx, p.Access, p.Limit, p.Access == Owner && hasManageToken(req))
	if err != nil {
		return ctx, g.Fail(ctx, method, err)
	}
	if c == (Caller{}) {
		return ctx, nil
	}
	return NewContext(ctx, c), nil
}

// deadline gives ctx the deadline p says if it has none.
func (g *Gate) deadline(ctx context.Context, p Policy) (context.Context, context.CancelFunc) {
	d := p.Deadline
	if d == 0 {
		d = g.Timeout
	}
	if _, ok := ctx.Deadline(); ok || d <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
}

// headerManageToken copies the manage token of ctx's ManageTokenHeader into
// req's manage_token field when req has one and it is empty.
func headerManageToken(ctx context.Context, req any) {
	m, ok := req.(proto.Message)
	if !ok {
		return
	}
	tok := metadata.ValueFromIncomingContext(ctx, ManageTokenHeader)
	if len(tok) == 0 || tok[0] == "" {
		return
	}
	r := m.ProtoReflect()
	if f := r.Descriptor().Fields().ByName("manage_token"); f != nil && f.Kind() == protoreflect.StringKind && !r.Has(f) {
		r.Set(f, protoreflect.ValueOfString(tok[0]))
	}
}

// hasManageToken reports whether req carries a subscription's manage token.
func hasManageToken(req any) bool {
	r, ok := req.(interface{ GetManageToken() string })
	return ok && r.GetManageToken() != ""
}

// shortName is a full method name's last part, as handlers name themselves in
// logs.
func shortName(fullMethod string) string {
	return fullMethod[strings.LastIndexByte(fullMethod, '/')+1:]
}

// NameResource fills in the resource name of a NOT_FOUND status err that names
// its resource type but not the resource, from the request req (its name, or
// the name of its paper or subscription). Other errors are returned as they
// are.
func NameResource(err error, req any) error {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.NotFound {
		return err
	}
	name := requestName(req)
	if name == "" {
		return err
	}
	p := st.Proto()
	changed := false
	for _, a := range p.GetDetails() {
		var info errdetails.ResourceInfo
		if a.MessageIs(&info) && a.UnmarshalTo(&info) == nil && info.GetResourceName() == "" {
			info.ResourceName = name
			if a.MarshalFrom(&info) == nil {
				changed = true
			}
		}
	}
	if !changed {
		return err
	}
	return status.FromProto(p).Err()
}

// requestName is the name of the resource a request is about: its name field,
// or else the name of its paper or subscription field.
func requestName(req any) string {
	if r, ok := req.(interface{ GetName() string }); ok {
		return r.GetName()
	}
	m, ok := req.(proto.Message)
	if !ok {
		return ""
	}
	r := m.ProtoReflect()
	for _, field := range []protoreflect.Name{"paper", "subscription"} {
		f := r.Descriptor().Fields().ByName(field)
		if f == nil || f.Message() == nil || f.IsList() || f.IsMap() {
			continue
		}
		inner := r.Get(f).Message()
		if name := inner.Descriptor().Fields().ByName("name"); name != nil && name.Kind() == protoreflect.StringKind {
			return inner.Get(name).String()
		}
	}
	return ""
}
