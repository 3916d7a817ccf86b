// Package apierror turns errors into the API's statuses (AIP-193): a code, a
// message safe to show, and the details clients act on (google.rpc.ErrorInfo
// with a reason of package reason, BadRequest field violations, ResourceInfo,
// RetryInfo). Handlers return engines' errors or an *Error; Status is the one
// table that maps them.
package apierror

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/papercatalog/papers/auth"
	"github.com/papercatalog/papers/check"
	"github.com/papercatalog/papers/listing"
	"github.com/papercatalog/papers/reason"
	"github.com/papercatalog/papers/repository"
	"github.com/papercatalog/papers/search"
)

// Error is an error whose message is safe to show to callers.
type Error struct {
	Code    codes.Code
	Message string
	// Reason is the google.rpc.ErrorInfo reason (one of reason.All); when empty,
	// Status picks one from the code, the violations and the method.
	Reason     string
	Violations []*errdetails.BadRequest_FieldViolation
	// Resource is the name of the resource a NOT_FOUND is about, for its
	// google.rpc.ResourceInfo; when empty, the request's name fills it in.
	Resource string
	// RetryAfter, if set, is sent as the retry-after response header (the
	// gateway's Retry-After) and as google.rpc.RetryInfo.
	RetryAfter time.Duration
}

func (e *Error) Error() string { return e.Message }

// Errorf is an *Error of code with a formatted message.
func Errorf(code codes.Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Violations collects the field violations of one request.
type Violations []*errdetails.BadRequest_FieldViolation

// Add adds a violation of field.
func (v *Violations) Add(field, format string, args ...any) {
	*v = append(*v, &errdetails.BadRequest_FieldViolation{Field: field, Description: fmt.Sprintf(format, args...)})
}

// Err returns nil when there are no violations, or an INVALID_ARGUMENT error that
// carries them all.
func (v Violations) Err() error {
	if len(v) == 0 {
		return nil
	}
	msg := v[0].GetField() + ": " + v[0].GetDescription()
	switch len(v) {
	case 1:
	case 2:
		msg += " (and 1 more violation)"
	default:
		msg += fmt.Sprintf(" (and %d more violations)", len(v)-1)
	}
	return &Error{Code: codes.InvalidArgument, Message: msg, Violations: v}
}

// Status is the one place where errors become gRPC statuses, for a call of
// method (its short name, e.g. "GetPaper"). Repository errors
// map to their codes; errors whose text is not meant for callers become INTERNAL
// "internal error" and are logged in full.
func Status(ctx context.Context, log *slog.Logger, method string, err error) error {
	var e *Error
	var unauthenticated *auth.UnauthenticatedError
	var limited *auth.LimitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &unauthenticated):
		return Status(ctx, log, method, &Error{Code: codes.Unauthenticated, Reason: unauthenticated.Reason, Message: unauthenticated.Message})
	case errors.As(err, &limited):
		return Status(ctx, log, method, &Error{Code: codes.ResourceExhausted, Reason: reason.RateLimited, Message: limited.Error(), RetryAfter: limited.Wait})
	case errors.As(err, &e):
		// Messages may quote the caller's input; a status must be UTF-8 (the
		// gateway cannot encode it otherwise, and answers 500).
		st := status.New(e.Code, strings.ToValidUTF8(e.Message, "\uFFFD"))
		why := e.Reason
		if why == "" {
			why = reasonOf(e.Code, method, e.Violations)
		}
		st = withDetails(st, &errdetails.ErrorInfo{Reason: why, Domain: reason.Domain})
		if e.Code == codes.NotFound {
			if typ := resourceType(method, why); typ != "" {
				st = withDetails(st, &errdetails.ResourceInfo{ResourceType: typ, ResourceName: e.Resource,
					Description: strings.ToValidUTF8(e.Message, "\uFFFD")})
			}
		}
		if len(e.Violations) > 0 {
			for _, v := range e.Violations {
				v.Field, v.Description = strings.ToValidUTF8(v.GetField(), "\uFFFD"), strings.ToValidUTF8(v.GetDescription(), "\uFFFD")
			}
			st = withDetails(st, &errdetails.BadRequest{FieldViolations: e.Violations})
		}
		if e.RetryAfter > 0 {
			secs := int64(e.RetryAfter.Seconds()) + 1
			_ = grpc.SetHeader(ctx, metadata.Pairs("retry-after", strconv.FormatInt(secs, 10)))
			st = withDetails(st, &errdetails.RetryInfo{RetryDelay: durationpb.New(time.Duration(secs) * time.Second)})
		}
		return st.Err()
	case errors.Is(err, search.ErrQuery):
		// A search went past a limit of its cost; the message names the limit.
		return Status(ctx, log, method, Violations{{Field: "query", Description: err.Error()}}.Err())
	case errors.Is(err, listing.ErrInvalidToken):
		return Status(ctx, log, method, Violations{{Field: "page_token", Description: listing.ErrInvalidToken.Error()}}.Err())
	case errors.Is(err, search.ErrBusy):
		return Status(ctx, log, method, &Error{Code: codes.ResourceExhausted, Reason: reason.SearchBusy, Message: err.Error(), RetryAfter: search.RetryAfter})
	case errors.Is(err, repository.ErrNotFound):
		return Status(ctx, log, method, &Error{Code: codes.NotFound, Message: "not found"})
	case errors.Is(err, repository.ErrAlreadyExists):
		return Status(ctx, log, method, &Error{Code: codes.AlreadyExists, Message: "already exists"})
	case errors.Is(err, repository.ErrConflict):
		return Status(ctx, log, method, &Error{Code: codes.Aborted, Reason: reason.ConcurrentUpdate, Message: "the resource changed concurrently; read it again and retry"})
	case ctx.Err() != nil:
		// The caller gave up (or its deadline passed) while the call was waiting
		// on the database; that is not the database's fault.
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return Status(ctx, log, method, &Error{Code: codes.DeadlineExceeded, Message: "deadline exceeded"})
		}
		return Status(ctx, log, method, &Error{Code: codes.Canceled, Message: "canceled"})
	case errors.Is(err, repository.ErrUnavailable):
		log.WarnContext(ctx, "database unavailable", "method", method, "err", err)
		return Status(ctx, log, method, &Error{Code: codes.Unavailable, Reason: reason.DatabaseUnavailable, Message: "database unavailable; retry later"})
	case errors.Is(err, context.DeadlineExceeded):
		return Status(ctx, log, method, &Error{Code: codes.DeadlineExceeded, Message: "deadline exceeded"})
	case errors.Is(err, context.Canceled):
		return Status(ctx, log, method, &Error{Code: codes.Canceled, Message: "canceled"})
	}
	if st, ok := status.FromError(err); ok {
		// Already a status (a handler's, passed on by an interceptor): it only
		// lacks its reason if something outside this table made it.
		return Explain(st.Err())
	}
	log.ErrorContext(ctx, "internal error", "method", method, "err", err)
	return Status(ctx, log, method, &Error{Code: codes.Internal, Message: "internal error"})
}

// withDetails is st with detail d added.
func withDetails(st *status.Status, d protoadapt.MessageV1) *status.Status {
	if withDetails, err := st.WithDetails(d); err == nil {
		return withDetails
	}
	return st
}

// reasonOf is the reason of an error of code that names none, for a call of
// method with violations.
func reasonOf(code codes.Code, method string, v []*errdetails.BadRequest_FieldViolation) string {
	switch code {
	case codes.InvalidArgument:
		if len(v) > 0 {
			switch field := v[0].GetField(); {
			case field == "filter":
				return reason.InvalidFilter
			case field == "order_by":
				return reason.InvalidOrderBy
			case field == "page_token":
				return reason.InvalidPageToken
			case field == "update_mask":
				return reason.InvalidUpdateMask
			case field == "query" || strings.HasSuffix(field, ".query"):
				return reason.InvalidQuery
			}
		}
		return reason.InvalidArgument
	case codes.NotFound:
		switch resourceType(method, "") {
		case paperType:
			return reason.PaperNotFound
		case subscriptionType:
			return reason.SubscriptionNotFound
		}
		return reason.NotFound
	case codes.AlreadyExists:
		if resourceType(method, "") == paperType {
			return reason.PaperAlreadyExists
		}
		return reason.AlreadyExists
	case codes.Aborted:
		return reason.ConcurrentUpdate
	case codes.Unauthenticated:
		return reason.AdminTokenRequired
	case codes.PermissionDenied:
		return reason.ManageTokenMismatch
	case codes.ResourceExhausted:
		return reason.RateLimited
	case codes.Unavailable:
		if strings.Contains(method, "Subscri") || strings.Contains(method, "ManageLink") {
			return reason.MailUnavailable
		}
		return reason.ShuttingDown
	}
	return codeReason(code)
}

// The resource types of the API (AIP-123), as the protos name them.
const (
	paperType        = reason.Domain + "/Paper"
	subscriptionType = reason.Domain + "/Subscription"
)

// resourceType is the type of the resource a call of method is about, for a
// NOT_FOUND with reason; "" when it is about none or about a token.
func resourceType(method, why string) string {
	switch {
	case why == reason.TokenUnknown || why == reason.NotFound:
		return ""
	case strings.Contains(method, "Paper"):
		return paperType
	case strings.Contains(method, "Subscription") || strings.Contains(method, "Digest"):
		return subscriptionType
	}
	return ""
}

// codeReason is the reason of a status of code made outside this package's
// table (the gateway's, a transport's): the code's name in UPPER_SNAKE_CASE,
// each of them one of reason.All.
func codeReason(code codes.Code) string {
	switch code {
	case codes.InvalidArgument, codes.OutOfRange, codes.FailedPrecondition:
		return reason.InvalidArgument
	case codes.NotFound:
		return reason.NotFound
	case codes.AlreadyExists:
		return reason.AlreadyExists
	case codes.Aborted:
		return reason.ConcurrentUpdate
	case codes.ResourceExhausted:
		return reason.RateLimited
	case codes.Unavailable:
		return reason.ServerStarting
	case codes.DeadlineExceeded:
		return reason.DeadlineExceeded
	case codes.Canceled:
		return reason.Canceled
	case codes.Unimplemented:
		return reason.Unimplemented
	case codes.Unauthenticated:
		return reason.AdminTokenRequired
	case codes.PermissionDenied:
		return reason.ManageTokenMismatch
	}
	return reason.Internal
}

// Explain returns err as a status that carries a google.rpc.ErrorInfo, for
// errors made outside the services (the gateway's, the server's interceptors):
// a status with an ErrorInfo as it is, one without with an ErrorInfo whose
// reason follows from its code, an *Error as Status makes it. nil stays nil.
func Explain(err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return Status(context.Background(), slog.Default(), "", e)
	}
	st := status.Convert(err)
	if st.Code() == codes.OK {
		return err
	}
	for _, d := range st.Details() {
		if _, ok := d.(*errdetails.ErrorInfo); ok {
			return err
		}
	}
	return withDetails(st, &errdetails.ErrorInfo{Reason: codeReason(st.Code()), Domain: reason.Domain}).Err()
}

// First returns the first violation as "field: description", or "".
func (v Violations) First() string {
	if len(v) == 0 {
		return ""
	}
	return v[0].GetField() + ": " + v[0].GetDescription()
}

// Merge adds the violations a check found.
func (v *Violations) Merge(found check.Violations) {
	for _, f := range found {
		v.Add(f.Field, "%s", f.Description)
	}
}
