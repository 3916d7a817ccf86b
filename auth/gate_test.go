package auth

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	subscriptionv1 "github.com/papercatalog/papers/gen/papers/subscription/v1"
)

// TestGateFollowsItsTable: the Gate refuses what a policy refuses through
// Fail, passes methods its table does not cover, refuses those it lacks, and
// hands the handler the manage token of the header.
func TestGateFollowsItsTable(t *testing.T) {
	t.Parallel()
	errLacking := errors.New("no policy")
	g := &Gate{Guard: &Guard{Admins: NewAdmins([]string{"admin"})}, Timeout: time.Minute,
		Policies: func(m string) (Policy, bool, error) {
			switch m {
			case "/s/Admin":
				return Policy{Access: Admin}, true, nil
			case "/s/Owner":
				return Policy{Access: Owner, Deadline: NoDeadline}, true, nil
			case "/s/Lacking":
				return Policy{}, true, errLacking
			}
			return Policy{}, false, nil
		},
		Fail: func(_ context.Context, method string, err error) error {
			return status.Error(codes.Unknown, method+": "+err.Error())
		}}
	type seen struct {
		req         any
		hasDeadline bool
	}
	call := func(ctx context.Context, method string, req any) (seen, error) {
		var s seen
		_, err := g.Unary(ctx, req, &grpc.UnaryServerInfo{FullMethod: method}, func(ctx context.Context, req any) (any, error) {
			_, s.hasDeadline = ctx.Deadline()
			s.req = req
			return nil, nil
		})
		return s, err
	}
	ctx := context.Background()
	if _, err := call(ctx, "/s/Admin", nil); status.Convert(err).Message() != "Admin: this call needs an admin token: authorization: Bearer <token>" {
		t.Errorf("an anonymous admin call: %v", err)
	}
	if s, err := call(ctx, "/other/Check", nil); err != nil || s.hasDeadline {
		t.Errorf("a method outside the table: %+v, %v; want it untouched", s, err)
	}
	if _, err := call(ctx, "/s/Lacking", nil); status.Convert(err).Message() != "Lacking: no policy" {
		t.Errorf("a method the table lacks: %v", err)
	}
	withHeader := metadata.NewIncomingContext(ctx, metadata.Pairs(ManageTokenHeader, "tok"))
	s, err := call(withHeader, "/s/Owner", &subscriptionv1.GetSubscriptionRequest{Name: "subscriptions/x"})
	if err != nil || s.req.(*subscriptionv1.GetSubscriptionRequest).GetManageToken() != "tok" || s.hasDeadline {
		t.Errorf("an owner call with the header: %+v, %v; want the token in the request, no deadline", s, err)
	}
}

func TestNameResourceNamesTheRequestsResource(t *testing.T) {
	t.Parallel()
	notFound := func() error {
		st, _ := status.New(codes.NotFound, "not found").WithDetails(&errdetails.ResourceInfo{ResourceType: "papers.example/Paper"})
		return st.Err()
	}
	tests := []struct {
		name string
		req  any
		want string
	}{
		{"a request's name", &catalogv1.GetPaperRequest{Name: "papers/1"}, "papers/1"},
		{"its paper's name", &catalogv1.UpdatePaperRequest{Paper: &catalogv1.Paper{Name: "papers/2"}}, "papers/2"},
		{"its subscription's name", &subscriptionv1.UpdateSubscriptionRequest{Subscription: &subscriptionv1.Subscription{Name: "subscriptions/3"}}, "subscriptions/3"},
		{"no name: left empty", &catalogv1.ListPapersRequest{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := ""
			for _, d := range status.Convert(NameResource(notFound(), tt.req)).Details() {
				if info, ok := d.(*errdetails.ResourceInfo); ok {
					got = info.GetResourceName()
				}
			}
			if got != tt.want {
				t.Errorf("resource name %q, want %q", got, tt.want)
			}
		})
	}
	if err := NameResource(status.Error(codes.Internal, "x"), &catalogv1.GetPaperRequest{Name: "papers/1"}); status.Convert(err).Message() != "x" || len(status.Convert(err).Details()) != 0 {
		t.Errorf("another error: %v, want it as it is", err)
	}
}
