package server

import (
	"context"
	"net/http"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are paperd's Prometheus series, served at /metrics.
type metrics struct {
	reg  *prometheus.Registry
	grpc *grpcprom.ServerMetrics
	// HTTP requests by route (the gateway's path template for /v1, else the
	// page's pattern), method and status code.
	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
}

// latencyBuckets are the histogram buckets of request latencies, in seconds.
var latencyBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// newMetrics registers the series of s: requests (gRPC through
// go-grpc-middleware's provider, HTTP through promhttp), the read model, the
// search index, imports, digests and the MongoDB connection pool, and the Go
// runtime's and the process's own.
func newMetrics(s *Server) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		grpc: grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram(
			grpcprom.WithHistogramBuckets(latencyBuckets))),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paperd_http_requests_total", Help: "HTTP requests by route, method and status code.",
		}, []string{"route", "method", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "paperd_http_request_duration_seconds", Help: "HTTP request latency by route, method and status code.",
			Buckets: latencyBuckets,
		}, []string{"route", "method", "code"}),
	}
	// Until the database is open, the state these read is not there yet: they
	// report 0.
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 {
			if !s.opened.Load() {
				return 0
			}
			return f()
		})
	}
	// The services exist once opened: counter reads them only then.
	counter := func(name, help string, labels prometheus.Labels, f func() int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels},
			func() float64 {
				if !s.opened.Load() {
					return 0
				}
				return float64(f())
			})
	}
	const importHelp = "Import records by outcome."
	const digestHelp = "Digest deliveries by outcome (skipped: not due, nothing matched, or another sender had it)."
	const schedulerHelp = "Rounds of the digest scheduler, by whether this replica held the lease (and sent what was due) or left them to another."
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.grpc, m.httpRequests, m.httpDuration,
		gauge("paperd_read_model_papers", "Papers in the in-memory read model.", func() float64 { return float64(s.model.Len()) }),
		gauge("paperd_read_model_lag_seconds", "Time since the read model was last brought up to date with the database.", func() float64 {
			if t := s.syncer.Synced(); !t.IsZero() {
				return s.clock().Sub(t).Seconds()
			}
			return 0
		}),
		gauge("paperd_search_index_documents", "Papers in the search index.", func() float64 {
			n, err := s.index.DocCount()
			if err != nil {
				return -1
			}
			return float64(n)
		}),
		counter("paperd_import_records_total", importHelp, prometheus.Labels{"outcome": "created"}, func() int64 { return s.catalog.Stats.ImportCreated.Load() }),
		counter("paperd_import_records_total", importHelp, prometheus.Labels{"outcome": "updated"}, func() int64 { return s.catalog.Stats.ImportUpdated.Load() }),
		counter("paperd_import_records_total", importHelp, prometheus.Labels{"outcome": "unchanged"}, func() int64 { return s.catalog.Stats.ImportUnchanged.Load() }),
		counter("paperd_import_records_total", importHelp, prometheus.Labels{"outcome": "rejected"}, func() int64 { return s.catalog.Stats.ImportRejected.Load() }),
		counter("paperd_digest_deliveries_total", digestHelp, prometheus.Labels{"outcome": "sent"}, func() int64 { return s.digests.Stats.Sent.Load() }),
		counter("paperd_digest_deliveries_total", digestHelp, prometheus.Labels{"outcome": "skipped"}, func() int64 { return s.digests.Stats.Skipped.Load() }),
		counter("paperd_digest_deliveries_total", digestHelp, prometheus.Labels{"outcome": "failed"}, func() int64 { return s.digests.Stats.Failed.Load() }),
		counter("paperd_digest_scheduler_rounds_total", schedulerHelp, prometheus.Labels{"lease": "held"}, func() int64 { return s.digests.Stats.SchedulerLeading.Load() }),
		counter("paperd_digest_scheduler_rounds_total", schedulerHelp, prometheus.Labels{"lease": "elsewhere"}, func() int64 { return s.digests.Stats.SchedulerFollowing.Load() }),
		gauge("paperd_mongodb_pool_connections_open", "Connections to MongoDB open in the driver's pool.", func() float64 {
			open, _ := s.db.PoolConnections()
			return float64(open)
		}),
		gauge("paperd_mongodb_pool_connections_in_use", "Connections to MongoDB checked out of the driver's pool.", func() float64 {
			_, inUse := s.db.PoolConnections()
			return float64(inUse)
		}),
	)
	return m
}

// handler serves the series in Prometheus' text format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// routeKey holds, in a request's context, where the gateway writes the path
// template of the call it routed to.
type routeKey struct{}

// instrument counts and times, with promhttp, the requests next serves under
// route; for the gateway the route is refined to the called path template (see
// gatewayRoute).
func (m *metrics) instrument(route string, next http.Handler) http.Handler {
	byRoute := promhttp.WithLabelFromCtx("route", func(ctx context.Context) string {
		if name, ok := ctx.Value(routeKey{}).(*string); ok {
			return *name
		}
		return route
	})
	h := promhttp.InstrumentHandlerDuration(m.httpDuration, promhttp.InstrumentHandlerCounter(m.httpRequests, next, byRoute), byRoute)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := route
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), routeKey{}, &name)))
	})
}

// gatewayRoute is a gateway middleware: it names the route of a /v1 request by
// the path template it matched, such as /v1/{name=papers/*}.
func gatewayRoute(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		if p, ok := runtime.HTTPPattern(r.Context()); ok {
			if name, ok := r.Context().Value(routeKey{}).(*string); ok {
				*name = p.String()
			}
		}
		next(w, r, params)
	}
}
