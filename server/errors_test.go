package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	subscriptionv1 "github.com/papercatalog/papers/gen/papers/subscription/v1"
	"github.com/papercatalog/papers/reason"
)

// reasonCodes is reason.All by reason.
func reasonCodes() map[string]codes.Code {
	m := map[string]codes.Code{}
	for _, r := range reason.All {
		m[r.Reason] = r.Code
	}
	return m
}

// TestEveryErrorHasAReason drives error paths over gRPC and REST, and checks
// that each error carries a google.rpc.ErrorInfo whose reason is one of the
// documented ones, with the code the list gives it, and the domain.
func TestEveryErrorHasAReason(t *testing.T) {
	t.Parallel()
	ts := startServer(t, userConfig(t))
	ctx := testCtx(t)
	p := create(t, ts, 1)
	sc := subscriptionv1.NewSubscriptionServiceClient(ts.conn)
	known := reasonCodes()

	grpcCases := []struct {
		name   string
		call   func() error
		reason string
		// resource is the name a NOT_FOUND's ResourceInfo must give.
		resource string
		// message must be in the status's message.
		message string
	}{
		{"a paper that is not there", func() error {
			_, err := ts.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: "papers/2401.99999"})
			return err
		}, reason.PaperNotFound, "papers/2401.99999", "not found"},
		{"deleting a paper that is not there", func() error {
			_, err := ts.client.DeletePaper(admin(ctx), &catalogv1.DeletePaperRequest{Name: "papers/2401.99998"})
			return err
		}, reason.PaperNotFound, "papers/2401.99998", ""},
		{"a filter of an unknown field", func() error {
			_, err := ts.client.ListPapers(ctx, &catalogv1.ListPapersRequest{Filter: "bogus = 1"})
			return err
		}, reason.InvalidFilter, "", `filter: unknown field "bogus"; fields: `},
		{"a filter that ends early", func() error {
			_, err := ts.client.ListPapers(ctx, &catalogv1.ListPapersRequest{Filter: "upvotes >"})
			return err
		}, reason.InvalidFilter, "", "filter: the filter ends early"},
		{"an unknown order", func() error {
			_, err := ts.client.ListPapers(ctx, &catalogv1.ListPapersRequest{OrderBy: "colour"})
			return err
		}, reason.InvalidOrderBy, "", ""},
		{"a page token not given by the server", func() error {
			_, err := ts.client.ListPapers(ctx, &catalogv1.ListPapersRequest{PageToken: "made-up"})
			return err
		}, reason.InvalidPageToken, "", ""},
		{"a write without an admin token", func() error {
			_, err := ts.client.CreatePaper(ctx, &catalogv1.CreatePaperRequest{PaperId: paperID(2), Paper: newPaper(2)})
			return err
		}, reason.AdminTokenRequired, "", ""},
		{"a write with a wrong admin token", func() error {
			_, err := ts.client.CreatePaper(asUser(ctx, "not-the-token"), &catalogv1.CreatePaperRequest{PaperId: paperID(2), Paper: newPaper(2)})
			return err
		}, reason.AdminTokenInvalid, "", ""},
		{"a paper created twice", func() error {
			_, err := ts.client.CreatePaper(admin(ctx), &catalogv1.CreatePaperRequest{PaperId: paperID(1), Paper: newPaper(1)})
			return err
		}, reason.PaperAlreadyExists, "", ""},
		{"two invalid fields", func() error {
			_, err := ts.client.CreatePaper(admin(ctx), &catalogv1.CreatePaperRequest{PaperId: paperID(3), Paper: &catalogv1.Paper{ArxivVersion: -1}})
			return err
		}, reason.InvalidArgument, "", "(and 1 more violation)"},
		{"an update with a stale etag", func() error {
			_, err := ts.client.UpdatePaper(admin(ctx), &catalogv1.UpdatePaperRequest{
				Paper:      &catalogv1.Paper{Name: p.GetName(), Title: "New", Etag: `"stale"`},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}},
			})
			return err
		}, reason.EtagMismatch, "", ""},
		{"an update mask of an unknown field", func() error {
			_, err := ts.client.UpdatePaper(admin(ctx), &catalogv1.UpdatePaperRequest{
				Paper:      &catalogv1.Paper{Name: p.GetName(), Title: "New"},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"colour"}},
			})
			return err
		}, reason.InvalidUpdateMask, "", ""},
		{"an upvote without a user token", func() error {
			_, err := ts.client.UpvotePaper(ctx, &catalogv1.UpvotePaperRequest{Name: p.GetName()})
			return err
		}, reason.UserTokenRequired, "", ""},
		{"an upvote with a forged user token", func() error {
			_, err := ts.client.UpvotePaper(asUser(ctx, "a.b.c"), &catalogv1.UpvotePaperRequest{Name: p.GetName()})
			return err
		}, reason.UserTokenInvalid, "", ""},
		{"a subscription that is not there", func() error {
			_, err := sc.GetSubscription(admin(ctx), &subscriptionv1.GetSubscriptionRequest{Name: "subscriptions/nobody"})
			return err
		}, reason.SubscriptionNotFound, "subscriptions/nobody", ""},
		{"a confirmation link that is not there", func() error {
			_, err := sc.ConfirmSubscription(ctx, &subscriptionv1.ConfirmSubscriptionRequest{Token: "made-up"})
			return err
		}, reason.TokenUnknown, "", ""},
		{"a call past its deadline", func() error {
			short, cancel := context.WithTimeout(ctx, 0)
			defer cancel()
			_, err := ts.client.GetPaper(short, &catalogv1.GetPaperRequest{Name: p.GetName()})
			return err
		}, "", "", ""}, // the client's own DEADLINE_EXCEEDED, which carries nothing
	}
	for _, c := range grpcCases {
		t.Run("gRPC/"+c.name, func(t *testing.T) {
			st := status.Convert(c.call())
			if c.reason == "" {
				if st.Code() != codes.DeadlineExceeded {
					t.Fatalf("got %v %q, want the client's DEADLINE_EXCEEDED", st.Code(), st.Message())
				}
				return
			}
			var info *errdetails.ErrorInfo
			var resource *errdetails.ResourceInfo
			for _, d := range st.Details() {
				switch d := d.(type) {
				case *errdetails.ErrorInfo:
					info = d
				case *errdetails.ResourceInfo:
					resource = d
				}
			}
			if info == nil {
				t.Fatalf("%v %q has no ErrorInfo", st.Code(), st.Message())
			}
			if info.GetReason() != c.reason || info.GetDomain() != reason.Domain {
				t.Errorf("ErrorInfo %v, want reason %s, domain %s", info, c.reason, reason.Domain)
			}
			if code, ok := known[info.GetReason()]; !ok || code != st.Code() {
				t.Errorf("reason %s with %v: the list gives it %v (listed: %v)", info.GetReason(), st.Code(), code, ok)
			}
			if c.resource != "" && (resource.GetResourceName() != c.resource || !strings.HasPrefix(resource.GetResourceType(), reason.Domain+"/")) {
				t.Errorf("ResourceInfo %v, want the name %s", resource, c.resource)
			}
			if !strings.Contains(st.Message(), c.message) || strings.Contains(st.Message(), "\n") {
				t.Errorf("message %q, want one line with %q", st.Message(), c.message)
			}
		})
	}

	restCases := []struct {
		name, method, path, token string
		body                      any
		status                    int
		reason                    string
	}{
		{"a paper that is not there", "GET", "/v1/papers/2401.99999", "", nil, http.StatusNotFound, reason.PaperNotFound},
		{"a filter of an unknown field", "GET", "/v1/papers?filter=" + url.QueryEscape("bogus = 1"), "", nil, http.StatusBadRequest, reason.InvalidFilter},
		{"a write without an admin token", "POST", "/v1/papers?paper_id=" + paperID(4), "", newPaper(4), http.StatusUnauthorized, reason.AdminTokenRequired},
		{"a body that is not JSON", "POST", "/v1/papers?paper_id=" + paperID(4), adminToken, "{", http.StatusBadRequest, reason.InvalidArgument},
		{"a route that is not there", "GET", "/v1/nowhere/at/all", "", nil, http.StatusNotFound, reason.NotFound},
		{"a subscription link that is not there", "POST", "/v1/subscriptions:confirm", "", map[string]any{"token": "made-up"}, http.StatusNotFound, reason.TokenUnknown},
	}
	for _, c := range restCases {
		t.Run("REST/"+c.name, func(t *testing.T) {
			r := ts.rest(t, c.method, c.path, c.token, c.body)
			if r.Status != c.status {
				t.Fatalf("HTTP %d %s, want %d", r.Status, r.Raw, c.status)
			}
			details, _ := r.Body["details"].([]any)
			var why, domain string
			for _, d := range details {
				m, _ := d.(map[string]any)
				if m["@type"] == "type.googleapis.com/google.rpc.ErrorInfo" {
					why, _ = m["reason"].(string)
					domain, _ = m["domain"].(string)
				}
			}
			if why != c.reason || domain != reason.Domain {
				t.Errorf("ErrorInfo reason %q domain %q in %s, want %s, %s", why, domain, r.Raw, c.reason, reason.Domain)
			}
			if code, ok := known[why]; !ok || int(code) != int(r.Body["code"].(float64)) {
				t.Errorf("reason %q with code %v: not listed with that code", why, r.Body["code"])
			}
		})
	}
}
