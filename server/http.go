package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"runtime/debug"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/papercatalog/papers/gen/openapi"
)

func (s *Server) routes(gw, streamGW http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/v1/", limitBody(gw))
	// The import streams newline-delimited JSON of any length; the gRPC server
	// limits each message to MaxRequestBytes.
	mux.Handle("POST /v1/papers:import", longBody(streamGW))
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openapi.JSON)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "alive"})
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	pages := http.NewServeMux()
	s.pageRoutes(pages)
	cop := http.NewCrossOriginProtection()
	for _, p := range []string{"/subscriptions/confirm", "/subscriptions/manage", "/unsubscribe"} {
		mux.Handle(p, pageHeaders(cop.Handler(limitBody(pages))))
	}
	mux.Handle("GET /{$}", pageHeaders(http.HandlerFunc(s.home)))
	mux.Handle("POST /subscribe", pageHeaders(cop.Handler(limitBody(http.HandlerFunc(s.subscribe)))))
	return s.recoverHTTP(mux)
}

// longBody lifts the server's read deadline for a request whose body may take
// long to arrive (a streamed import).
func longBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
		next.ServeHTTP(w, r)
	})
}

// readyz answers 200 when the read model is loaded and the database answers a ping.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if !s.ready.Load() || !s.model.Loaded() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": "starting or stopping"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.db.Ping(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": "database unreachable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "papers": s.model.Len()})
}

// limitBody refuses request bodies over MaxRequestBytes with 413. Bodies are small,
// so they are read here in full; the gateway then reads them from memory.
func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > MaxRequestBytes {
			writeError(w, http.StatusRequestEntityTooLarge, codes.ResourceExhausted, "request body is larger than 1 MiB")
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRequestBytes))
			var tooLarge *http.MaxBytesError
			switch {
			case errors.As(err, &tooLarge):
				writeError(w, http.StatusRequestEntityTooLarge, codes.ResourceExhausted, "request body is larger than 1 MiB")
				return
			case err != nil:
				writeError(w, http.StatusBadRequest, codes.InvalidArgument, "could not read the request body")
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) recoverHTTP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler { //nolint:errorlint // sentinel value, compared as net/http does
					panic(v)
				}
				s.log.ErrorContext(r.Context(), "panic in HTTP handler", "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				writeError(w, http.StatusInternalServerError, codes.Internal, "internal error")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// writeError writes an error in the shape the gateway uses (google.rpc.Status as
// JSON), so REST callers see one error format.
func writeError(w http.ResponseWriter, status int, code codes.Code, msg string) {
	writeJSON(w, status, map[string]any{"code": code, "message": msg, "details": []any{}})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
