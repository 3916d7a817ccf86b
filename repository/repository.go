// Package repository holds the catalog's domain types, the interfaces of its stores
// and the errors they return. Implementations live in sub-packages named after what
// they wrap (repository/mongo); the service layer depends only on this package.
package repository

import (
	"context"
	"errors"
	"time"
)

// Errors returned by repositories, wrapped with %w; test with errors.Is.
var (
	// ErrNotFound means the addressed record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists means a record with the same key exists.
	ErrAlreadyExists = errors.New("already exists")
	// ErrConflict means a conditional write lost: the record changed since the
	// version (etag) the caller sent.
	ErrConflict = errors.New("conflict")
	// ErrUnavailable means the database could not be reached in time.
	ErrUnavailable = errors.New("database unavailable")
)

// Paper is a research paper in the catalog.
type Paper struct {
	// ID is the arXiv identifier without version, as arXiv writes it
	// (`2111.13056`, `hep-th/9901001`).
	ID              string
	ArxivVersion    int32
	Title           string
	Abstract        string
	Authors         []Author
	Categories      []string
	PrimaryCategory string
	Keywords        []string
	PublishedTime   time.Time
	ArxivUpdateTime time.Time
	SubmitTime      time.Time
	Submitter       string
	Organization    Organization
	GithubRepo      string
	GithubStars     int64
	ProjectPage     string
	PDFURL          string
	DOI             string
	JournalRef      string
	Comment         string
	// BaseUpvotes is the upvote count the paper was imported with from elsewhere.
	BaseUpvotes int64
	// Upvotes is BaseUpvotes plus the upvotes of this catalog's users; the read
	// model computes it, stores do not keep it.
	Upvotes int64
	// Version increases on every write; the etag is derived from it. It is the
	// writer's clock in nanoseconds, or the previous version plus one when that is
	// larger, so versions of one paper only grow, across deletes and re-creates too.
	Version    int64
	CreateTime time.Time
	UpdateTime time.Time
	// RequestID is the request_id of the create that made the paper, if any.
	RequestID string
}

// Author is one author of a paper.
type Author struct {
	Name        string
	Affiliation string
}

// Organization is an organization papers are attributed to.
type Organization struct {
	ID          string
	DisplayName string
}

// Change is one write to a paper, as recorded for other replicas: the paper after
// the write, or a deletion.
type Change struct {
	// PaperID is the changed paper's ID.
	PaperID string
	// Version is the paper's version after the write (for a deletion: a version
	// larger than the deleted one).
	Version int64
	// Deleted reports a deletion; Paper is nil then.
	Deleted bool
	// Paper is the paper after the write.
	Paper *Paper
	// Time is when the change was recorded, by the writer's clock.
	Time time.Time
	// Votes, when set, makes this a batch of upvote changes of any papers, each
	// with its own paper and version; the other fields are unused then.
	Votes []VoteRecord
	// Papers, when set, makes this a batch of papers after their writes (an
	// import's); the other fields are unused then.
	Papers []*Paper
}

// ChangeRef identifies a recorded change.
type ChangeRef struct {
	ID   string
	Time time.Time
}

// VoteRecord is one upvote change in a batch.
type VoteRecord struct {
	PaperID string
	User    string
	Added   bool
	Version int64
	// Prev is the version of the user's previous record for the paper (0: none).
	// A record has at most one successor: of two changes made from the same
	// previous record, the store keeps the first.
	Prev int64
}

// Vote is one user's upvote of one paper.
type Vote struct {
	PaperID string
	User    string
}

// Votes stores upvotes as a log of changes: each upvote and each removal is a
// record with its version, and a user's latest record for a paper says whether
// the vote stands. Appending is what the embedded database does fast; deleting or
// updating a single document scans the whole collection there.
type Votes interface {
	// RecordVotes appends changes. A change already recorded (same paper, user
	// and version) is skipped, so retrying a batch is harmless. A change whose
	// predecessor (Prev) has another successor already is not recorded: its
	// index is in lost. This is the arbiter between concurrent changes of one
	// user's vote, on every backend and across replicas.
	RecordVotes(ctx context.Context, changes []VoteRecord) (lost []int, err error)
	// UserVotes returns the recorded changes of one user's vote on one paper.
	UserVotes(ctx context.Context, paperID, user string) ([]VoteRecord, error)
	// Stored returns, for each of changes, the change stored from the same
	// predecessor (the change itself, or the one that won against it), leaving out
	// those of which none is stored: what became of changes whose outcome is
	// unknown.
	Stored(ctx context.Context, changes []VoteRecord) ([]VoteRecord, error)
	// AllVotes calls fn for every recorded change, in no particular order.
	AllVotes(ctx context.Context, fn func(VoteRecord) error) error
}

// Papers stores papers. It is the source of truth; reads that users make often are
// served by the read model (package readmodel), which it feeds.
type Papers interface {
	// Create inserts p. Returns ErrAlreadyExists if a paper with p.ID exists.
	Create(ctx context.Context, p *Paper) error
	// Get returns the paper with the given ID. Returns ErrNotFound if absent.
	Get(ctx context.Context, id string) (*Paper, error)
	// Update replaces the stored paper p.ID, provided its version is still
	// prevVersion. Returns ErrNotFound if absent, ErrConflict if the version moved.
	Update(ctx context.Context, p *Paper, prevVersion int64) error
	// Delete removes the paper id, provided its version is version (0: any).
	// Returns ErrNotFound if absent, ErrConflict if the version moved.
	Delete(ctx context.Context, id string, version int64) error
	// All calls fn for every stored paper, in no particular order.
	All(ctx context.Context, fn func(*Paper) error) error
	// InsertMany inserts new papers in one request. Papers whose ID exists already
	// are not inserted and come back in dups; the others are stored.
	InsertMany(ctx context.Context, papers []*Paper) (dups map[string]bool, err error)
	// RecordChange appends c to the change log other replicas read, and returns
	// the change's ID.
	RecordChange(ctx context.Context, c Change) (string, error)
	// ChangesSince lists the changes recorded at or after t, oldest first,
	// without their content: a replica loads only the ones it has not applied.
	ChangesSince(ctx context.Context, t time.Time) ([]ChangeRef, error)
	// LoadChange returns a listed change with its content.
	LoadChange(ctx context.Context, ref ChangeRef) (Change, error)
	// PruneChanges removes changes recorded before t.
	PruneChanges(ctx context.Context, t time.Time) error
	// PrunedBefore returns the latest time PruneChanges was called with: every
	// change recorded at or after it is still listed. ok is false when no
	// prune was recorded (a database of an earlier version may have pruned
	// without recording it).
	PrunedBefore(ctx context.Context) (t time.Time, ok bool, err error)
}
