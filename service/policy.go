package service

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	middleware "github.com/grpc-ecosystem/go-grpc-middleware/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/papercatalog/papers/auth"
	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	subscriptionv1 "github.com/papercatalog/papers/gen/papers/subscription/v1"
)

// Policy is what the Gate does for a call of one RPC before its handler runs.
type Policy struct {
	// Access says who may call; the handler finds the caller with
	// auth.FromContext.
	Access auth.Access
	// Limit is the rate limit each call spends (auth.NoLimit: none).
	Limit auth.Limit
	// Deadline is the deadline of a call whose caller set none: 0 is the
	// server's request timeout (PAPERD_REQUEST_TIMEOUT), NoDeadline none.
	Deadline time.Duration
	// Writes says whether the call changes anything: stores, deletes or sends
	// mail.
	Writes bool
}

// NoDeadline is a Policy.Deadline: a call without a deadline of its own runs
// as long as its caller keeps it open.
const NoDeadline time.Duration = -1

// policies holds the Policy of every RPC of both services, by full method
// name. An RPC of either service that is not here is refused (INTERNAL), and
// TestEveryRPCHasAPolicy fails: adding an RPC means adding its line.
var policies = map[string]Policy{
	catalogv1.CatalogService_CreatePaper_FullMethodName:        {Access: auth.Admin, Limit: auth.Writes, Writes: true},
	catalogv1.CatalogService_GetPaper_FullMethodName:           {Access: auth.Viewer},
	catalogv1.CatalogService_BatchGetPapers_FullMethodName:     {Access: auth.Public},
	catalogv1.CatalogService_ListPapers_FullMethodName:         {Access: auth.Public},
	catalogv1.CatalogService_ListDailyPapers_FullMethodName:    {Access: auth.Public},
	catalogv1.CatalogService_ListTrendingPapers_FullMethodName: {Access: auth.Public},
	catalogv1.CatalogService_SearchPapers_FullMethodName:       {Access: auth.Public},
	catalogv1.CatalogService_ListSimilarPapers_FullMethodName:  {Access: auth.Public},
	catalogv1.CatalogService_UpvotePaper_FullMethodName:        {Access: auth.User, Limit: auth.Upvotes, Writes: true},
	catalogv1.CatalogService_RemovePaperUpvote_FullMethodName:  {Access: auth.User, Limit: auth.Upvotes, Writes: true},
	catalogv1.CatalogService_UpdatePaper_FullMethodName:        {Access: auth.Admin, Limit: auth.Writes, Writes: true},
	catalogv1.CatalogService_DeletePaper_FullMethodName:        {Access: auth.Admin, Limit: auth.Writes, Writes: true},
	// A stream of any length: it ends when the caller's records do.
	catalogv1.CatalogService_ImportPapers_FullMethodName: {Access: auth.Admin, Limit: auth.Writes, Writes: true, Deadline: NoDeadline},

	// The calls that mail an address spend Subscribes; those that present a
	// subscription's token spend Writes, which slows down guessing.
	subscriptionv1.SubscriptionService_CreateSubscription_FullMethodName:  {Access: auth.Public, Limit: auth.Subscribes, Writes: true},
	subscriptionv1.SubscriptionService_ConfirmSubscription_FullMethodName: {Access: auth.Public, Limit: auth.Writes, Writes: true},
	subscriptionv1.SubscriptionService_GetSubscription_FullMethodName:     {Access: auth.Owner, Limit: auth.Writes},
	subscriptionv1.SubscriptionService_UpdateSubscription_FullMethodName:  {Access: auth.Owner, Limit: auth.Writes, Writes: true},
	subscriptionv1.SubscriptionService_DeleteSubscription_FullMethodName:  {Access: auth.Owner, Limit: auth.Writes, Writes: true},
	subscriptionv1.SubscriptionService_Unsubscribe_FullMethodName:         {Access: auth.Public, Limit: auth.Writes, Writes: true},
	subscriptionv1.SubscriptionService_SendManageLink_FullMethodName:      {Access: auth.Public, Limit: auth.Subscribes, Writes: true},
	subscriptionv1.SubscriptionService_ListSubscriptions_FullMethodName:   {Access: auth.Admin},
	subscriptionv1.SubscriptionService_PreviewDigest_FullMethodName:       {Access: auth.Owner, Limit: auth.Writes},
	subscriptionv1.SubscriptionService_SendDigests_FullMethodName:         {Access: auth.Admin, Limit: auth.Writes, Writes: true},
}

// ManageTokenLookup is the policy of Subscriptions.ByManageToken, the pages'
// lookup of a subscription by its manage token (not an RPC): as the RPCs that
// take the token.
var ManageTokenLookup = Policy{Access: auth.Public, Limit: auth.Writes}

// services are the services the table covers; calls of any other (health
// checks, reflection) pass the Gate untouched.
var services = map[string]bool{
	catalogv1.CatalogService_ServiceDesc.ServiceName:           true,
	subscriptionv1.SubscriptionService_ServiceDesc.ServiceName: true,
}

// Gate enforces the policy table: it is the interceptor every call of both
// services goes through, from gRPC, from REST and from the pages alike. It
// gives a call without a deadline the one its policy says, admits the caller
// (auth.Guard.Admit) and hands the handler a context that names it.
type Gate struct {
	Guard *auth.Guard
	// Timeout is the deadline of a call whose caller set none and whose policy
	// says 0.
	Timeout time.Duration
	Log     *slog.Logger
}

// Unary is the Gate as a unary server interceptor.
func (g *Gate) Unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	p, ok, err := policyOf(info.FullMethod)
	if !ok {
		return next(ctx, req)
	}
	if err != nil {
		return nil, toStatus(ctx, g.Log, shortName(info.FullMethod), err)
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
	p, ok, err := policyOf(info.FullMethod)
	if !ok {
		return next(srv, ss)
	}
	if err != nil {
		return toStatus(ss.Context(), g.Log, shortName(info.FullMethod), err)
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
// the handler's context, which names the caller (auth.FromContext). req is the
// call's request: an Owner call that carries a manage token is let through,
// for its handler to check the token. The errors are statuses:
// UNAUTHENTICATED, RESOURCE_EXHAUSTED (with retry-after and RetryInfo) or,
// for a policy that cannot be enforced, INTERNAL.
func (g *Gate) Admit(ctx context.Context, method string, p Policy, req any) (context.Context, error) {
	c, err := g.Guard.Admit(ctx, p.Access, p.Limit, p.Access == auth.Owner && hasManageToken(req))
	if err != nil {
		return ctx, toStatus(ctx, g.Log, method, err)
	}
	if c == (auth.Caller{}) {
		return ctx, nil
	}
	return auth.NewContext(ctx, c), nil
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

// policyOf returns the policy of fullMethod. ok is false for a method of
// neither service; err is set for one the table lacks.
func policyOf(fullMethod string) (p Policy, ok bool, err error) {
	if p, ok := policies[fullMethod]; ok {
		return p, true, nil
	}
	service, _, _ := strings.Cut(strings.TrimPrefix(fullMethod, "/"), "/")
	if !services[service] {
		return Policy{}, false, nil
	}
	return Policy{}, true, fmt.Errorf("%s has no policy: add it to the table in service/policy.go", fullMethod)
}

// ManageTokenHeader is the metadata key (over REST, the HTTP header
// X-Manage-Token) that carries a subscription's manage token, so that it stays
// out of URLs and access logs. The request's manage_token field (over REST, the
// manage_token query parameter: deprecated) still works; the field wins when
// both are set.
const ManageTokenHeader = "x-manage-token"

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
