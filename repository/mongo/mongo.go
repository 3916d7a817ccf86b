// Package mongo implements the repository interfaces on MongoDB (or anything that
// speaks its wire protocol, such as the embedded FerretDB) with the official driver.
//
// It only uses what both MongoDB and FerretDB v1 implement: natural keys as _id,
// single-document writes, plain finds. FerretDB answers filters other than exactly
// {_id: …} by scanning, which is why frequent reads come from the read model instead.
package mongo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/papercatalog/papers/keylock"
	"github.com/papercatalog/papers/repository"
)

// Collection names.
const (
	papersCollection = "papers"
	// The change log: small headers, which every replica reads at every poll, and
	// the changes' content, which it loads once for each change it has not
	// applied. FerretDB decodes every document of a collection to filter it, so
	// both go into collections of five minutes each (headersPrefix and
	// payloadsPrefix + the period's number), which pruning drops whole: a poll
	// reads the headers of the periods since the last one only. Headers used to
	// go into changesCollection, which is still read and pruned, so that
	// changes recorded before are replayed.
	changesCollection = "change_log"
	headersPrefix     = "change_headers_"
	payloadsPrefix    = "change_payloads_"
)

// DB is a connection to one database.
type DB struct {
	client *mongo.Client
	db     *mongo.Database
	pool   *poolStats
	avail  *availability
	// locks, when this process is the database's only client (Exclusive),
	// serialise conditional writes per document; nil otherwise.
	locks *keylock.Set
	// prepared is what PrepareCollections asked for.
	prepared *preparer
}

// preparer creates each collection of change payloads and has it prepared (see
// PrepareCollections) before the first write to it. Its lock decides when two
// writers start a period's collection at once: the second waits for the first.
type preparer struct {
	prepare func(ctx context.Context, collection string) error // nil: nothing to do

	mu   sync.Mutex
	done map[string]bool // the collections prepared, the last few
}

// ensure creates collection name in db, unless it exists, and prepares it, once
// per collection and process.
func (p *preparer) ensure(ctx context.Context, db *mongo.Database, name string) error {
	if p == nil || p.prepare == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done[name] {
		return nil
	}
	if err := db.CreateCollection(ctx, name); err != nil && !namespaceExists(err) {
		return fmt.Errorf("create collection %s: %w", name, wrap(err))
	}
	if err := p.prepare(ctx, name); err != nil {
		return fmt.Errorf("prepare collection %s: %w", name, err)
	}
	if len(p.done) >= 16 { // writes move on to new periods; old names are done with
		clear(p.done)
	}
	p.done[name] = true
	return nil
}

// namespaceExists reports the error of creating a collection that exists.
func namespaceExists(err error) bool {
	var ce mongo.CommandError
	return errors.As(err, &ce) && (ce.Code == 48 || ce.Name == "NamespaceExists")
}

// availability follows the driver's view of the deployment, so that calls made
// while no server can take writes fail at once instead of each waiting out the
// server selection timeout.
//
// It also notices a server that stopped answering without closing its
// connections (a process stopped with SIGSTOP, a frozen machine): the driver
// would only mark it down once a heartbeat times out (connectTimeout, 5 s by
// default), and meanwhile every call waits. A heartbeat (a hello, which a live
// server answers at once whatever its load) outstanding for hangAfter longer
// than it should be marks the deployment hung: calls in progress fail with
// ErrUnavailable, and new ones fail fast as when it is down, until a
// heartbeat succeeds again.
type availability struct {
	down atomic.Bool
	hung atomic.Bool

	mu        sync.Mutex
	writable  map[string]bool       // addresses of servers that take writes
	beats     map[string]*heartbeat // outstanding heartbeats, by server address
	calls     map[*call]bool        // calls in progress
	interval  time.Duration         // between heartbeats
	hangAfter time.Duration         // 0: hangs are not looked for
}

// heartbeat is one outstanding heartbeat.
type heartbeat struct {
	timer *time.Timer
}

// topologyChanged marks the deployment down while none of its servers is one
// that takes writes.
func (a *availability) topologyChanged(e *event.TopologyDescriptionChangedEvent) {
	writable := map[string]bool{}
	for _, srv := range e.NewDescription.Servers {
		switch srv.Kind {
		case "Standalone", "RSPrimary", "Mongos", "LoadBalancer":
			writable[srv.Addr.String()] = true
		}
	}
	a.mu.Lock()
	a.writable = writable
	a.mu.Unlock()
	a.down.Store(len(writable) == 0)
}

// heartbeatAddr is the server address of a heartbeat's connection id
// ("host:port[-7]").
func heartbeatAddr(connID string) string {
	if i := strings.LastIndex(connID, "[-"); i >= 0 {
		return connID[:i]
	}
	return connID
}

// heartbeatStarted starts waiting for the heartbeat's answer: an awaited one
// (a server that streams its state) may take the heartbeat interval.
// A heartbeat that opens the monitoring connection (id "0") is bounded by the
// connect timeout, and not followed.
func (a *availability) heartbeatStarted(e *event.ServerHeartbeatStartedEvent) {
	if !strings.Contains(e.ConnectionID, "[-") || a.hangAfter == 0 {
		return
	}
	addr := heartbeatAddr(e.ConnectionID)
	wait := a.hangAfter
	if e.Awaited {
		wait += a.interval
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if b := a.beats[addr]; b != nil {
		b.timer.Stop()
	}
	b := &heartbeat{}
	b.timer = time.AfterFunc(wait, func() { a.heartbeatLate(addr, b) })
	a.beats[addr] = b
}

// heartbeatEnded stops waiting; a success clears a hang.
func (a *availability) heartbeatEnded(connID string, ok bool) {
	addr := heartbeatAddr(connID)
	a.mu.Lock()
	if b := a.beats[addr]; b != nil {
		b.timer.Stop()
		delete(a.beats, addr)
	}
	a.mu.Unlock()
	if ok {
		a.hung.Store(false)
	}
}

// heartbeatLate marks the deployment hung if the late heartbeat went to a
// server that takes writes, and fails the calls in progress.
func (a *availability) heartbeatLate(addr string, b *heartbeat) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.beats[addr] != b || !a.writable[addr] {
		return
	}
	a.hung.Store(true)
	for c := range a.calls {
		c.abort()
	}
}

// downWait is how long a call waits for a server while the deployment is known
// to be down: long enough for one that has just come back to be found (a
// waiting call makes the driver check at once), short enough to fail fast.
const downWait = 300 * time.Millisecond

// guard returns the context for one call: while the deployment is down or
// hung, one that ends within downWait; otherwise one that ends when the
// deployment is found hung. Cancel it when the call is done.
func (a *availability) guard(ctx context.Context) (context.Context, context.CancelFunc) {
	if a == nil {
		return ctx, func() {}
	}
	if a.down.Load() || a.hung.Load() {
		return context.WithTimeout(ctx, downWait)
	}
	c := &call{Context: ctx, done: make(chan struct{})}
	stop := context.AfterFunc(ctx, func() { c.end(ctx.Err()) })
	a.mu.Lock()
	a.calls[c] = true
	a.mu.Unlock()
	return c, func() {
		stop()
		a.mu.Lock()
		delete(a.calls, c)
		a.mu.Unlock()
		c.end(context.Canceled)
	}
}

// errHung is the error of a call failed because the deployment hung. It is a
// cancellation for the driver, which closes the connection of a cancelled call
// (on a deadline it would rely on the socket's, the call's own), and
// ErrUnavailable for wrap.
var errHung error = hungError{}

type hungError struct{}

func (hungError) Error() string { return "the database stopped answering" }

func (hungError) Is(target error) bool { return target == context.Canceled } //nolint:errorlint // a sentinel

// call is the context of a call in progress: its parent's, ended early when
// the deployment is found hung.
type call struct {
	context.Context
	done chan struct{}
	mu   sync.Mutex
	err  error
}

func (c *call) Done() <-chan struct{} { return c.done }

func (c *call) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *call) abort() { c.end(errHung) }

func (c *call) end(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
		close(c.done)
	}
}

// poolStats follows the driver's connection pool.
type poolStats struct {
	open, inUse atomic.Int64
}

func (p *poolStats) event(e *event.PoolEvent) {
	switch e.Type {
	case event.ConnectionCreated:
		p.open.Add(1)
	case event.ConnectionClosed:
		p.open.Add(-1)
	case event.ConnectionCheckedOut:
		p.inUse.Add(1)
	case event.ConnectionCheckedIn:
		p.inUse.Add(-1)
	}
}

// PoolConnections returns how many connections to the server are open and how
// many of them are in use now.
func (db *DB) PoolConnections() (open, inUse int64) {
	return db.pool.open.Load(), db.pool.inUse.Load()
}

// Option changes how Open connects.
type Option func(*openConfig)

type openConfig struct {
	client    *options.ClientOptions
	exclusive bool
	inProcess bool
	prepare   func(ctx context.Context, collection string) error
}

// WithCommandMonitor has m told of every command (tracing uses it); nil is no
// monitor.
func WithCommandMonitor(m *event.CommandMonitor) Option {
	return func(o *openConfig) {
		if m != nil {
			o.client.SetMonitor(m)
		}
	}
}

// Exclusive declares this process the database's only client, as paperd is of
// its embedded FerretDB (which listens on a private socket). Conditional writes
// (a paper's version, a lease) are then made atomic by serialising them in the
// process, each a read and a write by _id alone, which the embedded database
// answers from an index. Without it they are single conditional operations,
// which MongoDB makes atomic across any number of clients but FerretDB does not
// (and which FerretDB answers by scanning the collection).
func Exclusive() Option {
	return func(o *openConfig) { o.exclusive = true }
}

// InProcess says that the server runs inside this process (the embedded
// FerretDB): it cannot hang while this process runs, so a late heartbeat is
// load on this process, not a hung server, and never fails calls. Without it, a
// heavily loaded paperd took its own database for hung and failed calls that
// would have succeeded.
func InProcess() Option {
	return func(o *openConfig) { o.inProcess = true }
}

// PrepareCollections has prepare called with the name of each collection of
// change payloads (there is one for every five minutes of changes) before this
// process first writes to it, once the collection exists and while it is still
// empty, or nearly: the embedded FerretDB indexes its _id then (see
// embedded.DB.IndexIDs), rather than at the next start, when the collection may
// hold gigabytes that SQLite reads whole to build the index. An error of prepare
// fails the write that needed it; the next write tries again.
func PrepareCollections(prepare func(ctx context.Context, collection string) error) Option {
	return func(o *openConfig) { o.prepare = prepare }
}

// Open connects to the server at uri and uses the database name. It does not wait
// for the server: use Ping to learn whether it is reachable.
func Open(uri, name string, opts ...Option) (*DB, error) {
	// Defaults first, so that options in the URI win.
	pool := &poolStats{}
	avail := &availability{beats: map[string]*heartbeat{}, calls: map[*call]bool{}, hangAfter: hangAfter}
	avail.down.Store(true) // until the first server is found
	cfg := openConfig{client: options.Client().
		SetServerSelectionTimeout(5 * time.Second).
		SetConnectTimeout(5 * time.Second).
		// Frequent heartbeats (the driver's minimum) notice a hung server soon.
		SetHeartbeatInterval(500 * time.Millisecond).
		SetAppName("paperd").
		SetPoolMonitor(&event.PoolMonitor{Event: pool.event}).
		SetServerMonitor(&event.ServerMonitor{
			TopologyDescriptionChanged: avail.topologyChanged,
			ServerHeartbeatStarted:     avail.heartbeatStarted,
			ServerHeartbeatSucceeded: func(e *event.ServerHeartbeatSucceededEvent) {
				avail.heartbeatEnded(e.ConnectionID, true)
			},
			ServerHeartbeatFailed: func(e *event.ServerHeartbeatFailedEvent) { avail.heartbeatEnded(e.ConnectionID, false) },
		}).
		ApplyURI(uri)}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.inProcess {
		avail.hangAfter = 0 // off
	}
	avail.interval = 10 * time.Second
	if cfg.client.HeartbeatInterval != nil {
		avail.interval = *cfg.client.HeartbeatInterval
	}
	client, err := mongo.Connect(cfg.client)
	if err != nil {
		return nil, fmt.Errorf("connect to MongoDB: %w", err)
	}
	db := &DB{client: client, db: client.Database(name), pool: pool, avail: avail,
		prepared: &preparer{prepare: cfg.prepare, done: map[string]bool{}}}
	if cfg.exclusive {
		db.locks = &keylock.Set{}
	}
	return db, nil
}

// Close disconnects from the server.
func (db *DB) Close(ctx context.Context) error {
	return db.client.Disconnect(ctx)
}

// hangAfter is how much longer than it should a heartbeat may take before the
// server is taken for hung. A live server answers a hello in milliseconds, but
// the embedded FerretDB under a heavy write load once took over a second (in
// make bench's upvote run, which a hang found then failed): the margin is 2 s.
const hangAfter = 2 * time.Second

// Ping checks that the server answers. Returns repository.ErrUnavailable if not,
// within downWait when the deployment is known to be down or hung.
func (db *DB) Ping(ctx context.Context) error {
	ctx, cancel := db.avail.guard(ctx)
	defer cancel()
	return wrap(db.client.Ping(ctx, nil))
}

// Drop drops the whole database. Tests use it to clean up.
func (db *DB) Drop(ctx context.Context) error {
	return wrap(db.db.Drop(ctx))
}

// Migrate creates the collections and their indexes. It is idempotent: existing
// collections and indexes are kept. On FerretDB the indexes are created but reads
// do not use them.
func (db *DB) Migrate(ctx context.Context) error {
	if err := db.createCollections(ctx); err != nil {
		return err
	}
	type index struct {
		coll, name string
		keys       bson.D
	}
	indexes := []index{
		{papersCollection, "submit_time", bson.D{{Key: "submit_time", Value: -1}}},
		{papersCollection, "organization_id", bson.D{{Key: "organization.id", Value: 1}}},
		{papersCollection, "upvotes", bson.D{{Key: "upvotes", Value: -1}}},
		{changesCollection, "time", bson.D{{Key: "time", Value: 1}}},
		{votesCollection, "paper_id", bson.D{{Key: "paper_id", Value: 1}}},
	}
	existing := map[string]map[string]bool{}
	for _, idx := range indexes {
		if existing[idx.coll] == nil {
			names, err := db.indexNames(ctx, idx.coll)
			if err != nil {
				return err
			}
			existing[idx.coll] = names
		}
		// Only missing indexes are created: FerretDB v1.24 panics on a
		// createIndexes that names an index which already exists.
		if existing[idx.coll][idx.name] {
			continue
		}
		model := mongo.IndexModel{Keys: idx.keys, Options: options.Index().SetName(idx.name)}
		if _, err := db.db.Collection(idx.coll).Indexes().CreateOne(ctx, model); err != nil {
			return fmt.Errorf("create index %s on %s: %w", idx.name, idx.coll, wrap(err))
		}
	}
	return nil
}

// createCollections creates the collections that exist for the life of the
// database (not those of a change-log period or a digest edition), so that
// whatever is done to existing collections at start (embedded.DB.IndexIDs) finds
// them all.
func (db *DB) createCollections(ctx context.Context) error {
	names, err := db.db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		return fmt.Errorf("list collections: %w", wrap(err))
	}
	for _, name := range []string{papersCollection, changesCollection, votesCollection, secretsCollection,
		stateCollection, leasesCollection, subscriptionsCollection, addressesCollection, tokensCollection} {
		if slices.Contains(names, name) {
			continue
		}
		if err := db.db.CreateCollection(ctx, name); err != nil {
			var ce mongo.CommandError
			if errors.As(err, &ce) && ce.Code == 48 { // NamespaceExists: another replica made it
				continue
			}
			return fmt.Errorf("create collection %s: %w", name, wrap(err))
		}
	}
	return nil
}

func (db *DB) indexNames(ctx context.Context, coll string) (map[string]bool, error) {
	specs, err := db.db.Collection(coll).Indexes().ListSpecifications(ctx)
	if err != nil {
		return nil, fmt.Errorf("list indexes of %s: %w", coll, wrap(err))
	}
	names := map[string]bool{}
	for _, s := range specs {
		names[s.Name] = true
	}
	return names, nil
}

// wrap turns driver errors into repository errors: unreachable servers and timeouts
// become ErrUnavailable, duplicate keys ErrAlreadyExists, missing documents
// ErrNotFound. Anything else is returned as it is, to be logged as internal.
func wrap(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errHung):
		return fmt.Errorf("%w: %w", repository.ErrUnavailable, err)
	case errors.Is(err, mongo.ErrNoDocuments):
		return fmt.Errorf("%w: %w", repository.ErrNotFound, err)
	case mongo.IsDuplicateKeyError(err):
		return fmt.Errorf("%w: %w", repository.ErrAlreadyExists, err)
	case mongo.IsTimeout(err), mongo.IsNetworkError(err),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, mongo.ErrClientDisconnected):
		return fmt.Errorf("%w: %w", repository.ErrUnavailable, err)
	}
	var se mongo.ServerError
	if errors.As(err, &se) {
		return err
	}
	// Server selection failures are neither of the above.
	if errors.Is(err, context.Canceled) {
		return err
	}
	return fmt.Errorf("%w: %w", repository.ErrUnavailable, err)
}
