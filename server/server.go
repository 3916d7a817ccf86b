package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/papercatalog/papers/apierror"
	"github.com/papercatalog/papers/auth"
	"github.com/papercatalog/papers/catalog"
	"github.com/papercatalog/papers/clock"
	"github.com/papercatalog/papers/cpu"
	"github.com/papercatalog/papers/delivery"
	"github.com/papercatalog/papers/embedded"
	catalogv1gw "github.com/papercatalog/papers/gen/gateway/papers/catalog/v1"
	subscriptionv1gw "github.com/papercatalog/papers/gen/gateway/papers/subscription/v1"
	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	subscriptionv1 "github.com/papercatalog/papers/gen/papers/subscription/v1"
	"github.com/papercatalog/papers/importer"
	"github.com/papercatalog/papers/ingest"
	"github.com/papercatalog/papers/inproc"
	"github.com/papercatalog/papers/listing"
	"github.com/papercatalog/papers/mailer"
	"github.com/papercatalog/papers/paperpb"
	"github.com/papercatalog/papers/readmodel"
	"github.com/papercatalog/papers/reason"
	"github.com/papercatalog/papers/repository/mongo"
	"github.com/papercatalog/papers/search"
	"github.com/papercatalog/papers/service"
	"github.com/papercatalog/papers/subscribe"
	"github.com/papercatalog/papers/votes"
)

// MaxRequestBytes is the largest request accepted on either port.
const MaxRequestBytes = 1 << 20

// Server is a running paperd.
type Server struct {
	cfg Config
	log *slog.Logger

	embedded *embedded.DB
	db       *mongo.DB
	syncer   *readmodel.Syncer
	intents  *readmodel.Intents
	model    *readmodel.Model

	grpcServer *grpc.Server
	httpServer *http.Server
	health     *health.Server
	grpcLis    net.Listener
	httpLis    net.Listener
	loopLis    *bufconn.Listener // in-memory gRPC listener the streaming REST calls use
	loopConn   *grpc.ClientConn
	// calls reaches the services in-process through the interceptors of every
	// call (recovery, admission): REST's unary calls and the pages use it.
	calls *inproc.Channel
	// gate enforces the services' policy table; open builds it, before opened
	// turns true.
	gate    atomic.Pointer[auth.Gate]
	pprof   *http.Server
	metrics *metrics
	tracing *tracing // nil: off

	uri   string
	turns *cpu.Gate // the turns of long computations: searches and listings computed from scratch
	index *search.Index
	// registered are what the servers were registered with before open built
	// the services; open sets them once.
	registered registered
	catalog    *service.Catalog
	// subscriptions serves SubscriptionService; digests sends its digests;
	// mail is their mailer.
	subscriptions *service.Subscriptions
	digests       *delivery.Sender
	mail          mailer.Mailer
	users         *auth.Users
	served        bool           // Start completed: the model is worth a snapshot at shutdown
	background    sync.WaitGroup // sync and indexing, stopped before the stores close
	ready         atomic.Bool
	opened        atomic.Bool // open finished: the services may be called
	stopOnce      sync.Once
	stopErr       error
	stopSync      context.CancelFunc
	wg            sync.WaitGroup
	serveErrs     chan error
}

// Start opens the database (starting the embedded one if no MongoDB URI is set),
// creates indexes, loads the read model and starts serving on both ports. It
// returns once the server is ready; stop it with Shutdown.
func Start(ctx context.Context, cfg Config, log *slog.Logger) (_ *Server, err error) {
	log = slog.New(contextHandler{log.Handler()})
	cfg = cfg.withDefaults()
	s := &Server{cfg: cfg, log: log, serveErrs: make(chan error, 2)}
	defer func() {
		if err != nil {
			s.abort()
		}
	}()
	// Listen first, so that health checks are answered (not ready) while the
	// database is waited for: an orchestrator sees a live process, not a crash
	// loop.
	if err := s.listen(ctx); err != nil {
		return nil, err
	}
	log.Info("paperd listening; opening the database", "grpc", s.grpcLis.Addr().String(), "http", s.httpLis.Addr().String())
	if err := s.open(ctx); err != nil {
		return nil, err
	}
	s.opened.Store(true)
	s.ready.Store(true)
	s.served = true
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	s.health.SetServingStatus(catalogv1.CatalogService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	log.Info("paperd ready", "grpc", s.grpcLis.Addr().String(), "http", s.httpLis.Addr().String(),
		"papers", s.model.Len())
	return s, nil
}

// listen builds the gRPC and HTTP servers and starts serving. Until open has
// finished, calls other than health checks are answered UNAVAILABLE (HTTP 503).
func (s *Server) listen(ctx context.Context) error {
	cfg, log := s.cfg, s.log
	var err error
	if s.tracing, err = newTracing(ctx, cfg.OTLPEndpoint, cfg.OTLPProtocol, log); err != nil {
		return err
	}
	if s.tracing != nil {
		log.Info("tracing on", "otlp_endpoint", cfg.OTLPEndpoint, "protocol", cfg.OTLPProtocol)
	}
	s.metrics = newMetrics(s)
	codec := newResponseCodec(func(m any) ([]byte, bool) {
		if !s.opened.Load() {
			return nil, false // no catalog yet
		}
		return s.catalog.Encoded(m)
	})
	s.grpcServer = grpc.NewServer(append(s.tracing.grpcOptions(),
		grpc.MaxRecvMsgSize(MaxRequestBytes),
		grpc.ForceServerCodecV2(codec),
		// rejectUndecoded* come before any interceptor that may answer without
		// calling the next (see responseCodec).
		// Every call of the services ends in recovery and admission (the
		// database is open, the policy table's rules), the same for the REST
		// calls and pages that come in-process through s.calls.
		// explain gives every error a google.rpc.ErrorInfo (README, "Errors").
		grpc.ChainUnaryInterceptor(requestIDUnary, explainUnary, s.recoverUnary, s.metrics.grpc.UnaryServerInterceptor(), codec.rejectUndecodedUnary, s.logUnary, s.admitUnary),
		grpc.ChainStreamInterceptor(requestIDStream, explainStream, s.recoverStream, s.metrics.grpc.StreamServerInterceptor(), codec.rejectUndecodedStream, s.logStream, s.admitStream),
		// Clients may ping at most every 10 s; a connection idle for 15 minutes
		// is closed, and one that stops answering pings after 20 s.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: 15 * time.Minute, Time: 2 * time.Minute, Timeout: 20 * time.Second}),
	)...)
	s.calls = inproc.New(explainUnary, s.recoverUnary, s.admitUnary)
	for _, r := range []grpc.ServiceRegistrar{s.grpcServer, s.calls} {
		catalogv1.RegisterCatalogServiceServer(r, &s.registered.catalog)
		subscriptionv1.RegisterSubscriptionServiceServer(r, &s.registered.subscriptions)
	}
	s.health = health.NewServer()
	// NOT_SERVING until the database is open and the read model loaded.
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	s.health.SetServingStatus(catalogv1.CatalogService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(s.grpcServer, s.health)
	reflection.Register(s.grpcServer)
	s.metrics.grpc.InitializeMetrics(s.grpcServer)

	// REST JSON carries every field, zero values included ("upvotes": "0",
	// "papers": []), so typed clients read 0 rather than undefined; unset
	// messages and unset optional fields stay absent. int64 fields are strings,
	// as proto3 JSON writes them (README, "API").
	jsonPb := &runtime.JSONPb{
		MarshalOptions:   protojson.MarshalOptions{UseProtoNames: true, EmitDefaultValues: true},
		UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
	}
	gwOpts := []runtime.ServeMuxOption{
		// retry-after (set with RESOURCE_EXHAUSTED) goes out as HTTP's Retry-After.
		runtime.WithOutgoingHeaderMatcher(func(key string) (string, bool) {
			switch key {
			case "retry-after":
				return "Retry-After", true
			case requestIDHeader: // set by the HTTP server already
				return "", false
			}
			return runtime.MetadataHeaderPrefix + key, true
		}),
		// X-Manage-Token goes to the services as the subscription's manage
		// token (auth.ManageTokenHeader); other headers as the gateway does.
		runtime.WithIncomingHeaderMatcher(func(key string) (string, bool) {
			if strings.EqualFold(key, auth.ManageTokenHeader) {
				return auth.ManageTokenHeader, true
			}
			return runtime.DefaultHeaderMatcher(key)
		}),
		// The request id goes along to the services (and over the loopback
		// connection of streamed calls).
		runtime.WithMetadata(func(ctx context.Context, _ *http.Request) metadata.MD {
			return metadata.Pairs(requestIDHeader, requestID(ctx))
		}),
		runtime.WithMiddlewares(gatewayRoute, s.tracing.gateway),
		// A google.api.HttpBody answer (a citation) is the body itself, with
		// its content type; everything else is JSON.
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.HTTPBodyMarshaler{Marshaler: jsonPb}),
		// Every error carries a google.rpc.ErrorInfo, the gateway's own too.
		runtime.WithErrorHandler(gatewayError),
	}
	gw := runtime.NewServeMux(gwOpts...)
	// The gateway calls the services in-process rather than dialing the gRPC
	// port: the same interceptors, handlers, validation and errors, without
	// encoding the messages or a second network hop.
	if err := catalogv1gw.RegisterCatalogServiceHandlerClient(ctx, gw, catalogv1.NewCatalogServiceClient(s.calls)); err != nil {
		return fmt.Errorf("register gateway: %w", err)
	}
	if err := subscriptionv1gw.RegisterSubscriptionServiceHandlerClient(ctx, gw, subscriptionv1.NewSubscriptionServiceClient(s.calls)); err != nil {
		return fmt.Errorf("register gateway: %w", err)
	}
	// In-process calls cannot stream, so the streaming import goes through a
	// client connection to the same gRPC server over an in-memory listener.
	s.loopLis = bufconn.Listen(1 << 20)
	loop, err := grpc.NewClient("passthrough:///paperd", append(s.tracing.loopbackOptions(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return s.loopLis.DialContext(ctx) }))...)
	if err != nil {
		return fmt.Errorf("loopback connection: %w", err)
	}
	s.loopConn = loop
	// The import's body is read a line at a time (see importBody).
	streamGW := runtime.NewServeMux(append(gwOpts[:len(gwOpts):len(gwOpts)],
		runtime.WithMarshalerOption(runtime.MIMEWildcard, importMarshaler{jsonPb}),
		runtime.WithErrorHandler(importError))...)
	if err := catalogv1gw.RegisterCatalogServiceHandlerClient(ctx, streamGW, catalogv1.NewCatalogServiceClient(loop)); err != nil {
		return fmt.Errorf("register gateway: %w", err)
	}
	if s.grpcLis, err = net.Listen("tcp", cfg.GRPCAddr); err != nil {
		return fmt.Errorf("listen for gRPC: %w", err)
	}
	if s.httpLis, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		return fmt.Errorf("listen for HTTP: %w", err)
	}
	s.httpServer = &http.Server{
		Handler:           s.tracing.http(withRequestID(s.routes(gw, streamGW))),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	s.wg.Go(func() {
		if err := s.grpcServer.Serve(s.grpcLis); err != nil {
			s.serveErrs <- fmt.Errorf("gRPC server: %w", err)
		}
	})
	s.wg.Go(func() {
		if err := s.grpcServer.Serve(s.loopLis); err != nil {
			s.serveErrs <- fmt.Errorf("gRPC server (loopback): %w", err)
		}
	})
	s.wg.Go(func() {
		if err := s.httpServer.Serve(s.httpLis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.serveErrs <- fmt.Errorf("HTTP server: %w", err)
		}
	})
	if cfg.PprofAddr != "" {
		if err := s.servePprof(cfg.PprofAddr); err != nil {
			return err
		}
	}
	return nil
}

// open opens the database (starting the embedded one if no MongoDB URI is set),
// waiting for it as long as ctx allows, creates indexes, loads the read model
// and the search index, and starts the background work.
func (s *Server) open(ctx context.Context) error {
	cfg, log := s.cfg, s.log
	var err error
	uri := cfg.MongoURI
	if uri == "" {
		s.embedded, err = embedded.Start(ctx, cfg.DataDir, quiet(log, "ferretdb"))
		if err != nil {
			return err
		}
		uri = s.embedded.URI
		log.Info("embedded FerretDB started", "uri", uri, "data_dir", cfg.DataDir)
	}
	s.uri = uri
	opts := []mongo.Option{mongo.WithCommandMonitor(s.tracing.commandMonitor())}
	if s.embedded != nil {
		// Its socket is this process's alone, and it runs in this process.
		opts = append(opts, mongo.Exclusive(), mongo.InProcess(),
			// A collection of change payloads gets its _id index while empty.
			mongo.PrepareCollections(func(ctx context.Context, _ string) error {
				_, err := s.embedded.IndexIDs(ctx, cfg.MongoDatabase)
				return err
			}))
	}
	if s.db, err = mongo.Open(uri, cfg.MongoDatabase, opts...); err != nil {
		return err
	}
	if err := retry(ctx, log, "create indexes", cfg.StartAttemptTimeout, func(ctx context.Context) error { return s.db.Migrate(ctx) }); err != nil {
		return err
	}
	if s.embedded != nil {
		n, err := s.embedded.IndexIDs(ctx, cfg.MongoDatabase)
		if err != nil {
			return err
		}
		if n > 0 {
			log.Info("embedded FerretDB: indexed _id for updates and deletes", "tables", n)
		}
	}
	key, err := s.secret(ctx, "page_token_key")
	if err != nil {
		return err
	}
	users, err := auth.NewUsers(ctx, cfg.JWT)
	if err != nil {
		return fmt.Errorf("user tokens: %w", err)
	}
	s.users = users
	if !users.Enabled() {
		log.Warn("no user token verification configured (PAPERD_JWT_SECRET or PAPERD_JWKS): upvotes will be refused")
	}
	papers, voteRecords := mongo.NewPapers(s.db), mongo.NewVotes(s.db)
	s.turns = cpu.NewGate(0)
	s.model = readmodel.New()
	s.model.SetGate(s.turns)
	if err := s.model.StoreAbstracts(filepath.Join(cfg.DataDir, "readmodel.abstracts")); err != nil {
		return err
	}
	dbID, err := s.secret(ctx, "database_id")
	if err != nil {
		return err
	}
	// The clean shutdown's snapshot of earlier versions: replaced by the checkpoint.
	_ = os.Remove(filepath.Join(cfg.DataDir, "readmodel.snapshot"))
	if s.intents, err = readmodel.OpenIntents(filepath.Join(cfg.DataDir, "intents.journal")); err != nil {
		return fmt.Errorf("intent journal: %w", err)
	}
	s.syncer = &readmodel.Syncer{Model: s.model, Repo: papers, Votes: voteRecords, Log: log, Interval: cfg.SyncInterval, Clock: cfg.Clock,
		SnapshotPath: filepath.Join(cfg.DataDir, "readmodel.checkpoint"), DatabaseID: hex.EncodeToString(dbID),
		Checkpoint: cfg.CheckpointInterval, Intents: s.intents}
	// No limit on the load: at 2.7 million papers a load from the database
	// took more than the 2 minutes other steps get, and was cut and started
	// again without end. A database that stops answering fails it.
	if err := retry(ctx, log, "load read model", 0, s.syncer.Start); err != nil {
		return err
	}
	if s.index, err = search.Open(filepath.Join(cfg.DataDir, "search")); err != nil {
		return err
	}
	if why := s.index.Rebuilt(); why != "" {
		log.Warn("search index removed; every paper is indexed again", "reason", why)
	}
	if why := s.index.Outdated(); why != "" {
		log.Info("the search index is of an earlier layout; it works as it is. "+
			"To bring it up to date, stop paperd and remove its directory: the next start indexes every paper again",
			"dir", filepath.Join(cfg.DataDir, "search"), "difference", why)
	}
	s.index.SetPapers(search.ModelPapers(s.model))
	s.index.SetLimits(cfg.SearchLimits)
	s.index.SetGate(s.turns)
	indexer := &search.Indexer{Index: s.index, Model: s.model, Log: log}
	if err := indexer.Reconcile(ctx); err != nil {
		return fmt.Errorf("search index: %w", err)
	}
	// The index records each checkpoint it has caught up with, for the next
	// start to index only what changed since (see search.Indexer).
	s.syncer.Saved = indexer.Checkpointed
	syncCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stopSync = stop
	s.background.Go(func() { s.syncer.Run(syncCtx) })

	admins := auth.NewAdmins(cfg.AdminTokens)
	if admins.Len() == 0 {
		log.Warn("no admin tokens configured (PAPERD_ADMIN_TOKENS or PAPERD_ADMIN_TOKENS_FILE): every write will be refused")
	}
	s.gate.Store(service.NewGate(&auth.Guard{Admins: admins, Users: users,
		Limits: auth.NewLimiters(cfg.WriteRateLimit, cfg.UpvoteRateLimit, cfg.SubscribeRateLimit)}, cfg.RequestTimeout, log))
	tokens := listing.NewTokens(key)
	s.catalog = &service.Catalog{Papers: papers, Votes: voteRecords, Model: s.model, Tokens: tokens,
		Log: log, Search: s.index, Indexer: indexer, Clock: cfg.Clock,
		Writer: &catalog.Writer{Papers: papers, Model: s.model, Log: log, Recorded: s.syncer.MarkApplied, Clock: cfg.Clock,
			Intents: s.intents},
		Upvotes: &votes.Recorder{Votes: voteRecords, Papers: papers, Model: s.model, Log: log, Recorded: s.syncer.MarkApplied, Clock: cfg.Clock,
			Intents: s.intents}}
	indexer.Busy = s.catalog.Importing
	var mail mailer.Mailer
	senders := mailer.DefaultConnections
	if cfg.SMTPURL != "" {
		smtp, err := mailer.NewSMTP(cfg.SMTPURL)
		if err != nil {
			return err
		}
		mail, senders = smtp, smtp.Connections()
	} else {
		outbox := filepath.Join(cfg.DataDir, "outbox")
		mail = &mailer.Outbox{Dir: outbox, Sent: func(path string) { log.Info("mail written to the outbox (no SMTP_URL)", "path", path) }}
	}
	s.mail = mail
	tokenKey, err := s.secret(ctx, "subscription_token_key")
	if err != nil {
		return err
	}
	links := delivery.Links{PublicURL: s.publicURL(), TokenKey: tokenKey}
	subscriptions := mongo.NewSubscriptions(s.db)
	s.digests = &delivery.Sender{Subscriptions: subscriptions, Deliveries: mongo.NewDeliveries(s.db), Mailer: mail, Log: log,
		Links: links, From: cfg.MailFrom, Papers: s.catalog.DigestPapers, PaperURL: service.PaperURL(links.PublicURL),
		Owner: rand.Text(), ClaimTimeout: cfg.DeliveryClaimTimeout, Concurrency: senders, RetryBackoff: cfg.DigestRetry,
		JournalPath: filepath.Join(cfg.DataDir, "digest-outcomes.journal"), Clock: cfg.Clock}
	s.subscriptions = &service.Subscriptions{Store: subscriptions, Log: log, Digests: s.digests, Tokens: tokens, Clock: cfg.Clock,
		Book:  &subscribe.Book{Store: subscriptions, Clock: cfg.Clock},
		Mails: &delivery.Mails{Subscriptions: subscriptions, Mailer: mail, Log: log, Links: links, From: cfg.MailFrom, Clock: cfg.Clock}}
	s.registered.catalog.CatalogServiceServer = s.catalog
	s.registered.subscriptions.SubscriptionServiceServer = s.subscriptions
	if err := retry(ctx, log, "replay the digest journal", cfg.StartAttemptTimeout, func(ctx context.Context) error {
		n, err := s.digests.ReplayJournal(ctx)
		if n > 0 {
			log.Info("digest outcomes replayed from the journal", "deliveries", n)
		}
		return err
	}); err != nil {
		return err
	}
	s.background.Go(func() { indexer.Run(syncCtx) })
	s.background.Go(func() { trimAfterBursts(syncCtx, log, trimEvery) })

	if len(cfg.Arxiv.Categories) > 0 {
		p := cfg.Arxiv.poller()
		p.Log = log.With("component", "arxiv-poller")
		p.Import = func(ctx context.Context, page []ingest.Record) (importer.Result, error) {
			// The poller's records take the path of ImportPapers' records, checks
			// included.
			recs := make([]*catalogv1.ImportRecord, len(page))
			for i := range page {
				r := &page[i]
				recs[i] = paperpb.ImportRecord(r.ID, r.Position, &r.Paper, r.Upvotes)
			}
			run := s.catalog.NewImportRun()
			for i := 0; i < len(recs); i += 500 {
				if err := run.Add(ctx, recs[i:min(i+500, len(recs))]); err != nil {
					return importer.Result{}, err
				}
			}
			return run.Result(), nil
		}
		p.LoadState = func(ctx context.Context) ([]byte, error) { return s.db.State(ctx, "arxiv_poller") }
		p.SaveState = func(ctx context.Context, b []byte) error { return s.db.SetState(ctx, "arxiv_poller", b) }
		s.background.Go(func() { p.Run(syncCtx) })
		log.Info("arXiv poller on", "categories", cfg.Arxiv.Categories, "url", cfg.Arxiv.URL, "interval", cfg.Arxiv.Interval)
	}

	owner := s.digests.Owner
	s.background.Go(func() {
		s.digests.RunScheduler(syncCtx, cfg.DigestInterval, func(ctx context.Context) (bool, error) {
			return s.db.AcquireLease(ctx, "digest_scheduler", owner, s.clock(), 3*cfg.DigestInterval)
		})
	})
	return nil
}

// registered holds the services as the gRPC server and s.calls know them,
// registered before the services exist (health checks are answered while the
// database is waited for): open builds each service complete and sets it here
// once, before opened turns true, and admission refuses every call before.
type registered struct {
	catalog       struct{ catalogv1.CatalogServiceServer }
	subscriptions struct {
		subscriptionv1.SubscriptionServiceServer
	}
}

// clock returns the time of the configured clock.
func (s *Server) clock() time.Time { return clock.Or(s.cfg.Clock).Now() }

// GRPCAddr returns the address the gRPC server listens on.
func (s *Server) GRPCAddr() string { return s.grpcLis.Addr().String() }

// HTTPAddr returns the address the HTTP server listens on.
func (s *Server) HTTPAddr() string { return s.httpLis.Addr().String() }

// DatabaseURI returns the MongoDB URI the server uses (the embedded FerretDB's when
// no URI was configured).
func (s *Server) DatabaseURI() string { return s.uri }

// Errors reports a server that stopped serving on its own.
func (s *Server) Errors() <-chan error { return s.serveErrs }

// Shutdown stops the server gracefully: readiness turns false, new connections are
// refused, in-flight requests finish (until ctx ends), then the database closes.
// Calls after the first return the first one's result.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() { s.stopErr = s.shutdown(ctx) })
	return s.stopErr
}

func (s *Server) shutdown(ctx context.Context) error {
	s.ready.Store(false)
	s.health.Shutdown()
	var errs []error
	if err := s.httpServer.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("HTTP shutdown: %w", err))
	}
	done := make(chan struct{})
	go func() {
		s.grpcServer.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		s.grpcServer.Stop()
		errs = append(errs, errors.New("gRPC shutdown: in-flight calls did not finish in time"))
	}
	s.close()
	s.wg.Wait()
	s.log.Info("paperd stopped")
	return errors.Join(errs...)
}

// abort stops serving and closes what a failed Start opened.
func (s *Server) abort() {
	if s.httpServer != nil {
		_ = s.httpServer.Close()
	}
	if s.grpcServer != nil {
		s.grpcServer.Stop()
	}
	for _, l := range []net.Listener{s.grpcLis, s.httpLis} {
		if l != nil {
			_ = l.Close()
		}
	}
	s.close()
	s.wg.Wait()
}

func (s *Server) close() {
	if s.catalog != nil {
		s.catalog.Close()
	}
	if s.users != nil {
		s.users.Close()
	}
	if s.stopSync != nil {
		s.stopSync()
	}
	s.background.Wait()
	if s.syncer != nil && s.served {
		began := time.Now()
		if err := s.syncer.Save(); err != nil {
			s.log.Warn("could not write the read model checkpoint; the next start uses the last one written", "err", err)
		} else {
			s.log.Info("read model checkpoint written", "took", time.Since(began).Round(time.Millisecond))
		}
	}
	if s.intents != nil {
		_ = s.intents.Close()
	}
	if s.model != nil {
		_ = s.model.Close()
	}
	if s.index != nil {
		if err := s.index.Close(); err != nil {
			s.log.Warn("close search index", "err", err)
		}
	}
	if s.db != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.db.Close(ctx)
		cancel()
	}
	if s.embedded != nil {
		s.embedded.Close()
	}
	if s.loopConn != nil {
		_ = s.loopConn.Close()
	}
	if s.mail != nil {
		_ = s.mail.Close()
	}
	if s.pprof != nil {
		_ = s.pprof.Close()
	}
	if s.tracing != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := s.tracing.shutdown(ctx); err != nil {
			s.log.Warn("could not send the last spans", "err", err)
		}
		cancel()
	}
}

// servePprof serves Go's profiling handlers on their own listener.
func (s *Server) servePprof(addr string) error {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen for pprof: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	s.pprof = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	s.wg.Go(func() { _ = s.pprof.Serve(lis) })
	s.log.Warn("profiling handlers on; keep this address private", "addr", lis.Addr().String())
	return nil
}

// secret reads the database's secret called name (see mongo.DB.Secret),
// retrying while the database is not ready; the step is logged as "read " and
// name with spaces for underscores ("read page token key").
func (s *Server) secret(ctx context.Context, name string) ([]byte, error) {
	var b []byte
	err := retry(ctx, s.log, "read "+strings.ReplaceAll(name, "_", " "), s.cfg.StartAttemptTimeout, func(ctx context.Context) (err error) {
		b, err = s.db.Secret(ctx, name)
		return err
	})
	return b, err
}

// retry runs fn until it succeeds or ctx ends, backing off up to 5 s between
// tries, each of which may take up to limit (none when 0).
func retry(ctx context.Context, log *slog.Logger, what string, limit time.Duration, fn func(context.Context) error) error {
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		tctx, cancel := ctx, context.CancelFunc(func() {})
		if limit > 0 {
			tctx, cancel = context.WithTimeout(ctx, limit)
		}
		err := fn(tctx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		log.Warn("database not ready; retrying", "step", what, "attempt", attempt, "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(wait*2, 5*time.Second)
	}
}

// explainUnary makes the error of a call a status with a google.rpc.ErrorInfo
// (apierror.Explain): the services' errors have one; the interceptors' (a
// request that does not decode, a panic, the server starting) get one here.
func explainUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	resp, err := next(ctx, req)
	return resp, apierror.Explain(err)
}

// explainStream is explainUnary for streaming calls.
func explainStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, next grpc.StreamHandler) error {
	return apierror.Explain(next(srv, ss))
}

func (s *Server) recoverUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.ErrorContext(ctx, "panic in handler", "method", info.FullMethod, "panic", r, "stack", string(debug.Stack()))
			err = status.Error(codes.Internal, "internal error")
		}
	}()
	return next(ctx, req)
}

func (s *Server) recoverStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, next grpc.StreamHandler) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.ErrorContext(ss.Context(), "panic in handler", "method", info.FullMethod, "panic", r, "stack", string(debug.Stack()))
			err = status.Error(codes.Internal, "internal error")
		}
	}()
	return next(srv, ss)
}

func (s *Server) logStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, next grpc.StreamHandler) error {
	start := time.Now()
	err := next(srv, ss)
	s.log.DebugContext(ss.Context(), "grpc stream", "method", info.FullMethod, "code", status.Code(err).String(),
		"took", time.Since(start))
	return err
}

// admitUnary admits a call: until the server has opened its database it
// answers UNAVAILABLE (with retry-after), except for health checks and
// reflection; then the services' Gate applies their policy table.
func (s *Server) admitUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	if !s.opened.Load() {
		if err := notOpened(info.FullMethod); err != nil {
			_ = grpc.SetHeader(ctx, metadata.Pairs("retry-after", "5"))
			return nil, err
		}
		return next(ctx, req)
	}
	return s.gate.Load().Unary(ctx, req, info, next)
}

// admitStream is admitUnary for streaming calls.
func (s *Server) admitStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, next grpc.StreamHandler) error {
	if !s.opened.Load() {
		if err := notOpened(info.FullMethod); err != nil {
			_ = ss.SetHeader(metadata.Pairs("retry-after", "5"))
			return err
		}
		return next(srv, ss)
	}
	return s.gate.Load().Stream(srv, ss, info, next)
}

// notOpened is UNAVAILABLE for a call of method before the database is open,
// nil for health checks and reflection.
func notOpened(method string) error {
	if strings.HasPrefix(method, "/grpc.health.v1.") || strings.HasPrefix(method, "/grpc.reflection.") {
		return nil
	}
	return apierror.Explain(&apierror.Error{Code: codes.Unavailable, Reason: reason.ServerStarting, Message: "starting: waiting for the database"})
}

func (s *Server) logUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := next(ctx, req)
	s.log.DebugContext(ctx, "grpc call", "method", info.FullMethod, "code", status.Code(err).String(),
		"took", time.Since(start))
	return resp, err
}

// quiet returns a logger for a noisy component: its messages below warning level
// are dropped.
func quiet(log *slog.Logger, component string) *slog.Logger {
	return slog.New(minLevel{Handler: log.Handler(), level: slog.LevelWarn}).With("component", component)
}

// minLevel passes on records at level or above. Attributes and groups added with
// With are applied only when a record passes: FerretDB adds every SQL statement
// and its arguments (whole documents) to a logger for each statement, and
// formatting them eagerly cost an eighth of an import's CPU time.
type minLevel struct {
	slog.Handler
	level slog.Level
	with  []func(slog.Handler) slog.Handler
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level && h.Handler.Enabled(ctx, l)
}

// Handle drops FerretDB's dumps of wire messages that failed, which it logs as
// warnings; the driver's endSessions on every disconnect is one (FerretDB v1 does
// not implement it).
func (h minLevel) Handle(ctx context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, "Response header") || strings.HasPrefix(r.Message, "Response message") {
		return nil
	}
	inner := h.Handler
	for _, w := range h.with {
		inner = w(inner)
	}
	return inner.Handle(ctx, r)
}

func (h minLevel) WithAttrs(attrs []slog.Attr) slog.Handler {
	h.with = append(h.with[:len(h.with):len(h.with)], func(x slog.Handler) slog.Handler { return x.WithAttrs(attrs) })
	return h
}

func (h minLevel) WithGroup(name string) slog.Handler {
	h.with = append(h.with[:len(h.with):len(h.with)], func(x slog.Handler) slog.Handler { return x.WithGroup(name) })
	return h
}

// localURL is the http address of a local listener, with localhost for an
// unspecified host.
// publicURL is where people reach paperd's HTTP side: the configured public
// URL, or the local HTTP address.
func (s *Server) publicURL() string {
	if s.cfg.PublicURL != "" {
		return s.cfg.PublicURL
	}
	return localURL(s.httpLis.Addr())
}

func localURL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}
