package service

import (
	"context"
	"errors"
	"io"
	"strings"

	"github.com/papercatalog/papers/apierror"
	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	"github.com/papercatalog/papers/importer"
	"github.com/papercatalog/papers/paperpb"
	"github.com/papercatalog/papers/repository"
)

// importBatch is how many records ImportPapers stores at once.
const importBatch = 1000

// ImportPapers implements catalogv1.CatalogServiceServer.
func (s *Catalog) ImportPapers(stream catalogv1.CatalogService_ImportPapersServer) error {
	ctx := stream.Context()
	run := s.NewImportRun()
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
			var v apierror.Violations
			v.Add("records", "must have at most %d records a message", maxBatch)
			return s.fail(ctx, "ImportPapers", v.Err())
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
	res := run.Result()
	s.Log.InfoContext(ctx, "import done", "created", res.Created, "updated", res.Updated,
		"unchanged", res.Unchanged, "rejected", res.Rejected)
	return stream.SendAndClose(run.Response())
}

// ImportRun imports records batch by batch and counts what happened to them. The
// arXiv poller uses it directly.
type ImportRun struct {
	s   *Catalog
	run *importer.Run
}

// NewImportRun starts an import into s.
func (s *Catalog) NewImportRun() *ImportRun {
	return &ImportRun{s: s, run: s.importer().NewRun()}
}

// importer returns the import engine, made on first use.
func (s *Catalog) importer() *importer.Importer {
	s.importOnce.Do(func() {
		s.imports = &importer.Importer{Papers: s.Papers, Model: s.Model, Begin: s.Writer.Begin, Record: s.Writer.Record, Clock: s.Clock}
	})
	return s.imports
}

// Importing reports whether an import stored a batch within the last second.
func (s *Catalog) Importing() bool { return s.importer().Busy() }

// Add imports a batch of records. An error means the database failed; records it
// stored before stay stored.
func (r *ImportRun) Add(ctx context.Context, records []*catalogv1.ImportRecord) error {
	before := r.run.Result
	recs := make([]importer.Record, len(records))
	for i, rec := range records {
		recs[i] = importRecord(rec)
	}
	err := r.run.Add(ctx, recs)
	st, res := &r.s.Stats, r.run.Result
	st.ImportCreated.Add(res.Created - before.Created)
	st.ImportUpdated.Add(res.Updated - before.Updated)
	st.ImportUnchanged.Add(res.Unchanged - before.Unchanged)
	st.ImportRejected.Add(res.Rejected - before.Rejected)
	return err
}

// Result returns what the run did so far.
func (r *ImportRun) Result() importer.Result { return r.run.Result }

// Response returns what the run did so far, as ImportPapers answers it.
func (r *ImportRun) Response() *catalogv1.ImportPapersResponse {
	res := r.run.Result
	resp := &catalogv1.ImportPapersResponse{Created: res.Created, Updated: res.Updated,
		Unchanged: res.Unchanged, Rejected: res.Rejected}
	for _, rj := range res.Rejections {
		resp.Rejections = append(resp.Rejections, &catalogv1.ImportRejection{
			Position: rj.Position, PaperId: rj.PaperID, Reason: rj.Reason})
	}
	return resp
}

// importRecord checks a record and converts it for the import engine.
func importRecord(rec *catalogv1.ImportRecord) importer.Record {
	r := importer.Record{Position: rec.GetPosition(), PaperID: rec.GetPaperId()}
	id, problem := paperpb.ParseID(strings.TrimSpace(rec.GetPaperId()))
	if problem != "" {
		r.Problem = "paper_id: " + problem
		return r
	}
	if rec.GetPaper() == nil {
		r.Problem = "paper: is required"
		return r
	}
	var v apierror.Violations
	paperpb.CheckTimestamps(&v, "paper.", rec.GetPaper())
	if rec.ImportedUpvotes != nil && rec.GetImportedUpvotes() < 0 {
		v.Add("imported_upvotes", "must not be negative")
	}
	if r.Problem = v.First(); r.Problem != "" {
		return r
	}
	r.Paper = &repository.Paper{ID: id}
	paperpb.SetWritable(r.Paper, rec.GetPaper())
	r.Upvotes = rec.ImportedUpvotes
	return r
}
