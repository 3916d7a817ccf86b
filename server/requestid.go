package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"

	middleware "github.com/grpc-ecosystem/go-grpc-middleware/v2"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// Every call has a request id: the caller's X-Request-Id (x-request-id
// metadata over gRPC) when it is a sane token, else a new one (the trace id when
// tracing is on). It is sent back in the same header and added to every log
// line written for the call.
const requestIDHeader = "x-request-id"

type requestIDKey struct{}

// requestID returns the request id of the call ctx belongs to, or "".
func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// newRequestID keeps a caller's id of up to 64 letters, digits, dots, dashes
// and underscores; anything else (which could forge log lines) is replaced.
func newRequestID(ctx context.Context, given string) string {
	ok := given != "" && len(given) <= 64
	for _, c := range []byte(given) {
		ok = ok && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_')
	}
	if ok {
		return given
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		return sc.TraceID().String()
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// withRequestID gives each HTTP request its id.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := newRequestID(r.Context(), r.Header.Get(requestIDHeader))
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

func grpcRequestID(ctx context.Context) (context.Context, string) {
	given := ""
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get(requestIDHeader); len(v) > 0 {
			given = v[0]
		}
	}
	id := newRequestID(ctx, given)
	return context.WithValue(ctx, requestIDKey{}, id), id
}

func requestIDUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	ctx, id := grpcRequestID(ctx)
	_ = grpc.SetHeader(ctx, metadata.Pairs(requestIDHeader, id))
	return next(ctx, req)
}

func requestIDStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, next grpc.StreamHandler) error {
	ctx, id := grpcRequestID(ss.Context())
	_ = ss.SetHeader(metadata.Pairs(requestIDHeader, id))
	wrapped := middleware.WrapServerStream(ss)
	wrapped.WrappedContext = ctx
	return next(srv, wrapped)
}

// contextHandler adds the call's request id, and its trace id when it is
// traced, to every record logged with the call's context.
type contextHandler struct{ slog.Handler }

func (h contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if ctx != nil {
		if id := requestID(ctx); id != "" {
			r.AddAttrs(slog.String("request_id", id))
		}
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
			r.AddAttrs(slog.String("trace_id", sc.TraceID().String()))
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h contextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return contextHandler{h.Handler.WithAttrs(attrs)}
}

func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{h.Handler.WithGroup(name)}
}
