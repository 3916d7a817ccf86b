package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	subscriptionv1 "github.com/papercatalog/papers/gen/papers/subscription/v1"
)

// tracing sends spans to an OTLP collector: one trace per call, from the HTTP
// request through the gateway and the RPC to each MongoDB command. Without an
// endpoint it is off and costs nothing.
type tracing struct {
	provider   *sdktrace.TracerProvider
	propagator propagation.TextMapPropagator
	tracer     trace.Tracer
	methods    map[string]string // "POST /v1/papers" → "/papers.catalog.v1.CatalogService/CreatePaper"
}

// newTracing starts an exporter to endpoint (OTEL_EXPORTER_OTLP_ENDPOINT, a base
// URL such as http://collector:4318) with protocol http/protobuf (the default)
// or grpc. The SDK reads the other OTEL_ variables itself (headers, sampler,
// service name and resource attributes).
func newTracing(ctx context.Context, endpoint, protocol string, log *slog.Logger) (*tracing, error) {
	if endpoint == "" {
		return nil, nil
	}
	// The SDK reports failed exports through a process-wide handler.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("OpenTelemetry", "err", err) }))
	var exp sdktrace.SpanExporter
	var err error
	switch protocol {
	case "", "http/protobuf":
		exp, err = otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(strings.TrimSuffix(endpoint, "/")+"/v1/traces"))
	case "grpc":
		exp, err = otlptracegrpc.New(ctx, otlptracegrpc.WithEndpointURL(endpoint))
	default:
		return nil, fmt.Errorf("OTLP protocol %q: use http/protobuf or grpc", protocol)
	}
	if err != nil {
		return nil, fmt.Errorf("OTLP exporter: %w", err)
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(semconv.ServiceName("paperd")))
	if err != nil {
		return nil, err
	}
	// resource.Default reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES;
	// those win over the name paperd.
	if env, err := resource.New(ctx, resource.WithFromEnv()); err == nil {
		if merged, err := resource.Merge(res, env); err == nil {
			res = merged
		}
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return &tracing{
		provider:   tp,
		propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		tracer:     tp.Tracer("github.com/papercatalog/papers/server"),
		methods:    restMethods(),
	}, nil
}

// shutdown sends the spans still buffered.
func (t *tracing) shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.provider.Shutdown(ctx)
}

// loopbackOptions continue a streamed REST call's trace over the loopback
// connection to the gRPC server.
func (t *tracing) loopbackOptions() []grpc.DialOption {
	if t == nil {
		return nil
	}
	return []grpc.DialOption{grpc.WithStatsHandler(otelgrpc.NewClientHandler(
		otelgrpc.WithTracerProvider(t.provider), otelgrpc.WithPropagators(t.propagator)))}
}

// grpcOptions traces the gRPC server's calls.
func (t *tracing) grpcOptions() []grpc.ServerOption {
	if t == nil {
		return nil
	}
	return []grpc.ServerOption{grpc.StatsHandler(otelgrpc.NewServerHandler(
		otelgrpc.WithTracerProvider(t.provider), otelgrpc.WithPropagators(t.propagator)))}
}

// spanNameKey holds, in a request's context, the name its HTTP span gets once
// the request is routed.
type spanNameKey struct{}

func setSpanName(ctx context.Context, name string) {
	if n, ok := ctx.Value(spanNameKey{}).(*string); ok {
		*n = name
	}
	// otelhttp renames the span at its end only if the request it passed on
	// was routed by a ServeMux itself; middleware in between hides that.
	trace.SpanFromContext(ctx).SetName(name)
}

// http traces the HTTP server's requests, named by their route.
func (t *tracing) http(next http.Handler) http.Handler {
	if t == nil {
		return next
	}
	h := otelhttp.NewHandler(next, "http", otelhttp.WithTracerProvider(t.provider), otelhttp.WithPropagators(t.propagator),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			if n, ok := r.Context().Value(spanNameKey{}).(*string); ok && *n != "" {
				return *n
			}
			return r.Method
		}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var name string
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), spanNameKey{}, &name)))
	})
}

// named names the HTTP span after the route that serves it.
func (t *tracing) named(route string, next http.Handler) http.Handler {
	if t == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setSpanName(r.Context(), route)
		trace.SpanFromContext(r.Context()).SetAttributes(semconv.HTTPRoute(route))
		next.ServeHTTP(w, r)
	})
}

// gateway gives each REST call a span for the RPC it calls. The gateway calls
// the services in-process, so the gRPC server never sees these calls; the span
// carries the RPC's name and the attributes otelgrpc would set.
func (t *tracing) gateway(next runtime.HandlerFunc) runtime.HandlerFunc {
	if t == nil {
		return next
	}
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		method := ""
		if p, ok := runtime.HTTPPattern(r.Context()); ok {
			route := r.Method + " " + p.String()
			setSpanName(r.Context(), route)
			trace.SpanFromContext(r.Context()).SetAttributes(semconv.HTTPRoute(p.String()))
			method = t.methods[route]
		}
		if method == "" {
			next(w, r, params)
			return
		}
		service, name, _ := strings.Cut(strings.TrimPrefix(method, "/"), "/")
		ctx, span := t.tracer.Start(r.Context(), service+"/"+name, trace.WithSpanKind(trace.SpanKindInternal),
			trace.WithAttributes(semconv.RPCSystemGRPC, semconv.RPCService(service), semconv.RPCMethod(name),
				attribute.String("paperd.gateway", "in-process")))
		defer span.End()
		next(w, r.WithContext(ctx), params)
	}
}

// restMethods maps each REST route of the services (verb and path template, as
// the gateway's pattern prints it) to its gRPC method, from the google.api.http
// options in the descriptors.
func restMethods() map[string]string {
	out := map[string]string{}
	for _, name := range []string{catalogv1.CatalogService_ServiceDesc.ServiceName, subscriptionv1.SubscriptionService_ServiceDesc.ServiceName} {
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name))
		if err != nil {
			continue
		}
		methods := d.(protoreflect.ServiceDescriptor).Methods()
		for i := range methods.Len() {
			m := methods.Get(i)
			rule, _ := proto.GetExtension(m.Options(), annotations.E_Http).(*annotations.HttpRule)
			full := "/" + name + "/" + string(m.Name())
			for _, r := range append([]*annotations.HttpRule{rule}, rule.GetAdditionalBindings()...) {
				for verb, path := range map[string]string{"GET": r.GetGet(), "POST": r.GetPost(), "PATCH": r.GetPatch(),
					"PUT": r.GetPut(), "DELETE": r.GetDelete()} {
					if path != "" {
						out[verb+" "+path] = full
					}
				}
			}
		}
	}
	return out
}

// commandMonitor makes a client span of each MongoDB command, a child of the
// call that ran it.
func (t *tracing) commandMonitor() *event.CommandMonitor {
	if t == nil {
		return nil
	}
	var spans sync.Map // request id → trace.Span
	end := func(id int64, err error) {
		if s, ok := spans.LoadAndDelete(id); ok {
			span := s.(trace.Span)
			if err != nil {
				span.RecordError(err)
				span.SetStatus(codes.Error, err.Error())
			}
			span.End()
		}
	}
	return &event.CommandMonitor{
		Started: func(ctx context.Context, e *event.CommandStartedEvent) {
			if !trace.SpanContextFromContext(ctx).IsValid() {
				return // background work outside any call
			}
			coll := ""
			if v, err := e.Command.LookupErr(e.CommandName); err == nil {
				coll, _ = v.StringValueOK()
			}
			name := e.CommandName
			if coll != "" {
				name += " " + coll
			}
			_, span := t.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient),
				trace.WithAttributes(semconv.DBSystemNameMongoDB, semconv.DBOperationName(e.CommandName),
					semconv.DBCollectionName(coll), semconv.DBNamespace(e.DatabaseName)))
			spans.Store(e.RequestID, span)
		},
		Succeeded: func(_ context.Context, e *event.CommandSucceededEvent) { end(e.RequestID, nil) },
		Failed:    func(_ context.Context, e *event.CommandFailedEvent) { end(e.RequestID, e.Failure) },
	}
}
