package service

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/papercatalog/papers/auth"
	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	subscriptionv1 "github.com/papercatalog/papers/gen/papers/subscription/v1"
)

// rpcs returns every RPC of both services, from the generated descriptors, by
// full method name.
func rpcs(t *testing.T) map[string]protoreflect.MethodDescriptor {
	t.Helper()
	out := map[string]protoreflect.MethodDescriptor{}
	for _, file := range []protoreflect.FileDescriptor{catalogv1.File_papers_catalog_v1_catalog_service_proto,
		subscriptionv1.File_papers_subscription_v1_subscription_service_proto} {
		for i := range file.Services().Len() {
			svc := file.Services().Get(i)
			if !services[string(svc.FullName())] {
				t.Errorf("service %s is not one the Gate covers", svc.FullName())
			}
			for j := range svc.Methods().Len() {
				m := svc.Methods().Get(j)
				out["/"+string(svc.FullName())+"/"+string(m.Name())] = m
			}
		}
	}
	if len(out) < 20 {
		t.Fatalf("found only %d RPCs in the descriptors", len(out))
	}
	return out
}

// TestEveryRPCHasAPolicy: every RPC of both services has a policy in the
// table, and the table names no RPC that does not exist. Adding an RPC
// without its line fails here (and the Gate refuses its calls).
func TestEveryRPCHasAPolicy(t *testing.T) {
	t.Parallel()
	all := rpcs(t)
	for name := range all {
		if _, ok := policies[name]; !ok {
			t.Errorf("%s has no policy: add it to the table in service/policy.go", name)
		}
	}
	for name := range policies {
		if _, ok := all[name]; !ok {
			t.Errorf("the policy table names %s, which is no RPC of either service", name)
		}
	}
}

// TestPoliciesAgreeWithTheAPI: each policy fits what the API says of its RPC.
// Calls that write are the ones that are not HTTP GETs, and each spends a rate
// limit; requests with a manage token are the Owner calls; upvote limits go
// with user access; streams (whose requests the Gate cannot read) are not
// Owner calls.
func TestPoliciesAgreeWithTheAPI(t *testing.T) {
	t.Parallel()
	for name, m := range rpcs(t) {
		p, ok := policies[name]
		if !ok {
			continue // TestEveryRPCHasAPolicy says so
		}
		if p.Access < auth.Public || p.Access > auth.Owner {
			t.Errorf("%s: access %v is none of public, viewer, user, admin, owner", name, p.Access)
		}
		rule, _ := proto.GetExtension(m.Options(), annotations.E_Http).(*annotations.HttpRule)
		if get := rule.GetGet() != ""; get == p.Writes {
			t.Errorf("%s: Writes %v, but its REST verb is %v", name, p.Writes, rule.GetPattern())
		}
		if p.Writes && p.Limit == auth.NoLimit {
			t.Errorf("%s writes and spends no rate limit", name)
		}
		if hasToken := m.Input().Fields().ByName("manage_token") != nil; hasToken != (p.Access == auth.Owner) {
			t.Errorf("%s: access %v, and its request has a manage_token: %v", name, p.Access, hasToken)
		}
		if p.Limit.PerUser() && p.Access != auth.User {
			t.Errorf("%s: the %v limit is counted per user, and %v access needs none", name, p.Limit, p.Access)
		}
		if (m.IsStreamingClient() || m.IsStreamingServer()) && p.Access == auth.Owner {
			t.Errorf("%s streams: the Gate cannot see a manage token in its request", name)
		}
		if p.Deadline < NoDeadline {
			t.Errorf("%s: deadline %v", name, p.Deadline)
		}
	}
}

// TestGateAppliesThePolicy: the Gate refuses what the policy refuses with the
// statuses callers know (and retry-after), hands the handler the caller and
// the policy's deadline, lets other services' calls through, and refuses a
// call of either service that has no policy.
func TestGateAppliesThePolicy(t *testing.T) {
	t.Parallel()
	g := NewGate(&auth.Guard{Admins: auth.NewAdmins([]string{"admin"}),
		Limits: auth.NewLimiters(auth.RateLimit{Burst: 1, Per: time.Hour}, auth.RateLimit{Off: true}, auth.RateLimit{Off: true})},
		time.Minute, slog.New(slog.DiscardHandler))
	type seen struct {
		caller   auth.Caller
		deadline time.Duration // 0: none
	}
	call := func(ctx context.Context, method string, req any) (seen, metadata.MD, error) {
		var s seen
		stream := &headerStream{}
		ctx = grpc.NewContextWithServerTransportStream(ctx, stream)
		_, err := g.Unary(ctx, req, &grpc.UnaryServerInfo{FullMethod: method}, func(ctx context.Context, _ any) (any, error) {
			s.caller = auth.FromContext(ctx)
			if d, ok := ctx.Deadline(); ok {
				s.deadline = time.Until(d).Round(time.Minute)
			}
			return nil, nil
		})
		return s, stream.md, err
	}
	from := func(addr string, kv ...string) context.Context {
		return metadata.NewIncomingContext(context.Background(), metadata.Pairs(append([]string{"x-forwarded-for", addr}, kv...)...))
	}
	admin := []string{"authorization", "Bearer admin"}

	got, _, err := call(from("192.0.2.1", admin...), catalogv1.CatalogService_CreatePaper_FullMethodName, &catalogv1.CreatePaperRequest{})
	if err != nil || !got.caller.Admin || got.deadline != time.Minute {
		t.Errorf("an admin's write: %+v %v, want the admin and the default deadline", got, err)
	}
	_, header, err := call(from("192.0.2.1", admin...), catalogv1.CatalogService_DeletePaper_FullMethodName, &catalogv1.DeletePaperRequest{})
	if st := status.Convert(err); st.Code() != codes.ResourceExhausted || len(st.Details()) != 2 || len(header.Get("retry-after")) != 1 {
		t.Errorf("a 2nd write: %v (details %v, header %v), want RESOURCE_EXHAUSTED with ErrorInfo, RetryInfo and retry-after", err, st.Details(), header)
	}
	if _, _, err := call(from("192.0.2.2"), catalogv1.CatalogService_DeletePaper_FullMethodName, &catalogv1.DeletePaperRequest{}); status.Code(err) != codes.Unauthenticated ||
		status.Convert(err).Message() != "this call needs an admin token: authorization: Bearer <token>" {
		t.Errorf("an anonymous delete: %v", err)
	}
	if _, _, err := call(from("192.0.2.3"), subscriptionv1.SubscriptionService_GetSubscription_FullMethodName,
		&subscriptionv1.GetSubscriptionRequest{Name: "subscriptions/x"}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("an owner's call without a manage token or an admin token: %v", err)
	}
	if got, _, err := call(from("192.0.2.4"), subscriptionv1.SubscriptionService_GetSubscription_FullMethodName,
		&subscriptionv1.GetSubscriptionRequest{Name: "subscriptions/x", ManageToken: "t"}); err != nil || got.caller != (auth.Caller{}) {
		t.Errorf("an owner's call with a manage token: %+v %v, want it let through to the handler", got, err)
	}
	own, cancel := context.WithTimeout(from("192.0.2.5"), 3*time.Hour)
	defer cancel()
	if got, _, err := call(own, catalogv1.CatalogService_ListPapers_FullMethodName, &catalogv1.ListPapersRequest{}); err != nil || got.deadline != 3*time.Hour {
		t.Errorf("a read with the caller's deadline: %+v %v", got, err)
	}
	if got, _, err := call(from("192.0.2.6"), "/grpc.health.v1.Health/Check", nil); err != nil || got.deadline != 0 {
		t.Errorf("a health check: %+v %v, want it untouched", got, err)
	}
	if _, _, err := call(from("192.0.2.7"), "/papers.catalog.v1.CatalogService/AddedWithoutAPolicy", nil); status.Code(err) != codes.Internal {
		t.Errorf("an RPC without a policy: %v, want INTERNAL", err)
	}
}

// headerStream keeps the headers a call sets.
type headerStream struct{ md metadata.MD }

func (s *headerStream) Method() string { return "" }
func (s *headerStream) SetHeader(md metadata.MD) error {
	s.md = metadata.Join(s.md, md)
	return nil
}
func (s *headerStream) SendHeader(md metadata.MD) error { return s.SetHeader(md) }
func (s *headerStream) SetTrailer(metadata.MD) error    { return nil }
