package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"

	"github.com/papercatalog/papers/clock"
	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	"github.com/papercatalog/papers/repository"
)

// importBatch is how many records ImportPapers stores at once.
const importBatch = 1000

// maxRejections is how many rejections an import response lists.
const maxRejections = 1000

// arxivFields are the fields of the arXiv metadata, which a newer arXiv version
// replaces and anything else only fills in.
var arxivFields = []string{
	"title", "abstract", "authors", "categories", "primary_category", "published_time",
	"arxiv_update_time", "submitter", "pdf_url", "doi", "journal_ref", "comment",
}

// catalogFields are taken from any record that has them.
var catalogFields = []string{"keywords", "github_repo", "github_stars", "project_page", "submit_time"}

// ImportPapers implements catalogv1.CatalogServiceServer.
func (s *Catalog) ImportPapers(stream catalogv1.CatalogService_ImportPapersServer) error {
	ctx := stream.Context()
	run := &ImportRun{s: s, Response: &catalogv1.ImportPapersResponse{}}
	var batch []*catalogv1.ImportRecord
	var n int64
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if len(req.GetRecords()) > maxBatch {
			var v violations
			v.add("records", "must have at most %d records a message", maxBatch)
			return s.fail(ctx, "ImportPapers", v.err())
		}
		for _, r := range req.GetRecords() {
			n++
			if r.GetPosition() == 0 {
				r.Position = n
			}
			batch = append(batch, r)
			if len(batch) == importBatch {
				if err := run.Add(ctx, batch); err != nil {
					return s.fail(ctx, "ImportPapers", err)
				}
				batch = batch[:0]
			}
		}
	}
	if err := run.Add(ctx, batch); err != nil {
		return s.fail(ctx, "ImportPapers", err)
	}
	s.Log.InfoContext(ctx, "import done", "created", run.Response.GetCreated(), "updated", run.Response.GetUpdated(),
		"unchanged", run.Response.GetUnchanged(), "rejected", run.Response.GetRejected())
	return stream.SendAndClose(run.Response)
}

// ImportRun imports records batch by batch and counts what happened to them. The
// arXiv poller uses it directly.
type ImportRun struct {
	s        *Catalog
	Response *catalogv1.ImportPapersResponse
}

// NewImportRun starts an import into s.
func (s *Catalog) NewImportRun() *ImportRun {
	return &ImportRun{s: s, Response: &catalogv1.ImportPapersResponse{}}
}

func (r *ImportRun) reject(rec *catalogv1.ImportRecord, reason string) {
	r.Response.Rejected++
	if len(r.Response.Rejections) < maxRejections {
		r.Response.Rejections = append(r.Response.Rejections, &catalogv1.ImportRejection{
			Position: rec.GetPosition(), PaperId: rec.GetPaperId(), Reason: reason})
	}
}

// pending is a paper the batch writes, with the record it came from.
type pending struct {
	rec  *catalogv1.ImportRecord
	prev *repository.Paper // nil for a new paper
	next *repository.Paper
}

// Add imports a batch of records. An error means the database failed; records it
// stored before stay stored.
func (r *ImportRun) Add(ctx context.Context, records []*catalogv1.ImportRecord) error {
	created, updated, unchanged, rejected := r.Response.Created, r.Response.Updated, r.Response.Unchanged, r.Response.Rejected
	defer func() {
		st := &r.s.Stats
		st.ImportCreated.Add(r.Response.Created - created)
		st.ImportUpdated.Add(r.Response.Updated - updated)
		st.ImportUnchanged.Add(r.Response.Unchanged - unchanged)
		st.ImportRejected.Add(r.Response.Rejected - rejected)
	}()
	if len(records) == 0 {
		return nil
	}
	// Real time: Importing tells the indexer that imports are busy now.
	r.s.lastImport.Store(time.Now().UnixNano())
	defer r.s.lastImport.Store(time.Now().UnixNano())
	t := r.s.now()
	var order []string
	byID := map[string]*pending{}
	for _, rec := range records {
		id, in, reason := importedPaper(rec)
		if reason != "" {
			r.reject(rec, reason)
			continue
		}
		pd := byID[id]
		var cur *repository.Paper
		if pd != nil {
			cur = pd.next // the same paper twice in one batch: merge onto the first
		} else if p, ok := r.s.Model.Get(id); ok {
			cur = p
		}
		next := mergeImport(cur, in, rec, t)
		var v violations
		validatePaper(&v, "paper.", next)
		if len(v) > 0 {
			r.reject(rec, v[0].GetField()+": "+v[0].GetDescription())
			continue
		}
		if cur != nil && sameContent(cur, next) {
			if pd == nil {
				r.Response.Unchanged++
			}
			continue
		}
		if pd == nil {
			pd = &pending{rec: rec, prev: cur}
			byID[id] = pd
			order = append(order, id)
		}
		pd.next = next
	}
	var creates []*repository.Paper
	var updates []*pending
	for _, id := range order {
		pd := byID[id]
		if pd.prev == nil {
			pd.next.Version = nextVersion(clock.Or(r.s.Clock).Now(), r.s.Model.Tombstone(id))
			creates = append(creates, pd.next)
		} else {
			pd.next.Version = nextVersion(clock.Or(r.s.Clock).Now(), pd.prev.Version)
			updates = append(updates, pd)
		}
	}
	var stored []*repository.Paper
	if len(creates) > 0 {
		dups, err := r.s.Papers.InsertMany(ctx, creates)
		if err != nil {
			return err
		}
		for _, p := range creates {
			if !dups[p.ID] {
				stored = append(stored, p)
				r.Response.Created++
				continue
			}
			// Created meanwhile by another writer: merge onto what is stored.
			cur, err := r.s.Papers.Get(ctx, p.ID)
			if err != nil {
				return err
			}
			r.s.Model.Put(cur)
			updates = append(updates, &pending{rec: byID[p.ID].rec, prev: cur})
		}
	}
	for _, pd := range updates {
		p, err := r.update(ctx, pd, t)
		if err != nil {
			return err
		}
		if p != nil {
			stored = append(stored, p)
		}
	}
	for _, p := range stored {
		r.s.Model.Put(p)
	}
	if len(stored) > 0 {
		r.s.record(ctx, repository.Change{Papers: stored})
	}
	return nil
}

// update stores pd as a conditional update, merging again onto the stored paper
// if another writer changed it first. It returns the stored paper, or nil when
// nothing changed in the end.
func (r *ImportRun) update(ctx context.Context, pd *pending, t time.Time) (*repository.Paper, error) {
	cur := pd.prev
	next := pd.next
	for attempt := 0; ; attempt++ {
		if next == nil {
			_, in, _ := importedPaper(pd.rec)
			next = mergeImport(cur, in, pd.rec, t)
			if sameContent(cur, next) {
				r.Response.Unchanged++
				return nil, nil
			}
			next.Version = nextVersion(clock.Or(r.s.Clock).Now(), cur.Version)
		}
		err := r.s.Papers.Update(ctx, next, cur.Version)
		if err == nil {
			r.Response.Updated++
			return next, nil
		}
		if !errors.Is(err, repository.ErrConflict) && !errors.Is(err, repository.ErrNotFound) {
			return nil, err
		}
		if attempt == 2 {
			r.reject(pd.rec, "the paper kept changing during the import; import it again")
			return nil, nil
		}
		if cur, err = r.s.Papers.Get(ctx, next.ID); err != nil {
			if errors.Is(err, repository.ErrNotFound) {
				r.reject(pd.rec, "the paper was deleted during the import; import it again")
				return nil, nil
			}
			return nil, err
		}
		r.s.Model.Put(cur)
		next = nil
	}
}

// Importing reports whether an import stored a batch within the last second.
func (s *Catalog) Importing() bool {
	return time.Since(time.Unix(0, s.lastImport.Load())) < time.Second
}

// importedPaper checks a record and returns its paper id and the paper as the
// record gives it, or the reason it cannot be imported.
func importedPaper(rec *catalogv1.ImportRecord) (string, *repository.Paper, string) {
	id, problem := parsePaperID(strings.TrimSpace(rec.GetPaperId()))
	if problem != "" {
		return "", nil, "paper_id: " + problem
	}
	if rec.GetPaper() == nil {
		return "", nil, "paper: is required"
	}
	var v violations
	checkTimestamps(&v, "paper.", rec.GetPaper())
	if rec.ImportedUpvotes != nil && rec.GetImportedUpvotes() < 0 {
		v.add("imported_upvotes", "must not be negative")
	}
	if len(v) > 0 {
		return "", nil, v[0].GetField() + ": " + v[0].GetDescription()
	}
	in := &repository.Paper{ID: id}
	for _, f := range writableFields {
		setField(in, rec.GetPaper(), f)
	}
	return id, in, ""
}

// mergeImport returns the paper after importing in (from rec) onto cur (nil for a
// new paper), by the rules in ImportPapers' documentation.
func mergeImport(cur, in *repository.Paper, rec *catalogv1.ImportRecord, t time.Time) *repository.Paper {
	var next repository.Paper
	if cur == nil {
		next = *in
		next.CreateTime = t
		submit := next.PublishedTime
		if submit.IsZero() {
			submit = t
		}
		completeNew(&next, submit)
	} else {
		next = *cur
		newer := in.ArxivVersion > cur.ArxivVersion
		src := rec.GetPaper() // what in was read from
		for _, f := range arxivFields {
			if (newer && !emptyField(in, f)) || emptyField(&next, f) {
				setField(&next, src, f)
			}
		}
		if newer {
			next.ArxivVersion = in.ArxivVersion
		}
		for _, f := range catalogFields {
			if !emptyField(in, f) {
				setField(&next, src, f)
			}
		}
		if next.Organization.ID == "" {
			next.Organization = in.Organization
		}
	}
	if rec.ImportedUpvotes != nil {
		next.BaseUpvotes = rec.GetImportedUpvotes()
	}
	next.Upvotes = 0 // the read model counts it
	next.UpdateTime = t
	return &next
}

// emptyField reports whether p has no value for the field.
func emptyField(p *repository.Paper, field string) bool {
	v := reflect.ValueOf(*p).FieldByName(goField(field))
	if !v.IsValid() {
		panic(fmt.Sprintf("no paper field %s", field))
	}
	return v.IsZero() || (v.Kind() == reflect.Slice && v.Len() == 0)
}

// goField is the repository.Paper field of a proto field name.
func goField(field string) string {
	switch field {
	case "pdf_url":
		return "PDFURL"
	case "doi":
		return "DOI"
	}
	var b strings.Builder
	for _, part := range strings.Split(field, "_") {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

// sameContent reports whether a and b hold the same paper, apart from the
// bookkeeping a write changes (version, update time, the read model's count).
func sameContent(a, b *repository.Paper) bool {
	x, y := *a, *b
	x.Version, y.Version = 0, 0
	x.UpdateTime, y.UpdateTime = time.Time{}, time.Time{}
	x.Upvotes, y.Upvotes = 0, 0
	x.CreateTime, y.CreateTime = time.Time{}, time.Time{}
	x.RequestID, y.RequestID = "", ""
	return reflect.DeepEqual(normalized(x), normalized(y))
}

// normalized treats empty and nil slices alike.
func normalized(p repository.Paper) repository.Paper {
	if len(p.Authors) == 0 {
		p.Authors = nil
	}
	if len(p.Categories) == 0 {
		p.Categories = nil
	}
	if len(p.Keywords) == 0 {
		p.Keywords = nil
	}
	return p
}
