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
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/papercatalog/papers/auth"
	"github.com/papercatalog/papers/repository"
	"github.com/papercatalog/papers/search"
)

// Error is an error whose message is safe to show to callers.
type Error struct {
	Code       codes.Code
	Message    string
	Violations []*errdetails.BadRequest_FieldViolation
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
	if len(v) > 1 {
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
		return toStatus(ctx, log, method, &Error{Code: codes.Unauthenticated, Message: unauthenticated.Message})
	case errors.As(err, &limited):
		return toStatus(ctx, log, method, &Error{Code: codes.ResourceExhausted, Message: limited.Error(), RetryAfter: limited.Wait})
	case errors.As(err, &e):
		// Messages may quote the caller's input; a status must be UTF-8 (the
		// gateway cannot encode it otherwise, and answers 500).
		st := status.New(e.Code, strings.ToValidUTF8(e.Message, "\uFFFD"))
		if len(e.Violations) > 0 {
			for _, v := range e.Violations {
				v.Field, v.Description = strings.ToValidUTF8(v.GetField(), "\uFFFD"), strings.ToValidUTF8(v.GetDescription(), "\uFFFD")
			}
			if withDetails, derr := st.WithDetails(&errdetails.BadRequest{FieldViolations: e.Violations}); derr == nil {
				st = withDetails
			}
		}
		if e.RetryAfter > 0 {
			secs := int64(e.RetryAfter.Seconds()) + 1
			_ = grpc.SetHeader(ctx, metadata.Pairs("retry-after", strconv.FormatInt(secs, 10)))
			if withDetails, derr := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(time.Duration(secs) * time.Second)}); derr == nil {
				st = withDetails
			}
		}
		return st.Err()
	case errors.Is(err, search.ErrQuery):
		// A search went past a limit of its cost; the message names the limit.
		return toStatus(ctx, log, method, violations{{Field: "query", Description: err.Error()}}.err())
	case errors.Is(err, search.ErrBusy):
		return toStatus(ctx, log, method, &Error{Code: codes.ResourceExhausted, Message: err.Error(), RetryAfter: search.RetryAfter})
	case errors.Is(err, repository.ErrNotFound):
		return status.Error(codes.NotFound, "not found")
	case errors.Is(err, repository.ErrAlreadyExists):
		return status.Error(codes.AlreadyExists, "already exists")
	case errors.Is(err, repository.ErrConflict):
		return status.Error(codes.Aborted, "the resource changed concurrently; read it again and retry")
	case ctx.Err() != nil:
		// The caller gave up (or its deadline passed) while the call was waiting
		// on the database; that is not the database's fault.
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return status.Error(codes.DeadlineExceeded, "deadline exceeded")
		}
		return status.Error(codes.Canceled, "canceled")
	case errors.Is(err, repository.ErrUnavailable):
		log.WarnContext(ctx, "database unavailable", "method", method, "err", err)
		return status.Error(codes.Unavailable, "database unavailable; retry later")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "canceled")
	}
	log.ErrorContext(ctx, "internal error", "method", method, "err", err)
	return status.Error(codes.Internal, "internal error")
}
