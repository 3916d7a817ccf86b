package apierror

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/papercatalog/papers/auth"
	"github.com/papercatalog/papers/listing"
	"github.com/papercatalog/papers/reason"
	"github.com/papercatalog/papers/repository"
)

// details returns the status of err and its details by type.
func details(t *testing.T, err error) (*status.Status, *errdetails.ErrorInfo, *errdetails.ResourceInfo, *errdetails.BadRequest, *errdetails.RetryInfo) {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("%v is not a status", err)
	}
	var info *errdetails.ErrorInfo
	var res *errdetails.ResourceInfo
	var bad *errdetails.BadRequest
	var retry *errdetails.RetryInfo
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			info = d
		case *errdetails.ResourceInfo:
			res = d
		case *errdetails.BadRequest:
			bad = d
		case *errdetails.RetryInfo:
			retry = d
		}
	}
	if info == nil || info.GetDomain() != reason.Domain {
		t.Fatalf("%v: no ErrorInfo of domain %s (%v)", err, reason.Domain, info)
	}
	return st, info, res, bad, retry
}

func TestStatusMapsEachKindOfError(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := context.Background()

	st, info, res, _, _ := details(t, Status(ctx, log, "GetPaper", fmt.Errorf("read: %w", repository.ErrNotFound)))
	if st.Code() != codes.NotFound || info.GetReason() != reason.PaperNotFound || res.GetResourceType() != reason.Domain+"/Paper" {
		t.Errorf("not found paper: %v %v %v", st, info, res)
	}
	_, info, res, _, _ = details(t, Status(ctx, log, "GetSubscription", &Error{Code: codes.NotFound, Message: "gone", Resource: "subscriptions/x"}))
	if info.GetReason() != reason.SubscriptionNotFound || res.GetResourceName() != "subscriptions/x" {
		t.Errorf("not found subscription: %v %v", info, res)
	}

	var v Violations
	v.Add("filter", "bad %q", "x")
	v.Add("page_size", "must not be negative")
	v.Add("view", "unknown")
	st, info, _, bad, _ := details(t, Status(ctx, log, "ListPapers", v.Err()))
	if st.Code() != codes.InvalidArgument || st.Message() != `filter: bad "x" (and 2 more violations)` ||
		info.GetReason() != reason.InvalidFilter || len(bad.GetFieldViolations()) != 3 {
		t.Errorf("violations: %v %v %v", st, info, bad)
	}
	if v.First() != `filter: bad "x"` || (Violations{}).Err() != nil || (Violations{}).First() != "" {
		t.Errorf("First/Err of violations: %q", v.First())
	}

	st, info, _, _, retry := details(t, Status(ctx, log, "UpvotePaper", &auth.LimitError{Wait: 1500 * time.Millisecond}))
	if st.Code() != codes.ResourceExhausted || info.GetReason() != reason.RateLimited || retry.GetRetryDelay().AsDuration() != 2*time.Second {
		t.Errorf("rate limit: %v %v %v", st, info, retry)
	}

	st, info, _, bad, _ = details(t, Status(ctx, log, "ListPapers", fmt.Errorf("%w: bad mac", listing.ErrInvalidToken)))
	if st.Code() != codes.InvalidArgument || info.GetReason() != reason.InvalidPageToken || bad.GetFieldViolations()[0].GetField() != "page_token" {
		t.Errorf("page token: %v %v %v", st, info, bad)
	}

	st, info, _, _, _ = details(t, Status(ctx, log, "UpdatePaper", repository.ErrConflict))
	if st.Code() != codes.Aborted || info.GetReason() != reason.ConcurrentUpdate {
		t.Errorf("conflict: %v %v", st, info)
	}

	// An error not meant for callers is hidden behind "internal error".
	st, info, _, _, _ = details(t, Status(ctx, log, "GetPaper", errors.New("secret dsn mongodb://u:p@h")))
	if st.Code() != codes.Internal || st.Message() != "internal error" || info.GetReason() != reason.Internal {
		t.Errorf("internal: %v %v", st, info)
	}

	// Invalid UTF-8 in a message (a quoted input) is replaced, so the
	// gateway can encode it.
	st, _, _, _, _ = details(t, Status(ctx, log, "GetPaper", Errorf(codes.InvalidArgument, "bad name %s", "\xff")))
	if st.Message() != "bad name \uFFFD" {
		t.Errorf("invalid UTF-8 kept: %q", st.Message())
	}
	if Status(ctx, log, "GetPaper", nil) != nil {
		t.Error("nil error became a status")
	}
}

func TestExplainAddsAReasonOnlyWhenMissing(t *testing.T) {
	t.Parallel()
	_, info, _, _, _ := details(t, Explain(status.Error(codes.Unavailable, "starting")))
	if info.GetReason() != reason.ServerStarting {
		t.Errorf("bare UNAVAILABLE: %v", info)
	}
	made := Status(context.Background(), slog.Default(), "CreatePaper", repository.ErrAlreadyExists)
	_, info, _, _, _ = details(t, Explain(made))
	if info.GetReason() != reason.PaperAlreadyExists {
		t.Errorf("a status with a reason changed: %v", info)
	}
	if Explain(nil) != nil {
		t.Error("nil became a status")
	}
}
