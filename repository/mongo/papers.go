package mongo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/zstd"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/papercatalog/papers/keylock"
	"github.com/papercatalog/papers/repository"
)

// Papers implements repository.Papers.
type Papers struct {
	avail    *availability
	locks    *keylock.Set // see Exclusive; nil: conditions go into the filter
	prepared *preparer    // see PrepareCollections
	db       *mongo.Database
	papers   *mongo.Collection
	changes  *mongo.Collection
}

var _ repository.Papers = (*Papers)(nil)

// NewPapers returns the paper store of db.
func NewPapers(db *DB) *Papers {
	return &Papers{
		avail:    db.avail,
		locks:    db.locks,
		prepared: db.prepared,
		db:       db.db,
		papers:   db.db.Collection(papersCollection),
		changes:  db.db.Collection(changesCollection),
	}
}

type paperDoc struct {
	ID              string      `bson:"_id"`
	ArxivVersion    int32       `bson:"arxiv_version,omitempty"`
	Title           string      `bson:"title"`
	Abstract        string      `bson:"abstract,omitempty"`
	Authors         []authorDoc `bson:"authors,omitempty"`
	Categories      []string    `bson:"categories,omitempty"`
	PrimaryCategory string      `bson:"primary_category,omitempty"`
	Keywords        []string    `bson:"keywords,omitempty"`
	PublishedTime   *time.Time  `bson:"published_time,omitempty"`
	ArxivUpdateTime *time.Time  `bson:"arxiv_update_time,omitempty"`
	SubmitTime      time.Time   `bson:"submit_time"`
	Submitter       string      `bson:"submitter,omitempty"`
	Organization    *orgDoc     `bson:"organization,omitempty"`
	GithubRepo      string      `bson:"github_repo,omitempty"`
	GithubStars     int64       `bson:"github_stars,omitempty"`
	ProjectPage     string      `bson:"project_page,omitempty"`
	PDFURL          string      `bson:"pdf_url,omitempty"`
	DOI             string      `bson:"doi,omitempty"`
	JournalRef      string      `bson:"journal_ref,omitempty"`
	Comment         string      `bson:"comment,omitempty"`
	BaseUpvotes     int64       `bson:"base_upvotes,omitempty"`
	Version         int64       `bson:"version"`
	CreateTime      time.Time   `bson:"create_time"`
	UpdateTime      time.Time   `bson:"update_time"`
	RequestID       string      `bson:"request_id,omitempty"`
}

type authorDoc struct {
	Name        string `bson:"name"`
	Affiliation string `bson:"affiliation,omitempty"`
}

type orgDoc struct {
	ID          string `bson:"id"`
	DisplayName string `bson:"display_name,omitempty"`
}

type changeDoc struct {
	ID      string          `bson:"_id"`
	PaperID string          `bson:"paper_id"`
	Version int64           `bson:"version"`
	Deleted bool            `bson:"deleted,omitempty"`
	Paper   *paperDoc       `bson:"paper,omitempty"`
	Votes   []voteRecordDoc `bson:"votes,omitempty"`
	Papers  []*paperDoc     `bson:"papers,omitempty"`
	Time    time.Time       `bson:"time"`
}

// payloadPeriod is how many seconds of changes' content share a collection.
const payloadPeriod = 300

// payloads returns the collection of the content of changes recorded at t.
func (s *Papers) payloads(t time.Time) *mongo.Collection {
	return s.db.Collection(payloadsPrefix + strconv.FormatInt(period(t), 10))
}

// headers returns the collection of the headers of changes recorded at t.
func (s *Papers) headers(t time.Time) *mongo.Collection {
	return s.db.Collection(headersPrefix + strconv.FormatInt(period(t), 10))
}

// legacyHeaders makes RecordChange write headers as paperd did before they had
// periods, into changesCollection (tests; see WriteLegacyHeaders).
var legacyHeaders = false

// period is the number of the change-log period of t.
func period(t time.Time) int64 { return t.Unix() / payloadPeriod }

// periods returns the names of the collections of the change log's periods
// (headers and payloads) with the number of each.
func (s *Papers) periods(ctx context.Context) (map[string]int64, error) {
	names, err := s.db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		return nil, wrap(err)
	}
	out := map[string]int64{}
	for _, name := range names {
		for _, prefix := range []string{headersPrefix, payloadsPrefix} {
			if n, ok := strings.CutPrefix(name, prefix); ok {
				if p, err := strconv.ParseInt(n, 10, 64); err == nil {
					out[name] = p
				}
			}
		}
	}
	return out, nil
}

// payloadDoc is a change's content: its changeDoc as BSON, compressed with zstd
// (Zstd), or, as written before, with snappy (Content). One binary field is far
// cheaper for FerretDB to convert and store than the nested documents of a batch
// of papers. zstd at its fastest level makes an import's batches about 0.36 of
// their size against snappy's 0.59 (measured on bench-scale's snapshot): the
// change log of an import is a large part of the data directory until pruned.
type payloadDoc struct {
	ID      string    `bson:"_id"`
	Time    time.Time `bson:"time"`
	Content []byte    `bson:"content,omitempty"`
	Zstd    []byte    `bson:"zstd,omitempty"`
}

// payloadCodec compresses and reads payloads; its EncodeAll and DecodeAll may
// be called concurrently.
var payloadCodec = struct {
	enc *zstd.Encoder
	dec *zstd.Decoder
}{
	enc: must(zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(2))),
	// A change is at most a batch of an import: far under the limit.
	dec: must(zstd.NewReader(nil, zstd.WithDecoderConcurrency(2), zstd.WithDecoderMaxMemory(1<<30))),
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// compressPayload sets p's content to raw, compressed. A variable: tests write
// payloads as earlier versions did.
var compressPayload = func(p *payloadDoc, raw []byte) { p.Zstd = payloadCodec.enc.EncodeAll(raw, nil) }

// raw returns the payload's changeDoc as BSON.
func (p *payloadDoc) raw() ([]byte, error) {
	if p.Zstd != nil {
		return payloadCodec.dec.DecodeAll(p.Zstd, nil)
	}
	return snappy.Decode(nil, p.Content)
}

// changeRefDoc is a change log header.
type changeRefDoc struct {
	ID   string    `bson:"_id"`
	Time time.Time `bson:"time"`
}

type voteRecordDoc struct {
	PaperID string `bson:"paper_id"`
	User    string `bson:"user"`
	Added   bool   `bson:"added"`
	Version int64  `bson:"version"`
	Prev    int64  `bson:"prev,omitempty"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func derefTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

func toDoc(p *repository.Paper) *paperDoc {
	d := &paperDoc{
		ID: p.ID, ArxivVersion: p.ArxivVersion, Title: p.Title, Abstract: p.Abstract,
		Categories: p.Categories, PrimaryCategory: p.PrimaryCategory, Keywords: p.Keywords,
		PublishedTime: optTime(p.PublishedTime), ArxivUpdateTime: optTime(p.ArxivUpdateTime),
		SubmitTime: p.SubmitTime, Submitter: p.Submitter, GithubRepo: p.GithubRepo,
		GithubStars: p.GithubStars, ProjectPage: p.ProjectPage, PDFURL: p.PDFURL, DOI: p.DOI,
		JournalRef: p.JournalRef, Comment: p.Comment, BaseUpvotes: p.BaseUpvotes, Version: p.Version,
		CreateTime: p.CreateTime, UpdateTime: p.UpdateTime, RequestID: p.RequestID,
	}
	for _, a := range p.Authors {
		d.Authors = append(d.Authors, authorDoc(a))
	}
	if p.Organization != (repository.Organization{}) {
		d.Organization = &orgDoc{ID: p.Organization.ID, DisplayName: p.Organization.DisplayName}
	}
	return d
}

func fromDoc(d *paperDoc) *repository.Paper {
	p := &repository.Paper{
		ID: d.ID, ArxivVersion: d.ArxivVersion, Title: d.Title, Abstract: d.Abstract,
		Categories: d.Categories, PrimaryCategory: d.PrimaryCategory, Keywords: d.Keywords,
		PublishedTime: derefTime(d.PublishedTime), ArxivUpdateTime: derefTime(d.ArxivUpdateTime),
		SubmitTime: d.SubmitTime.UTC(), Submitter: d.Submitter, GithubRepo: d.GithubRepo,
		GithubStars: d.GithubStars, ProjectPage: d.ProjectPage, PDFURL: d.PDFURL, DOI: d.DOI,
		JournalRef: d.JournalRef, Comment: d.Comment, BaseUpvotes: d.BaseUpvotes, Upvotes: d.BaseUpvotes, Version: d.Version,
		CreateTime: d.CreateTime.UTC(), UpdateTime: d.UpdateTime.UTC(), RequestID: d.RequestID,
	}
	for _, a := range d.Authors {
		p.Authors = append(p.Authors, repository.Author(a))
	}
	if d.Organization != nil {
		p.Organization = repository.Organization{ID: d.Organization.ID, DisplayName: d.Organization.DisplayName}
	}
	return p
}

// Create implements repository.Papers.
func (s *Papers) Create(ctx context.Context, p *repository.Paper) error {
	ctx, cancel := s.avail.guard(ctx)
	defer cancel()
	if _, err := s.papers.InsertOne(ctx, toDoc(p)); err != nil {
		return fmt.Errorf("insert paper %s: %w", p.ID, wrap(err))
	}
	return nil
}

// Get implements repository.Papers.
func (s *Papers) Get(ctx context.Context, id string) (*repository.Paper, error) {
	ctx, cancel := s.avail.guard(ctx)
	defer cancel()
	var d paperDoc
	if err := s.papers.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d); err != nil {
		return nil, fmt.Errorf("get paper %s: %w", id, wrap(err))
	}
	return fromDoc(&d), nil
}

// Update implements repository.Papers. Its arbiter: on MongoDB, the filter
// {_id, version}, which the server applies atomically; with Exclusive, the
// paper's lock in this process, held across a read and a replace by _id.
func (s *Papers) Update(ctx context.Context, p *repository.Paper, prevVersion int64) error {
	ctx, cancel := s.avail.guard(ctx)
	defer cancel()
	filter := bson.D{{Key: "_id", Value: p.ID}}
	if s.locks != nil {
		defer s.locks.Lock(p.ID)()
		if err := s.checkVersion(ctx, p.ID, prevVersion); err != nil {
			return err
		}
	} else {
		filter = append(filter, bson.E{Key: "version", Value: prevVersion})
	}
	res, err := s.papers.ReplaceOne(ctx, filter, toDoc(p))
	if err != nil {
		return fmt.Errorf("update paper %s: %w", p.ID, wrap(err))
	}
	if res.MatchedCount == 0 {
		return s.missOrConflict(ctx, p.ID)
	}
	return nil
}

// checkVersion returns ErrNotFound if paper id is absent, ErrConflict if its
// stored version is not version (0: any).
func (s *Papers) checkVersion(ctx context.Context, id string, version int64) error {
	var d struct {
		Version int64 `bson:"version"`
	}
	err := s.papers.FindOne(ctx, bson.D{{Key: "_id", Value: id}},
		options.FindOne().SetProjection(bson.D{{Key: "version", Value: 1}})).Decode(&d)
	if err != nil {
		return fmt.Errorf("get paper %s: %w", id, wrap(err))
	}
	if version != 0 && d.Version != version {
		return fmt.Errorf("paper %s: %w", id, repository.ErrConflict)
	}
	return nil
}

// Delete implements repository.Papers, with Update's arbiter.
func (s *Papers) Delete(ctx context.Context, id string, version int64) error {
	ctx, cancel := s.avail.guard(ctx)
	defer cancel()
	filter := bson.D{{Key: "_id", Value: id}}
	if s.locks != nil {
		defer s.locks.Lock(id)()
		if err := s.checkVersion(ctx, id, version); err != nil {
			return err
		}
	} else if version != 0 {
		filter = append(filter, bson.E{Key: "version", Value: version})
	}
	res, err := s.papers.DeleteOne(ctx, filter)
	if err != nil {
		return fmt.Errorf("delete paper %s: %w", id, wrap(err))
	}
	if res.DeletedCount == 0 {
		return s.missOrConflict(ctx, id)
	}
	return nil
}

// missOrConflict tells why a conditional write by _id and version matched nothing.
func (s *Papers) missOrConflict(ctx context.Context, id string) error {
	if _, err := s.Get(ctx, id); err != nil {
		return err
	}
	return fmt.Errorf("paper %s: %w", id, repository.ErrConflict)
}

// All implements repository.Papers.
func (s *Papers) All(ctx context.Context, fn func(*repository.Paper) error) error {
	ctx, cancel := s.avail.guard(ctx)
	defer cancel()
	return scan(ctx, s.papers, "scan papers", "decode paper", func(d *paperDoc) error {
		return fn(fromDoc(d))
	}, options.Find().SetBatchSize(1000))
}

// RecordChange implements repository.Papers: the content first, then the header
// that makes it visible, so a listed change can always be loaded (until pruned).
func (s *Papers) RecordChange(ctx context.Context, c repository.Change) (string, error) {
	ctx, cancel := s.avail.guard(ctx)
	defer cancel()
	d := changeDoc{
		ID:      fmt.Sprintf("%020d/%s/%d", c.Time.UnixNano(), c.PaperID, c.Version),
		PaperID: c.PaperID, Version: c.Version, Deleted: c.Deleted, Time: c.Time,
	}
	if c.Paper != nil {
		d.Paper = toDoc(c.Paper)
	}
	for _, v := range c.Votes {
		d.Votes = append(d.Votes, voteRecordDoc(v))
	}
	if len(c.Votes) > 0 {
		d.ID += fmt.Sprintf("/votes/%d/%d/%s", len(c.Votes), c.Votes[0].Version, c.Votes[0].User)
	}
	for _, p := range c.Papers {
		d.Papers = append(d.Papers, toDoc(p))
	}
	if len(c.Papers) > 0 {
		d.ID += fmt.Sprintf("/papers/%d/%s/%d", len(c.Papers), c.Papers[0].ID, c.Papers[0].Version)
	}
	raw, err := bson.Marshal(d)
	if err != nil {
		return "", fmt.Errorf("record change of %s: %w", c.PaperID, err)
	}
	payload := payloadDoc{ID: d.ID, Time: c.Time}
	compressPayload(&payload, raw)
	payloads := s.payloads(c.Time)
	if err := s.prepared.ensure(ctx, s.db, payloads.Name()); err != nil {
		return "", fmt.Errorf("record change of %s: %w", c.PaperID, err)
	}
	if _, err := payloads.InsertOne(ctx, payload); err != nil && !mongo.IsDuplicateKeyError(err) {
		return "", fmt.Errorf("record change of %s: %w", c.PaperID, wrap(err))
	}
	headers := s.headers(c.Time)
	if legacyHeaders {
		headers = s.changes
	}
	if err := s.prepared.ensure(ctx, s.db, headers.Name()); err != nil {
		return "", fmt.Errorf("record change of %s: %w", c.PaperID, err)
	}
	if _, err := headers.InsertOne(ctx, changeRefDoc{ID: d.ID, Time: c.Time}); err != nil && !mongo.IsDuplicateKeyError(err) {
		return "", fmt.Errorf("record change of %s: %w", c.PaperID, wrap(err))
	}
	return d.ID, nil
}

// ChangesSince implements repository.Papers. It reads the headers of the
// periods that end after t, and those recorded before headers had periods.
func (s *Papers) ChangesSince(ctx context.Context, t time.Time) ([]repository.ChangeRef, error) {
	ctx, cancel := s.avail.guard(ctx)
	defer cancel()
	periods, err := s.periods(ctx)
	if err != nil {
		return nil, fmt.Errorf("read changes: %w", err)
	}
	read := []*mongo.Collection{s.changes}
	for name, p := range periods {
		if strings.HasPrefix(name, headersPrefix) && p >= period(t) {
			read = append(read, s.db.Collection(name))
		}
	}
	since := bson.D{{Key: "time", Value: bson.D{{Key: "$gte", Value: t}}}}
	var out []repository.ChangeRef
	for _, coll := range read {
		refs, err := findAll(ctx, coll, since, "read changes",
			func(d *changeRefDoc) repository.ChangeRef { return repository.ChangeRef{ID: d.ID, Time: d.Time.UTC()} })
		if err != nil {
			return nil, err
		}
		out = append(out, refs...)
	}
	slices.SortFunc(out, func(a, b repository.ChangeRef) int {
		return cmp.Or(a.Time.Compare(b.Time), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

// LoadChange implements repository.Papers. A change pruned since it was listed is
// ErrNotFound.
func (s *Papers) LoadChange(ctx context.Context, ref repository.ChangeRef) (repository.Change, error) {
	ctx, cancel := s.avail.guard(ctx)
	defer cancel()
	var p payloadDoc
	err := s.payloads(ref.Time).FindOne(ctx, bson.D{{Key: "_id", Value: ref.ID}}).Decode(&p)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return repository.Change{}, repository.ErrNotFound
	}
	if err != nil {
		return repository.Change{}, fmt.Errorf("read change %s: %w", ref.ID, wrap(err))
	}
	raw, err := p.raw()
	if err != nil {
		return repository.Change{}, fmt.Errorf("read change %s: %w", ref.ID, err)
	}
	var d changeDoc
	if err := bson.Unmarshal(raw, &d); err != nil {
		return repository.Change{}, fmt.Errorf("read change %s: %w", ref.ID, err)
	}
	c := repository.Change{PaperID: d.PaperID, Version: d.Version, Deleted: d.Deleted, Time: d.Time.UTC()}
	if d.Paper != nil {
		c.Paper = fromDoc(d.Paper)
	}
	for _, v := range d.Votes {
		c.Votes = append(c.Votes, repository.VoteRecord(v))
	}
	for _, p := range d.Papers {
		c.Papers = append(c.Papers, fromDoc(p))
	}
	return c, nil
}

// prunesCollection records the times PruneChanges pruned before: one
// document each (prunedDoc), by time, and only the latest is kept.
const prunesCollection = "change_log_prunes"

type prunedDoc struct {
	ID     string    `bson:"_id"` // Before's Unix nanoseconds, zero-padded: their order is the times'
	Before time.Time `bson:"before"`
}

// PruneChanges implements repository.Papers. It records t before it removes
// anything, by an insert: the unique _id is the arbiter when replicas prune at
// once (an update's condition is not atomic on the embedded database), and each
// pruner then removes only the records before its own, so the latest stays.
// A kill between the record and the removal leaves changes the record says may
// be gone; that costs a replica starting from an older checkpoint a load from
// the database, never a change it misses.
func (s *Papers) PruneChanges(ctx context.Context, t time.Time) error {
	ctx, cancel := s.avail.guard(ctx)
	defer cancel()
	prunes := s.db.Collection(prunesCollection)
	id := fmt.Sprintf("%020d", t.UnixNano())
	if _, err := prunes.InsertOne(ctx, prunedDoc{ID: id, Before: t}); err != nil && !mongo.IsDuplicateKeyError(err) {
		return fmt.Errorf("prune changes: record the time: %w", wrap(err))
	}
	if _, err := prunes.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$lt", Value: id}}}}); err != nil {
		return fmt.Errorf("prune changes: %w", wrap(err))
	}
	before := bson.D{{Key: "time", Value: bson.D{{Key: "$lt", Value: t}}}}
	if _, err := s.changes.DeleteMany(ctx, before); err != nil {
		return fmt.Errorf("prune changes: %w", wrap(err))
	}
	periods, err := s.periods(ctx)
	if err != nil {
		return fmt.Errorf("prune changes: %w", err)
	}
	for name, n := range periods {
		if (n+1)*payloadPeriod > t.Unix() {
			continue // not over before t
		}
		if err := s.db.Collection(name).Drop(ctx); err != nil {
			return fmt.Errorf("prune changes: %w", wrap(err))
		}
	}
	return nil
}

// PrunedBefore implements repository.Papers.
func (s *Papers) PrunedBefore(ctx context.Context) (time.Time, bool, error) {
	ctx, cancel := s.avail.guard(ctx)
	defer cancel()
	// A few documents at most: the latest record, and those of prunes that
	// raced it.
	prunes, err := findAll(ctx, s.db.Collection(prunesCollection), bson.D{}, "read when the change log was pruned",
		func(d *prunedDoc) time.Time { return d.Before.UTC() })
	if err != nil || len(prunes) == 0 {
		return time.Time{}, false, err
	}
	return slices.MaxFunc(prunes, time.Time.Compare), true, nil
}

// InsertMany implements repository.Papers, as one unordered insert. It records
// no change for other replicas; the caller does.
func (s *Papers) InsertMany(ctx context.Context, papers []*repository.Paper) (map[string]bool, error) {
	ctx, cancel := s.avail.guard(ctx)
	defer cancel()
	if len(papers) == 0 {
		return nil, nil
	}
	docs := make([]any, len(papers))
	for i, p := range papers {
		docs[i] = toDoc(p)
	}
	_, err := s.papers.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if err == nil {
		return nil, nil
	}
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) || bwe.WriteConcernError != nil || len(bwe.WriteErrors) == 0 {
		return nil, fmt.Errorf("insert papers: %w", wrap(err))
	}
	dups := map[string]bool{}
	for _, we := range bwe.WriteErrors {
		if !mongo.IsDuplicateKeyError(we) || we.Index < 0 || we.Index >= len(papers) {
			return nil, fmt.Errorf("insert papers: %w", wrap(err))
		}
		dups[papers[we.Index].ID] = true
	}
	return dups, nil
}
