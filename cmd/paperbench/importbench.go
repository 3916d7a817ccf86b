package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	"github.com/papercatalog/papers/repository"
)

// importResult is the import section of the benchmark.
type importResult struct {
	Papers        int     `json:"papers"`
	ImportPerSec  float64 `json:"import_papers_per_s"`
	RawPerSec     float64 `json:"raw_insert_many_papers_per_s"`
	Ratio         float64 `json:"import_vs_raw"`
	PeakRSSBytes  int64   `json:"paperd_peak_rss_bytes"`
	ImportSeconds float64 `json:"import_s"`
	RawSeconds    float64 `json:"raw_s"`
	// IndexedSeconds is from the start of the import until the search index has
	// the last paper (the index follows the import).
	IndexedSeconds float64 `json:"searchable_after_s"`
}

// print prints the import's figures, as the whole run does.
func (r importResult) print(out io.Writer) {
	_, _ = fmt.Fprintf(out, "import: %d papers through ImportPapers at %.0f papers/s, raw InsertMany of the same at %.0f papers/s: %.2fx (target >= 0.5); all searchable %.1fs after the import began; paperd peak RSS %.0f MiB\n",
		r.Papers, r.ImportPerSec, r.RawPerSec, r.Ratio, r.IndexedSeconds, float64(r.PeakRSSBytes)/(1<<20))
}

// err is nil: the import's target is printed, not enforced.
func (r importResult) err() error { return nil }

// runImportBench is the import section as -only runs it.
func runImportBench(ctx context.Context, o options, bin, tmp string, voc *vocabulary, logf func(string, ...any)) (importResult, error) {
	return importBench(ctx, bin, tmp, voc, o.importPapers, logf)
}

const importToken = "paperbench-import-token"

// importBench imports n generated papers into a fresh paperd through
// ImportPapers, and inserts the same papers with raw InsertMany batches into a
// fresh embedded database, and compares the rates.
func importBench(ctx context.Context, bin, tmp string, voc *vocabulary, n int, logf func(string, ...any)) (importResult, error) {
	res := importResult{Papers: n}
	papers := generate(voc, n, 7)

	// The baseline: the same documents, 500 an InsertMany, into the same backend,
	// each time into a fresh database. It runs before and after the import, and
	// the faster run counts.
	rawRun := func(name string) (time.Duration, error) {
		db, _, stop, err := startDB(ctx, filepath.Join(tmp, name))
		if err != nil {
			return 0, err
		}
		defer stop()
		began := time.Now()
		err = insertPapers(ctx, db, papers)
		return time.Since(began), err
	}
	raw, err := rawRun("import-raw-1")
	if err != nil {
		return res, err
	}

	// ImportPapers into a fresh paperd.
	pd, err := startPaperd(ctx, bin, filepath.Join(tmp, "import-paperd"), 2*time.Minute, "PAPERD_ADMIN_TOKENS="+importToken)
	if err != nil {
		return res, err
	}
	defer pd.stop()
	records := make([]*catalogv1.ImportRecord, len(papers))
	for i, p := range papers {
		records[i] = toRecord(p)
	}
	client := catalogv1.NewCatalogServiceClient(pd.conn)
	began := time.Now()
	resp, err := importRecords(ctx, client, records)
	took := time.Since(began)
	if err != nil {
		return res, fmt.Errorf("import: %w", err)
	}
	if resp.GetCreated() != int64(n) {
		return res, fmt.Errorf("import created %d papers of %d (rejected %d: %v)", resp.GetCreated(), n, resp.GetRejected(), resp.GetRejections())
	}
	// The search index follows: how long until the last paper is found.
	last := papers[len(papers)-1]
	if err := waitFound(ctx, client, last.ID, last.Title, began.Add(5*time.Minute), 100*time.Millisecond); err != nil {
		return res, fmt.Errorf("the search index did not catch up with the import: %w", err)
	}
	res.IndexedSeconds = time.Since(began).Seconds()
	if res.PeakRSSBytes, err = peakRSS(pd.pid()); err != nil {
		return res, err
	}
	pd.stop()
	raw2, err := rawRun("import-raw-2")
	if err != nil {
		return res, err
	}
	raw = min(raw, raw2)
	res.ImportSeconds, res.RawSeconds = took.Seconds(), raw.Seconds()
	res.ImportPerSec, res.RawPerSec = float64(n)/took.Seconds(), float64(n)/raw.Seconds()
	res.Ratio = res.ImportPerSec / res.RawPerSec
	logf("imported %d papers in %v; raw InsertMany took %v", n, took.Round(time.Millisecond), raw.Round(time.Millisecond))
	return res, nil
}

// importRecords sends records through one ImportPapers stream with the admin
// token, importBatchSize a message, and returns paperd's answer.
func importRecords(ctx context.Context, client catalogv1.CatalogServiceClient, records []*catalogv1.ImportRecord) (*catalogv1.ImportPapersResponse, error) {
	stream, err := client.ImportPapers(admin(ctx))
	if err != nil {
		return nil, err
	}
	for i := 0; i < len(records); i += importBatchSize {
		if err := stream.Send(&catalogv1.ImportPapersRequest{Records: records[i:min(i+importBatchSize, len(records))]}); err != nil {
			break // CloseAndRecv says why
		}
	}
	return stream.CloseAndRecv()
}

// waitFound searches for the paper id by its title every poll until search
// finds it, and says why not if deadline passes first.
func waitFound(ctx context.Context, client catalogv1.CatalogServiceClient, id, title string, deadline time.Time, poll time.Duration) error {
	q := `title:"` + strings.ReplaceAll(title, `"`, "") + `"`
	for {
		_, r, _, err := call(ctx, client.SearchPapers, &catalogv1.SearchPapersRequest{Query: q, PageSize: 100})
		if err == nil && slices.ContainsFunc(r.GetResults(), func(x *catalogv1.SearchResult) bool { return x.GetPaper().GetArxivId() == id }) {
			return nil
		}
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case time.Now().After(deadline) && err != nil:
			return err
		case time.Now().After(deadline):
			return fmt.Errorf("search did not find paper %s by its title", id)
		}
		time.Sleep(poll)
	}
}

// importBatchSize is the records a message (and the papers an InsertMany).
const importBatchSize = 500

// toRecord is the import record of a generated paper.
func toRecord(p *repository.Paper) *catalogv1.ImportRecord {
	out := &catalogv1.Paper{
		ArxivVersion: p.ArxivVersion, Title: p.Title, Abstract: p.Abstract, Categories: p.Categories,
		PrimaryCategory: p.PrimaryCategory, GithubRepo: p.GithubRepo,
		PublishedTime: timestamppb.New(p.PublishedTime), SubmitTime: timestamppb.New(p.SubmitTime),
	}
	for _, a := range p.Authors {
		out.Authors = append(out.Authors, &catalogv1.Author{Name: a.Name})
	}
	if p.Organization.ID != "" {
		out.Organization = &catalogv1.Organization{Id: p.Organization.ID, DisplayName: p.Organization.DisplayName}
	}
	up := p.BaseUpvotes
	return &catalogv1.ImportRecord{PaperId: p.ID, Paper: out, ImportedUpvotes: &up}
}
