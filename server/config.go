// Package server wires paperd together: the database (MongoDB or the embedded
// FerretDB), the read model, the gRPC server and the HTTP server with the REST
// gateway, health and readiness endpoints and the OpenAPI document.
package server

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/papercatalog/papers/auth"
	"github.com/papercatalog/papers/ingest"
	"github.com/papercatalog/papers/search"
)

// Config is paperd's configuration. Each setting comes from a flag, else from its
// environment variable, else from its default.
type Config struct {
	GRPCAddr        string
	HTTPAddr        string
	DataDir         string
	MongoURI        string
	MongoDatabase   string
	AdminTokens     []string
	SyncInterval    time.Duration
	ShutdownTimeout time.Duration
	LogFormat       string
	LogLevel        string
	JWT             auth.UsersConfig
	// Arxiv configures the built-in arXiv poller; it is off without categories.
	Arxiv ArxivConfig
	// PprofAddr, if set, is where Go's profiling handlers listen.
	PprofAddr string
	// SMTPURL is the mail server (smtp://…); empty writes mail to the outbox.
	SMTPURL string
	// PublicURL starts the links in mails; empty means the local HTTP address.
	PublicURL string
	// MailFrom is the sender of mails.
	MailFrom string
	// DeliveryClaimTimeout is how long a digest claimed by a sender that went
	// away waits before another sender takes it over (default 5m).
	DeliveryClaimTimeout time.Duration
	// DigestInterval is how often the scheduler looks for digests due (default 1m).
	DigestInterval time.Duration
	// DigestRetry is the wait before the first retry of a digest the mail
	// server could not take (default 1m; doubling up to an hour).
	DigestRetry time.Duration
	// RequestTimeout is the deadline of a call (gRPC or REST) that brings none
	// of its own (default 30s); streamed imports have none.
	RequestTimeout time.Duration
	// CORSOrigins are the origins browsers may call the REST API from ("*" for
	// any); empty: none (CORS off).
	CORSOrigins []string
	// WriteRateLimit, UpvoteRateLimit and SubscribeRateLimit are the per-client
	// rate limits; unset ones take their defaults (DefaultWriteRateLimit …).
	// OTLPEndpoint, if set, is the OpenTelemetry collector traces go to
	// (OTLPProtocol: http/protobuf or grpc); empty: tracing is off.
	OTLPEndpoint       string
	OTLPProtocol       string
	WriteRateLimit     auth.RateLimit
	UpvoteRateLimit    auth.RateLimit
	SubscribeRateLimit auth.RateLimit
	// SearchLimits bound the cost of every search; unset fields take their
	// defaults (search.DefaultMaxExpansions …).
	SearchLimits    search.Limits
	adminTokensRaw  string
	adminTokensFile string
}

// ArxivConfig configures the arXiv poller.
type ArxivConfig struct {
	Categories []string
	URL        string
	Interval   time.Duration
	PageSize   int
	RequestGap time.Duration
	Backfill   time.Duration
}

// Default per-client rate limits.
var (
	DefaultWriteRateLimit     = auth.RateLimit{Burst: 600, Per: time.Minute}
	DefaultUpvoteRateLimit    = auth.RateLimit{Burst: 60, Per: time.Minute}
	DefaultSubscribeRateLimit = auth.RateLimit{Burst: 5, Per: 5 * time.Minute}
)

// withDefaults fills in the settings a Config built in code leaves unset,
// with the defaults ParseConfig gives them.
func (c Config) withDefaults() Config {
	for _, d := range []struct {
		dst *time.Duration
		def time.Duration
	}{{&c.RequestTimeout, 30 * time.Second}, {&c.DeliveryClaimTimeout, 5 * time.Minute},
		{&c.DigestInterval, time.Minute}, {&c.DigestRetry, time.Minute}} {
		if *d.dst <= 0 {
			*d.dst = d.def
		}
	}
	if c.MailFrom == "" {
		c.MailFrom = defaultMailFrom
	}
	c.SearchLimits = c.SearchLimits.WithDefaults()
	for _, l := range []struct {
		dst *auth.RateLimit
		def auth.RateLimit
	}{{&c.WriteRateLimit, DefaultWriteRateLimit}, {&c.UpvoteRateLimit, DefaultUpvoteRateLimit},
		{&c.SubscribeRateLimit, DefaultSubscribeRateLimit}} {
		if *l.dst == (auth.RateLimit{}) {
			*l.dst = l.def
		}
	}
	return c
}

const defaultMailFrom = "Paper Catalog <papers@localhost>"

type setting struct {
	flag, env, def, help string
	dst                  *string
}

// ParseConfig reads the configuration from args (without the program name) and
// getenv. A --help flag prints every setting with its default to out and returns
// flag.ErrHelp.
func ParseConfig(args []string, getenv func(string) string, out io.Writer) (Config, error) {
	var c Config
	var syncInterval, shutdown string
	var arxivCats, arxivInterval, arxivPage, arxivGap, arxivBackfill string
	var claimTimeout, digestInterval, digestRetry, requestTimeout, corsOrigins string
	var writeLimit, upvoteLimit, subscribeLimit string
	var searchExpansions, searchTimeout, searchConcurrency, searchWait string
	settings := []setting{
		{"grpc-addr", "PAPERD_GRPC_ADDR", ":9090", "gRPC listen address", &c.GRPCAddr},
		{"http-addr", "PAPERD_HTTP_ADDR", ":8080", "HTTP listen address (REST gateway under /v1, /openapi.json, /healthz, /readyz)", &c.HTTPAddr},
		{"data-dir", "PAPERD_DATA_DIR", "./data", "directory for the embedded database's files", &c.DataDir},
		{"mongodb-uri", "MONGODB_URI", "", "MongoDB connection string; empty runs the embedded FerretDB under the data directory", &c.MongoURI},
		{"mongodb-database", "MONGODB_DATABASE", "papers", "MongoDB database name", &c.MongoDatabase},
		{"admin-tokens", "PAPERD_ADMIN_TOKENS", "", "comma-separated admin bearer tokens that may write", &c.adminTokensRaw},
		{"admin-tokens-file", "PAPERD_ADMIN_TOKENS_FILE", "", "file with admin bearer tokens, one a line (# comments allowed)", &c.adminTokensFile},
		{"sync-interval", "PAPERD_SYNC_INTERVAL", "5s", "how often writes of other replicas are picked up", &syncInterval},
		{"shutdown-timeout", "PAPERD_SHUTDOWN_TIMEOUT", "20s", "how long in-flight requests may take to finish on shutdown", &shutdown},
		{"log-format", "PAPERD_LOG_FORMAT", "text", "log format: text or json", &c.LogFormat},
		{"log-level", "PAPERD_LOG_LEVEL", "info", "log level: debug, info, warn or error", &c.LogLevel},
		{"jwt-secret", "PAPERD_JWT_SECRET", "", "HS256 secret (32 bytes or more) that signs user tokens", &c.JWT.Secret},
		{"jwks", "PAPERD_JWKS", "", "JWKS file or http(s) URL with the RS256/ES256 keys that sign user tokens", &c.JWT.JWKS},
		{"jwt-audience", "PAPERD_JWT_AUDIENCE", "", "required aud claim of user tokens (empty: not checked)", &c.JWT.Audience},
		{"jwt-issuer", "PAPERD_JWT_ISSUER", "", "required iss claim of user tokens (empty: not checked)", &c.JWT.Issuer},
		{"smtp-url", "SMTP_URL", "", "mail server, smtp://[user:password@]host[:port][?tls=starttls|ssl|none] (empty: mail is written as .eml files under the data directory's outbox/)", &c.SMTPURL},
		{"public-url", "PAPERD_PUBLIC_URL", "", "address the links in mails start with, e.g. https://papers.example (empty: the local HTTP address)", &c.PublicURL},
		{"mail-from", "PAPERD_MAIL_FROM", defaultMailFrom, "sender of mails", &c.MailFrom},
		{"delivery-claim-timeout", "PAPERD_DELIVERY_CLAIM_TIMEOUT", "5m", "how long a digest claimed by a sender that went away waits before another sender takes it over", &claimTimeout},
		{"digest-interval", "PAPERD_DIGEST_INTERVAL", "1m", "how often the digest scheduler looks for digests due", &digestInterval},
		{"digest-retry", "PAPERD_DIGEST_RETRY", "1m", "wait before the first retry of a digest the mail server could not take for now; it doubles with each attempt, up to an hour", &digestRetry},
		{"request-timeout", "PAPERD_REQUEST_TIMEOUT", "30s", "deadline of a gRPC or REST call that brings none (streamed imports have none)", &requestTimeout},
		{"cors-origins", "PAPERD_CORS_ORIGINS", "", "comma-separated origins browsers may call the REST API from, or * for any (empty: CORS off)", &corsOrigins},
		{"write-rate-limit", "PAPERD_WRITE_RATE_LIMIT", DefaultWriteRateLimit.String(), "per client address: N/PERIOD (a bucket of N calls refilled evenly over PERIOD) or off; counts paper writes, imports, digest sends and every call with a subscription token", &writeLimit},
		{"upvote-rate-limit", "PAPERD_UPVOTE_RATE_LIMIT", DefaultUpvoteRateLimit.String(), "per user: upvotes added or removed, N/PERIOD or off", &upvoteLimit},
		{"subscribe-rate-limit", "PAPERD_SUBSCRIBE_RATE_LIMIT", DefaultSubscribeRateLimit.String(), "per client address: calls that mail an address (subscribe, new manage link), N/PERIOD or off", &subscribeLimit},
		{"search-max-expansions", "PAPERD_SEARCH_MAX_EXPANSIONS", strconv.Itoa(search.DefaultMaxExpansions), "most words of the index one search may look up (each word a wildcard, regular-expression or fuzzy term matches counts); more is refused with 400", &searchExpansions},
		{"search-timeout", "PAPERD_SEARCH_TIMEOUT", search.DefaultSearchTimeout.String(), "longest a search may run; longer is refused with 400", &searchTimeout},
		{"search-concurrency", "PAPERD_SEARCH_CONCURRENCY", "", "how many expensive searches (wildcard, regular-expression, fuzzy or * terms) run at once (empty: half the CPUs, at least one)", &searchConcurrency},
		{"search-wait", "PAPERD_SEARCH_WAIT", search.DefaultSearchWait.String(), "longest an expensive search waits for its turn before it is refused with 429", &searchWait},
		{"otlp-endpoint", "OTEL_EXPORTER_OTLP_ENDPOINT", "", "OpenTelemetry collector to send traces to, e.g. http://localhost:4318 (empty: tracing off); the SDK's other OTEL_ variables apply", &c.OTLPEndpoint},
		{"otlp-protocol", "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf", "protocol to the collector: http/protobuf or grpc", &c.OTLPProtocol},
		{"pprof-addr", "PAPERD_PPROF_ADDR", "", "address for Go's profiling handlers under /debug/pprof/, e.g. 127.0.0.1:6060 (empty: off; keep it private)", &c.PprofAddr},
		{"arxiv-categories", "PAPERD_ARXIV_CATEGORIES", "", "comma-separated arXiv categories to import new submissions of, e.g. cs.LG,cs.CL (empty: the poller is off)", &arxivCats},
		{"arxiv-url", "PAPERD_ARXIV_URL", ingest.DefaultArxivAPI, "arXiv API query endpoint the poller uses (and the only host it talks to)", &c.Arxiv.URL},
		{"arxiv-interval", "PAPERD_ARXIV_INTERVAL", "1h", "time between poller rounds", &arxivInterval},
		{"arxiv-page-size", "PAPERD_ARXIV_PAGE_SIZE", "200", "results per arXiv API request (at most 2000)", &arxivPage},
		{"arxiv-request-gap", "PAPERD_ARXIV_REQUEST_GAP", "3s", "least time between two arXiv API requests (arXiv asks for 3s)", &arxivGap},
		{"arxiv-backfill", "PAPERD_ARXIV_BACKFILL", "72h", "how far back the poller's first round goes", &arxivBackfill},
	}
	fs := flag.NewFlagSet("paperd", flag.ContinueOnError)
	fs.SetOutput(out)
	// Flags are registered with the built-in defaults, and the environment is
	// applied after parsing to the settings no flag set: --help and the usage
	// printed after a mistyped flag must not show environment values, which
	// include tokens, secrets and passwords in URLs.
	for _, s := range settings {
		fs.StringVar(s.dst, s.flag, s.def, fmt.Sprintf("%s (env %s)", s.help, s.env))
	}
	fs.Usage = func() {
		_, _ = fmt.Fprintf(out, "paperd serves the paper catalog over gRPC and REST.\n\nUsage: paperd [flags]\n\nEvery flag can also be set by its environment variable; flags win.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, s := range settings {
		if v := getenv(s.env); v != "" && !set[s.flag] {
			*s.dst = v
		}
	}
	var errs []error
	var err error
	if c.SyncInterval, err = time.ParseDuration(syncInterval); err != nil || c.SyncInterval <= 0 {
		errs = append(errs, fmt.Errorf("sync-interval: %q is not a positive duration such as 5s", syncInterval))
	}
	if c.ShutdownTimeout, err = time.ParseDuration(shutdown); err != nil || c.ShutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("shutdown-timeout: %q is not a positive duration such as 20s", shutdown))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("log-format: %q is neither text nor json", c.LogFormat))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log-level: %q is not debug, info, warn or error", c.LogLevel))
	}
	if c.DeliveryClaimTimeout, err = time.ParseDuration(claimTimeout); err != nil || c.DeliveryClaimTimeout <= 0 {
		errs = append(errs, fmt.Errorf("delivery-claim-timeout: %q is not a positive duration such as 5m", claimTimeout))
	}
	if c.DigestInterval, err = time.ParseDuration(digestInterval); err != nil || c.DigestInterval <= 0 {
		errs = append(errs, fmt.Errorf("digest-interval: %q is not a positive duration such as 1m", digestInterval))
	}
	if c.DigestRetry, err = time.ParseDuration(digestRetry); err != nil || c.DigestRetry <= 0 {
		errs = append(errs, fmt.Errorf("digest-retry: %q is not a positive duration such as 1m", digestRetry))
	}
	if c.RequestTimeout, err = time.ParseDuration(requestTimeout); err != nil || c.RequestTimeout <= 0 {
		errs = append(errs, fmt.Errorf("request-timeout: %q is not a positive duration such as 30s", requestTimeout))
	}
	if c.OTLPProtocol != "http/protobuf" && c.OTLPProtocol != "grpc" {
		errs = append(errs, fmt.Errorf("otlp-protocol: %q is neither http/protobuf nor grpc", c.OTLPProtocol))
	}
	if c.OTLPEndpoint != "" {
		if u, err := url.Parse(c.OTLPEndpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("otlp-endpoint: %q is not a URL such as http://localhost:4318", c.OTLPEndpoint))
		}
	}
	c.CORSOrigins = splitTokens(corsOrigins, ",")
	for _, o := range c.CORSOrigins {
		if u, err := url.Parse(o); o != "*" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "") {
			errs = append(errs, fmt.Errorf("cors-origins: %q is not an origin such as https://app.example", o))
		}
	}
	for _, l := range []struct {
		name, text string
		dst        *auth.RateLimit
	}{{"write-rate-limit", writeLimit, &c.WriteRateLimit}, {"upvote-rate-limit", upvoteLimit, &c.UpvoteRateLimit},
		{"subscribe-rate-limit", subscribeLimit, &c.SubscribeRateLimit}} {
		if *l.dst, err = auth.ParseRateLimit(l.text); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", l.name, err))
		}
	}
	if c.SearchLimits.MaxExpansions, err = strconv.Atoi(searchExpansions); err != nil || c.SearchLimits.MaxExpansions < 1 {
		errs = append(errs, fmt.Errorf("search-max-expansions: %q is not a positive number", searchExpansions))
	}
	if searchConcurrency != "" {
		if c.SearchLimits.Concurrent, err = strconv.Atoi(searchConcurrency); err != nil || c.SearchLimits.Concurrent < 1 {
			errs = append(errs, fmt.Errorf("search-concurrency: %q is not a positive number", searchConcurrency))
		}
	}
	for _, d := range []struct {
		name, text string
		dst        *time.Duration
	}{{"search-timeout", searchTimeout, &c.SearchLimits.Timeout}, {"search-wait", searchWait, &c.SearchLimits.Wait}} {
		if *d.dst, err = time.ParseDuration(d.text); err != nil || *d.dst <= 0 {
			errs = append(errs, fmt.Errorf("%s: %q is not a positive duration such as 2s", d.name, d.text))
		}
	}
	c.Arxiv.Categories = splitTokens(arxivCats, ",")
	for _, d := range []struct {
		name, text string
		dst        *time.Duration
	}{{"arxiv-interval", arxivInterval, &c.Arxiv.Interval}, {"arxiv-request-gap", arxivGap, &c.Arxiv.RequestGap},
		{"arxiv-backfill", arxivBackfill, &c.Arxiv.Backfill}} {
		if *d.dst, err = time.ParseDuration(d.text); err != nil || *d.dst < 0 {
			errs = append(errs, fmt.Errorf("%s: %q is not a duration such as 1h", d.name, d.text))
		}
	}
	if c.Arxiv.PageSize, err = strconv.Atoi(arxivPage); err != nil {
		errs = append(errs, fmt.Errorf("arxiv-page-size: %q is not a number", arxivPage))
	}
	if len(c.Arxiv.Categories) > 0 {
		if err := c.Arxiv.poller().Check(); err != nil {
			errs = append(errs, fmt.Errorf("arxiv poller: %w", err))
		}
	}
	c.AdminTokens = splitTokens(c.adminTokensRaw, ",")
	if c.adminTokensFile != "" {
		b, err := os.ReadFile(c.adminTokensFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("admin-tokens-file: %w", err))
		}
		for _, line := range strings.Split(string(b), "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
				c.AdminTokens = append(c.AdminTokens, line)
			}
		}
	}
	return c, errors.Join(errs...)
}

func splitTokens(s, sep string) []string {
	var out []string
	for _, t := range strings.Split(s, sep) {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// poller returns a poller with this configuration; the caller sets what it
// imports into and where it keeps its state.
func (a ArxivConfig) poller() *ingest.Poller {
	return &ingest.Poller{BaseURL: a.URL, Categories: a.Categories, Interval: a.Interval, PageSize: a.PageSize,
		RequestGap: a.RequestGap, Backfill: a.Backfill}
}
