package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"runtime/debug"
	"slices"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"

	"github.com/papercatalog/papers/gen/openapi"
	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	subscriptionv1 "github.com/papercatalog/papers/gen/papers/subscription/v1"
	"github.com/papercatalog/papers/service"
	"github.com/papercatalog/papers/site"
)

func (s *Server) routes(gw, streamGW http.Handler) http.Handler {
	mux := http.NewServeMux()
	// Every route is counted and timed under its pattern (the gateway's under
	// the path template of the call).
	handle := func(pattern string, h http.Handler) {
		mux.Handle(pattern, s.metrics.instrument(pattern, s.tracing.named(pattern, h)))
	}
	// The calls' own interceptors refuse them until the database is open and
	// give them their deadline (see admitUnary).
	handle("/v1/", s.cors(limitBody(gw)))
	// The import streams newline-delimited JSON of any length, each line at
	// most MaxRequestBytes. It has no deadline.
	handle("POST /v1/papers:import", s.cors(longBody(importLines(streamGW))))
	handle("GET /openapi.json", document(openapi.JSON)) // OpenAPI 3.0
	handle("GET /swagger.json", document(openapi.Swagger))
	handle("GET /healthz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "alive"})
	}))
	handle("GET /readyz", http.HandlerFunc(s.readyz))
	mux.Handle("GET /metrics", s.metrics.handler())
	pages := &site.Site{
		Catalog:        catalogv1.NewCatalogServiceClient(s.calls),
		Subscriptions:  subscriptionv1.NewSubscriptionServiceClient(s.calls),
		ByManageToken:  s.tokenLookup("ByManageToken", service.ManageTokenLookup, (*service.Subscriptions).ByManageToken),
		ByConfirmToken: s.tokenLookup("ByConfirmToken", service.ConfirmTokenLookup, (*service.Subscriptions).ByConfirmToken),
		Clock:          s.cfg.Clock,
		PublicURL:      s.publicURL(),
	}
	cop := http.NewCrossOriginProtection()
	for _, p := range pages.Routes() {
		handle(p.Pattern, site.Headers(s.whenOpened(cop.Handler(limitBody(withPeer(p.Handler))))))
	}
	return s.recoverHTTP(nosniff(mux))
}

// document serves a generated API document.
func document(doc []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
	})
}

// nosniff tells browsers to take every answer (JSON included) as the type it
// says it is.
func nosniff(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}

// whenOpened answers 503 until the server has opened its database; for the
// pages, which may answer without calling a service.
func (s *Server) whenOpened(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.opened.Load() {
			w.Header().Set("Retry-After", "5")
			writeError(w, http.StatusServiceUnavailable, codes.Unavailable, "starting: waiting for the database")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// cors lets browsers on the configured origins call the REST API: it answers
// preflight requests and marks answers as readable by the calling origin. With
// no origins configured it adds nothing, and browsers keep their same-origin
// rule.
func (s *Server) cors(next http.Handler) http.Handler {
	if len(s.cfg.CORSOrigins) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" || (!slices.Contains(s.cfg.CORSOrigins, "*") && !slices.Contains(s.cfg.CORSOrigins, origin)) {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Add("Vary", "Origin")
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Expose-Headers", "Retry-After")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, POST, PATCH, DELETE")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Grpc-Timeout, X-Manage-Token")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// longBody lifts the server's read deadline for a request whose body may take
// long to arrive (a streamed import).
func longBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
		next.ServeHTTP(w, r)
	})
}

// readyzPing bounds how long /readyz waits for the database to answer.
const readyzPing = 500 * time.Millisecond

// readyz answers 200 once the database has been opened and the read model
// loaded, until shutdown begins. A database lost later does not make paperd
// unready: reads are still served from the read model (writes fail with 503),
// and every replica shares the database, so taking them out of a load balancer
// would only stop the reads too. The answer says whether the database answers.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if !s.opened.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": "waiting for the database"})
		return
	}
	if !s.ready.Load() || !s.model.Loaded() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": "stopping"})
		return
	}
	// A probe gives up after a second or so: the answer comes well before,
	// whatever the database does.
	ctx, cancel := context.WithTimeout(r.Context(), readyzPing)
	defer cancel()
	db := "reachable"
	if err := s.db.Ping(ctx); err != nil {
		db = "unreachable"
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "papers": s.model.Len(), "database": db})
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

// withPeer gives the pages' calls into the services the client's address, as
// the gRPC server gives its calls, so that rate limits count each client apart.
func withPeer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := peer.NewContext(r.Context(), &peer.Peer{Addr: remoteAddr(r.RemoteAddr)})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// remoteAddr is an HTTP request's RemoteAddr as a net.Addr.
type remoteAddr string

func (a remoteAddr) Network() string { return "tcp" }
func (a remoteAddr) String() string  { return string(a) }

// tokenLookup is a lookup of the subscription a token belongs to (find, a
// method of the subscription service that is no RPC), admitted by the gate as
// name under policy, as an RPC would be.
func (s *Server) tokenLookup(name string, policy service.Policy,
	find func(*service.Subscriptions, context.Context, string) (*subscriptionv1.Subscription, error),
) func(context.Context, string) (*subscriptionv1.Subscription, error) {
	return func(ctx context.Context, tok string) (*subscriptionv1.Subscription, error) {
		ctx, err := s.gate.Load().Admit(ctx, name, policy, nil)
		if err != nil {
			return nil, err
		}
		return find(s.subscriptions, ctx, tok)
	}
}
