package service

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

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	subscriptionv1 "github.com/papercatalog/papers/gen/papers/subscription/v1"

	"github.com/papercatalog/papers/auth"
	"github.com/papercatalog/papers/repository"
	"github.com/papercatalog/papers/search"
)

// Domain is the google.rpc.ErrorInfo domain of every error paperd returns: the
// service name its resource types are named under (papers.example/Paper).
const Domain = "papers.example"

// The google.rpc.ErrorInfo reasons of paperd's errors: stable names a program
// can act on. README.md ("Errors") lists them; Reasons is the list.
const (
	ReasonInvalidFilter        = "INVALID_FILTER"
	ReasonInvalidOrderBy       = "INVALID_ORDER_BY"
	ReasonInvalidPageToken     = "INVALID_PAGE_TOKEN"
	ReasonInvalidUpdateMask    = "INVALID_UPDATE_MASK"
	ReasonInvalidQuery         = "INVALID_QUERY"
	ReasonInvalidArgument      = "INVALID_ARGUMENT"
	ReasonPaperNotFound        = "PAPER_NOT_FOUND"
	ReasonSubscriptionNotFound = "SUBSCRIPTION_NOT_FOUND"
	ReasonTokenUnknown         = "TOKEN_UNKNOWN"
	ReasonNotFound             = "NOT_FOUND"
	ReasonPaperAlreadyExists   = "PAPER_ALREADY_EXISTS"
	ReasonAlreadyExists        = "ALREADY_EXISTS"
	ReasonEtagMismatch         = "ETAG_MISMATCH"
	ReasonConcurrentUpdate     = "CONCURRENT_UPDATE"
	ReasonAdminTokenRequired   = "ADMIN_TOKEN_REQUIRED" //nolint:gosec // a reason, not a credential
	ReasonAdminTokenInvalid    = "ADMIN_TOKEN_INVALID"
	ReasonUserTokenRequired    = "USER_TOKEN_REQUIRED"      //nolint:gosec // a reason, not a credential
	ReasonUserTokenInvalid     = "USER_TOKEN_INVALID"       //nolint:gosec // a reason, not a credential
	ReasonUserTokensOff        = "USER_TOKENS_NOT_ACCEPTED" //nolint:gosec // a reason, not a credential
	ReasonManageTokenMismatch  = "MANAGE_TOKEN_MISMATCH"
	ReasonRateLimited          = "RATE_LIMITED"
	ReasonSearchBusy           = "SEARCH_BUSY"
	ReasonRequestTooLarge      = "REQUEST_TOO_LARGE"
	ReasonServerStarting       = "SERVER_STARTING"
	ReasonShuttingDown         = "SHUTTING_DOWN"
	ReasonIndexRebuilding      = "INDEX_REBUILDING"
	ReasonDatabaseUnavailable  = "DATABASE_UNAVAILABLE"
	ReasonMailUnavailable      = "MAIL_UNAVAILABLE"
	ReasonDeadlineExceeded     = "DEADLINE_EXCEEDED"
	ReasonCanceled             = "CANCELLED"
	ReasonUnimplemented        = "UNIMPLEMENTED"
	ReasonInternal             = "INTERNAL"
)

// Reason describes one google.rpc.ErrorInfo reason.
type Reason struct {
	Reason string
	Code   codes.Code
	When   string
}

// Reasons is every reason an error of paperd carries, with its code and when
// it is given; README.md shows the same table.
var Reasons = []Reason{
	{ReasonInvalidFilter, codes.InvalidArgument, "`filter` is not a valid AIP-160 filter of the known fields"},
	{ReasonInvalidOrderBy, codes.InvalidArgument, "`order_by` names an unknown field or is malformed"},
	{ReasonInvalidPageToken, codes.InvalidArgument, "`page_token` is not one this server gave for the same request"},
	{ReasonInvalidUpdateMask, codes.InvalidArgument, "`update_mask` names a field that cannot be updated"},
	{ReasonInvalidQuery, codes.InvalidArgument, "a search `query` is malformed or past a limit of its cost"},
	{ReasonInvalidArgument, codes.InvalidArgument, "any other invalid field (BadRequest names it), or a request that cannot be decoded"},
	{ReasonPaperNotFound, codes.NotFound, "no such paper (ResourceInfo names it)"},
	{ReasonSubscriptionNotFound, codes.NotFound, "no such subscription (ResourceInfo names it)"},
	{ReasonTokenUnknown, codes.NotFound, "a confirmation, unsubscribe or manage token (link) is unknown, used or expired"},
	{ReasonNotFound, codes.NotFound, "no such REST route"},
	{ReasonPaperAlreadyExists, codes.AlreadyExists, "CreatePaper of a paper that exists"},
	{ReasonAlreadyExists, codes.AlreadyExists, "any other resource that exists already"},
	{ReasonEtagMismatch, codes.Aborted, "the `etag` sent is stale: read the resource again"},
	{ReasonConcurrentUpdate, codes.Aborted, "the resource changed concurrently: read it again and retry"},
	{ReasonAdminTokenRequired, codes.Unauthenticated, "the call needs an admin token (`authorization: Bearer <token>`)"},
	{ReasonAdminTokenInvalid, codes.Unauthenticated, "the admin token is not one of the server's"},
	{ReasonUserTokenRequired, codes.Unauthenticated, "the call needs a user token (a JWT)"},
	{ReasonUserTokenInvalid, codes.Unauthenticated, "the user token is expired, badly signed or has no usable `sub`"},
	{ReasonUserTokensOff, codes.Unauthenticated, "the server accepts no user tokens (no JWT secret or JWKS configured)"},
	{ReasonManageTokenMismatch, codes.PermissionDenied, "the manage token belongs to another subscription"},
	{ReasonRateLimited, codes.ResourceExhausted, "past the caller's rate limit (RetryInfo and Retry-After say when to retry)"},
	{ReasonSearchBusy, codes.ResourceExhausted, "too many searches at once (RetryInfo says when to retry)"},
	{ReasonRequestTooLarge, codes.ResourceExhausted, "a line of a REST import is longer than the limit (HTTP 413, not 429)"},
	{ReasonServerStarting, codes.Unavailable, "the server has not opened its database yet (retry-after)"},
	{ReasonShuttingDown, codes.Unavailable, "the server is shutting down"},
	{ReasonIndexRebuilding, codes.Unavailable, "the search index is being rebuilt"},
	{ReasonDatabaseUnavailable, codes.Unavailable, "the database does not answer"},
	{ReasonMailUnavailable, codes.Unavailable, "a mail could not be sent"},
	{ReasonDeadlineExceeded, codes.DeadlineExceeded, "the call's deadline passed"},
	{ReasonCanceled, codes.Canceled, "the caller canceled the call"},
	{ReasonUnimplemented, codes.Unimplemented, "no such method, or an HTTP method a route does not take"},
	{ReasonInternal, codes.Internal, "a bug or an unexpected failure (logged in full; the message says no more)"},
}

// Error is an error whose message is safe to show to callers.
type Error struct {
	Code    codes.Code
	Message string
	// Reason is the google.rpc.ErrorInfo reason (one of Reasons); when empty,
	// toStatus picks one from the code, the violations and the method.
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

func errorf(code codes.Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// violations collects field violations of one request.
type violations []*errdetails.BadRequest_FieldViolation

func (v *violations) add(field, format string, args ...any) {
	*v = append(*v, &errdetails.BadRequest_FieldViolation{Field: field, Description: fmt.Sprintf(format, args...)})
}

// err returns nil when there are no violations, or an INVALID_ARGUMENT error that
// carries them all.
func (v violations) err() error {
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

// toStatus is the one place where errors become gRPC statuses. Repository errors
// map to their codes; errors whose text is not meant for callers become INTERNAL
// "internal error" and are logged in full.
func toStatus(ctx context.Context, log *slog.Logger, method string, err error) error {
	var e *Error
	var unauthenticated *auth.UnauthenticatedError
	var limited *auth.LimitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &unauthenticated):
		return toStatus(ctx, log, method, &Error{Code: codes.Unauthenticated, Reason: unauthenticated.Reason, Message: unauthenticated.Message})
	case errors.As(err, &limited):
		return toStatus(ctx, log, method, &Error{Code: codes.ResourceExhausted, Reason: ReasonRateLimited, Message: limited.Error(), RetryAfter: limited.Wait})
	case errors.As(err, &e):
		// Messages may quote the caller's input; a status must be UTF-8 (the
		// gateway cannot encode it otherwise, and answers 500).
		st := status.New(e.Code, strings.ToValidUTF8(e.Message, "\uFFFD"))
		reason := e.Reason
		if reason == "" {
			reason = reasonOf(e.Code, method, e.Violations)
		}
		st = withDetails(st, &errdetails.ErrorInfo{Reason: reason, Domain: Domain})
		if e.Code == codes.NotFound {
			if typ := resourceType(method, reason); typ != "" {
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
		return toStatus(ctx, log, method, violations{{Field: "query", Description: err.Error()}}.err())
	case errors.Is(err, search.ErrBusy):
		return toStatus(ctx, log, method, &Error{Code: codes.ResourceExhausted, Reason: ReasonSearchBusy, Message: err.Error(), RetryAfter: search.RetryAfter})
	case errors.Is(err, repository.ErrNotFound):
		return toStatus(ctx, log, method, &Error{Code: codes.NotFound, Message: "not found"})
	case errors.Is(err, repository.ErrAlreadyExists):
		return toStatus(ctx, log, method, &Error{Code: codes.AlreadyExists, Message: "already exists"})
	case errors.Is(err, repository.ErrConflict):
		return toStatus(ctx, log, method, &Error{Code: codes.Aborted, Reason: ReasonConcurrentUpdate, Message: "the resource changed concurrently; read it again and retry"})
	case ctx.Err() != nil:
		// The caller gave up (or its deadline passed) while the call was waiting
		// on the database; that is not the database's fault.
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return toStatus(ctx, log, method, &Error{Code: codes.DeadlineExceeded, Message: "deadline exceeded"})
		}
		return toStatus(ctx, log, method, &Error{Code: codes.Canceled, Message: "canceled"})
	case errors.Is(err, repository.ErrUnavailable):
		log.WarnContext(ctx, "database unavailable", "method", method, "err", err)
		return toStatus(ctx, log, method, &Error{Code: codes.Unavailable, Reason: ReasonDatabaseUnavailable, Message: "database unavailable; retry later"})
	case errors.Is(err, context.DeadlineExceeded):
		return toStatus(ctx, log, method, &Error{Code: codes.DeadlineExceeded, Message: "deadline exceeded"})
	case errors.Is(err, context.Canceled):
		return toStatus(ctx, log, method, &Error{Code: codes.Canceled, Message: "canceled"})
	}
	if st, ok := status.FromError(err); ok {
		// Already a status (a handler's, passed on by an interceptor): it only
		// lacks its reason if something outside this table made it.
		return Explain(st.Err())
	}
	log.ErrorContext(ctx, "internal error", "method", method, "err", err)
	return toStatus(ctx, log, method, &Error{Code: codes.Internal, Message: "internal error"})
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
				return ReasonInvalidFilter
			case field == "order_by":
				return ReasonInvalidOrderBy
			case field == "page_token":
				return ReasonInvalidPageToken
			case field == "update_mask":
				return ReasonInvalidUpdateMask
			case field == "query" || strings.HasSuffix(field, ".query"):
				return ReasonInvalidQuery
			}
		}
		return ReasonInvalidArgument
	case codes.NotFound:
		switch resourceType(method, "") {
		case paperType:
			return ReasonPaperNotFound
		case subscriptionType:
			return ReasonSubscriptionNotFound
		}
		return ReasonNotFound
	case codes.AlreadyExists:
		if resourceType(method, "") == paperType {
			return ReasonPaperAlreadyExists
		}
		return ReasonAlreadyExists
	case codes.Aborted:
		return ReasonConcurrentUpdate
	case codes.Unauthenticated:
		return ReasonAdminTokenRequired
	case codes.PermissionDenied:
		return ReasonManageTokenMismatch
	case codes.ResourceExhausted:
		return ReasonRateLimited
	case codes.Unavailable:
		if strings.Contains(method, "Subscri") || strings.Contains(method, "ManageLink") {
			return ReasonMailUnavailable
		}
		return ReasonShuttingDown
	}
	return codeReason(code)
}

// The resource types of the API (AIP-123), as the protos name them.
const (
	paperType        = Domain + "/Paper"
	subscriptionType = Domain + "/Subscription"
)

// resourceType is the type of the resource a call of method is about, for a
// NOT_FOUND with reason; "" when it is about none or about a token.
func resourceType(method, reason string) string {
	switch {
	case reason == ReasonTokenUnknown || reason == ReasonNotFound:
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
// each of them one of Reasons.
func codeReason(code codes.Code) string {
	switch code {
	case codes.InvalidArgument, codes.OutOfRange, codes.FailedPrecondition:
		return ReasonInvalidArgument
	case codes.NotFound:
		return ReasonNotFound
	case codes.AlreadyExists:
		return ReasonAlreadyExists
	case codes.Aborted:
		return ReasonConcurrentUpdate
	case codes.ResourceExhausted:
		return ReasonRateLimited
	case codes.Unavailable:
		return ReasonServerStarting
	case codes.DeadlineExceeded:
		return ReasonDeadlineExceeded
	case codes.Canceled:
		return ReasonCanceled
	case codes.Unimplemented:
		return ReasonUnimplemented
	case codes.Unauthenticated:
		return ReasonAdminTokenRequired
	case codes.PermissionDenied:
		return ReasonManageTokenMismatch
	}
	return ReasonInternal
}

// Explain returns err as a status that carries a google.rpc.ErrorInfo, for
// errors made outside the services (the gateway's, the server's interceptors):
// a status with an ErrorInfo as it is, one without with an ErrorInfo whose
// reason follows from its code, an *Error as toStatus makes it. nil stays nil.
func Explain(err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return toStatus(context.Background(), slog.Default(), "", e)
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
	return withDetails(st, &errdetails.ErrorInfo{Reason: codeReason(st.Code()), Domain: Domain}).Err()
}

// NameResource fills in the resource name of a NOT_FOUND status err that names
// its resource type but not the resource, from the request req (its name, or
// its paper's or subscription's name). Other errors are returned as they are.
func NameResource(err error, req any) error {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.NotFound {
		return err
	}
	name := ""
	switch r := req.(type) {
	case interface{ GetName() string }:
		name = r.GetName()
	case interface{ GetPaper() *catalogv1.Paper }:
		name = r.GetPaper().GetName()
	case interface {
		GetSubscription() *subscriptionv1.Subscription
	}:
		name = r.GetSubscription().GetName()
	}
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
