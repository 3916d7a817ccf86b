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
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/papercatalog/papers/auth"
	"github.com/papercatalog/papers/clock"
	"github.com/papercatalog/papers/ingest"
	"github.com/papercatalog/papers/search"
)

// Config is paperd's configuration. Each setting comes from a flag, else from its
// environment variable, else from its default.
type Config struct {
	GRPCAddr      string
	HTTPAddr      string
	DataDir       string
	MongoURI      string
	MongoDatabase string
	AdminTokens   []string
	SyncInterval  time.Duration
	// CheckpointInterval is how often the read model is checkpointed under the
	// data directory, for a start after a crash to replay only what changed
	// since (default 1m; a large model less often, see readmodel.Syncer).
	CheckpointInterval time.Duration
	ShutdownTimeout    time.Duration
	LogFormat          string
	LogLevel           string
	JWT                auth.UsersConfig
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
	// StartAttemptTimeout is how long one attempt of a start step that reads
	// or writes the database (create indexes, read a secret, replay the digest
	// journal) may take before it is tried again (default 2m). Loading the
	// read model has no such limit: a load of every paper takes minutes at
	// millions of papers, and a database that stops answering fails it (see
	// mongo.Open).
	StartAttemptTimeout time.Duration
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
	SearchLimits search.Limits
	// Clock gives the services, the read model and the digest scheduler the
	// time (nil: the system's clock); tests set a fake one. No flag sets it.
	Clock clock.Clock
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
		{&c.DigestInterval, time.Minute}, {&c.DigestRetry, time.Minute}, {&c.StartAttemptTimeout, 2 * time.Minute}} {
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

// setting is one of paperd's settings: its flag, its environment variable, its
// default and what it means, and parse, which reads its text into the Config
// or says why the text is not a value the setting takes.
type setting struct {
	flag, env, def, help string
	parse                func(text string) error
}

// settings lists paperd's settings, each read into c.
func (c *Config) settings() []setting {
	return []setting{
		{"grpc-addr", "PAPERD_GRPC_ADDR", ":9090", "gRPC listen address", text(&c.GRPCAddr)},
		{"http-addr", "PAPERD_HTTP_ADDR", ":8080", "HTTP listen address (REST gateway under /v1, /openapi.json, /healthz, /readyz)", text(&c.HTTPAddr)},
		{"data-dir", "PAPERD_DATA_DIR", "./data", "directory for the embedded database's files", text(&c.DataDir)},
		{"mongodb-uri", "MONGODB_URI", "", "MongoDB connection string; empty runs the embedded FerretDB under the data directory", text(&c.MongoURI)},
		{"mongodb-database", "MONGODB_DATABASE", "papers", "MongoDB database name", text(&c.MongoDatabase)},
		{"admin-tokens", "PAPERD_ADMIN_TOKENS", "", "comma-separated admin bearer tokens that may write", list(&c.AdminTokens)},
		// After admin-tokens, whose tokens it adds to.
		{"admin-tokens-file", "PAPERD_ADMIN_TOKENS_FILE", "", "file with admin bearer tokens, one a line (# comments allowed)", c.readAdminTokens},
		{"sync-interval", "PAPERD_SYNC_INTERVAL", "5s", "how often writes of other replicas are picked up",
			duration(&c.SyncInterval, "5s")},
		{"checkpoint-interval", "PAPERD_CHECKPOINT_INTERVAL", "1m", "how often the read model is checkpointed, so that a start after a crash replays only the changes since (a large catalog: less often, at most a tenth of the time)",
			duration(&c.CheckpointInterval, "1m")},
		{"shutdown-timeout", "PAPERD_SHUTDOWN_TIMEOUT", "20s", "how long in-flight requests may take to finish on shutdown",
			duration(&c.ShutdownTimeout, "20s")},
		{"log-format", "PAPERD_LOG_FORMAT", "text", "log format: text or json", oneOf(&c.LogFormat, "text", "json")},
		{"log-level", "PAPERD_LOG_LEVEL", "info", "log level: debug, info, warn or error", oneOf(&c.LogLevel, "debug", "info", "warn", "error")},
		{"jwt-secret", "PAPERD_JWT_SECRET", "", "HS256 secret (32 bytes or more) that signs user tokens", text(&c.JWT.Secret)},
		{"jwks", "PAPERD_JWKS", "", "JWKS file or http(s) URL with the RS256/ES256 keys that sign user tokens", text(&c.JWT.JWKS)},
		{"jwt-audience", "PAPERD_JWT_AUDIENCE", "", "required aud claim of user tokens (empty: not checked)", text(&c.JWT.Audience)},
		{"jwt-issuer", "PAPERD_JWT_ISSUER", "", "required iss claim of user tokens (empty: not checked)", text(&c.JWT.Issuer)},
		{"smtp-url", "SMTP_URL", "", "mail server, smtp://[user:password@]host[:port][?tls=starttls|ssl|none] (empty: mail is written as .eml files under the data directory's outbox/)", text(&c.SMTPURL)},
		{"public-url", "PAPERD_PUBLIC_URL", "", "address the links in mails start with, e.g. https://papers.example (empty: the local HTTP address)", text(&c.PublicURL)},
		{"mail-from", "PAPERD_MAIL_FROM", defaultMailFrom, "sender of mails", text(&c.MailFrom)},
		{"delivery-claim-timeout", "PAPERD_DELIVERY_CLAIM_TIMEOUT", "5m", "how long a digest claimed by a sender that went away waits before another sender takes it over",
			duration(&c.DeliveryClaimTimeout, "5m")},
		{"digest-interval", "PAPERD_DIGEST_INTERVAL", "1m", "how often the digest scheduler looks for digests due",
			duration(&c.DigestInterval, "1m")},
		{"digest-retry", "PAPERD_DIGEST_RETRY", "1m", "wait before the first retry of a digest the mail server could not take for now; it doubles with each attempt, up to an hour",
			duration(&c.DigestRetry, "1m")},
		{"request-timeout", "PAPERD_REQUEST_TIMEOUT", "30s", "deadline of a gRPC or REST call that brings none (streamed imports have none)",
			duration(&c.RequestTimeout, "30s")},
		{"cors-origins", "PAPERD_CORS_ORIGINS", "", "comma-separated origins browsers may call the REST API from, or * for any (empty: CORS off)", c.readCORSOrigins},
		{"write-rate-limit", "PAPERD_WRITE_RATE_LIMIT", DefaultWriteRateLimit.String(), "per client address: N/PERIOD (a bucket of N calls refilled evenly over PERIOD) or off; counts paper writes, imports, digest sends and every call with a subscription token",
			parsed(&c.WriteRateLimit, auth.ParseRateLimit)},
		{"upvote-rate-limit", "PAPERD_UPVOTE_RATE_LIMIT", DefaultUpvoteRateLimit.String(), "per user: upvotes added or removed, N/PERIOD or off",
			parsed(&c.UpvoteRateLimit, auth.ParseRateLimit)},
		{"subscribe-rate-limit", "PAPERD_SUBSCRIBE_RATE_LIMIT", DefaultSubscribeRateLimit.String(), "per client address: calls that mail an address (subscribe, new manage link), N/PERIOD or off",
			parsed(&c.SubscribeRateLimit, auth.ParseRateLimit)},
		{"search-max-expansions", "PAPERD_SEARCH_MAX_EXPANSIONS", strconv.Itoa(search.DefaultMaxExpansions), "most words of the index one search may look up (each word a wildcard, regular-expression or fuzzy term matches counts); more is refused with 400",
			checked(&c.SearchLimits.MaxExpansions, strconv.Atoi, positive, "a positive number")},
		{"search-timeout", "PAPERD_SEARCH_TIMEOUT", search.DefaultSearchTimeout.String(), "longest a search may run; longer is refused with 400",
			duration(&c.SearchLimits.Timeout, "2s")},
		{"search-concurrency", "PAPERD_SEARCH_CONCURRENCY", "", "how many expensive searches (wildcard, regular-expression, fuzzy or * terms) run at once (empty: half the CPUs, at least one)",
			optional(checked(&c.SearchLimits.Concurrent, strconv.Atoi, positive, "a positive number"))},
		{"search-wait", "PAPERD_SEARCH_WAIT", search.DefaultSearchWait.String(), "longest an expensive search waits for its turn before it is refused with 429",
			duration(&c.SearchLimits.Wait, "2s")},
		{"otlp-endpoint", "OTEL_EXPORTER_OTLP_ENDPOINT", "", "OpenTelemetry collector to send traces to, e.g. http://localhost:4318 (empty: tracing off); the SDK's other OTEL_ variables apply",
			optional(checked(&c.OTLPEndpoint, asIs, isHTTPURL, "a URL such as http://localhost:4318"))},
		{"otlp-protocol", "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf", "protocol to the collector: http/protobuf or grpc", oneOf(&c.OTLPProtocol, "http/protobuf", "grpc")},
		{"pprof-addr", "PAPERD_PPROF_ADDR", "", "address for Go's profiling handlers under /debug/pprof/, e.g. 127.0.0.1:6060 (empty: off; keep it private)", text(&c.PprofAddr)},
		{"arxiv-categories", "PAPERD_ARXIV_CATEGORIES", "", "comma-separated arXiv categories to import new submissions of, e.g. cs.LG,cs.CL (empty: the poller is off)", list(&c.Arxiv.Categories)},
		{"arxiv-url", "PAPERD_ARXIV_URL", ingest.DefaultArxivAPI, "arXiv API query endpoint the poller uses (and the only host it talks to)", text(&c.Arxiv.URL)},
		{"arxiv-interval", "PAPERD_ARXIV_INTERVAL", "1h", "time between poller rounds",
			checked(&c.Arxiv.Interval, time.ParseDuration, nonNegative, "a duration such as 1h")},
		{"arxiv-page-size", "PAPERD_ARXIV_PAGE_SIZE", "200", "results per arXiv API request (at most 2000)",
			checked(&c.Arxiv.PageSize, strconv.Atoi, anyValue, "a number")},
		{"arxiv-request-gap", "PAPERD_ARXIV_REQUEST_GAP", "3s", "least time between two arXiv API requests (arXiv asks for 3s)",
			checked(&c.Arxiv.RequestGap, time.ParseDuration, nonNegative, "a duration such as 1h")},
		{"arxiv-backfill", "PAPERD_ARXIV_BACKFILL", "72h", "how far back the poller's first round goes",
			checked(&c.Arxiv.Backfill, time.ParseDuration, nonNegative, "a duration such as 1h")},
	}
}

// ParseConfig reads the configuration from args (without the program name) and
// getenv. A --help flag prints every setting with its default to out and returns
// flag.ErrHelp. Every setting whose value is refused is named in the error.
func ParseConfig(args []string, getenv func(string) string, out io.Writer) (Config, error) {
	var c Config
	settings := c.settings()
	texts := make([]string, len(settings))
	fs := flag.NewFlagSet("paperd", flag.ContinueOnError)
	fs.SetOutput(out)
	// Flags are registered with the built-in defaults, and the environment is
	// applied after parsing to the settings no flag set: --help and the usage
	// printed after a mistyped flag must not show environment values, which
	// include tokens, secrets and passwords in URLs. The texts are read into c
	// after that, so that every refused value is reported at once.
	for i, s := range settings {
		fs.StringVar(&texts[i], s.flag, s.def, fmt.Sprintf("%s (env %s)", s.help, s.env))
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
	var errs []error
	for i, s := range settings {
		if v := getenv(s.env); v != "" && !set[s.flag] {
			texts[i] = v
		}
		if err := s.parse(texts[i]); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.flag, err))
		}
	}
	if len(c.Arxiv.Categories) > 0 {
		if err := c.Arxiv.poller().Check(); err != nil {
			errs = append(errs, fmt.Errorf("arxiv poller: %w", err))
		}
	}
	return c, errors.Join(errs...)
}

// text reads a setting as it is.
func text(dst *string) func(string) error {
	return func(s string) error {
		*dst = s
		return nil
	}
}

// list reads a comma-separated setting, leaving out blanks.
func list(dst *[]string) func(string) error {
	return func(s string) error {
		*dst = splitTokens(s, ",")
		return nil
	}
}

// parsed reads a setting with parse, whose error says what is wrong.
func parsed[T any](dst *T, parse func(string) (T, error)) func(string) error {
	return func(s string) error {
		v, err := parse(s)
		if err == nil {
			*dst = v
		}
		return err
	}
}

// duration reads a positive duration; example shows one in the error.
func duration(dst *time.Duration, example string) func(string) error {
	return checked(dst, time.ParseDuration, positive, "a positive duration such as "+example)
}

// checked reads a setting with parse and takes the value if ok accepts it;
// otherwise the error says the text is not want, such as "a positive number".
func checked[T any](dst *T, parse func(string) (T, error), ok func(T) bool, want string) func(string) error {
	return func(s string) error {
		v, err := parse(s)
		if err != nil || !ok(v) {
			return fmt.Errorf("%q is not %s", s, want)
		}
		*dst = v
		return nil
	}
}

// optional reads a setting with read unless it is empty, which leaves it unset.
func optional(read func(string) error) func(string) error {
	return func(s string) error {
		if s == "" {
			return nil
		}
		return read(s)
	}
}

// oneOf reads a setting that must be one of values.
func oneOf(dst *string, values ...string) func(string) error {
	return func(s string) error {
		if slices.Contains(values, s) {
			*dst = s
			return nil
		}
		if len(values) == 2 {
			return fmt.Errorf("%q is neither %s nor %s", s, values[0], values[1])
		}
		return fmt.Errorf("%q is not %s or %s", s, strings.Join(values[:len(values)-1], ", "), values[len(values)-1])
	}
}

func positive[T int | time.Duration](v T) bool    { return v > 0 }
func nonNegative[T int | time.Duration](v T) bool { return v >= 0 }
func anyValue[T any](T) bool                      { return true }

func asIs(s string) (string, error) { return s, nil }

// isHTTPURL says whether s is an absolute http(s) URL with a host.
func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// readAdminTokens adds the tokens of the file named path, one a line, to
// c.AdminTokens.
func (c *Config) readAdminTokens(path string) error {
	if path == "" {
		return nil
	}
	b, err := os.ReadFile(path) //nolint:gosec // a file the operator names
	if err != nil {
		return err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			c.AdminTokens = append(c.AdminTokens, line)
		}
	}
	return nil
}

// readCORSOrigins reads a comma-separated list of origins, or *.
func (c *Config) readCORSOrigins(s string) error {
	c.CORSOrigins = splitTokens(s, ",")
	var errs []error
	for _, o := range c.CORSOrigins {
		if u, err := url.Parse(o); o != "*" && (!isHTTPURL(o) || err != nil || u.Path != "") {
			errs = append(errs, fmt.Errorf("%q is not an origin such as https://app.example", o))
		}
	}
	return errors.Join(errs...)
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
