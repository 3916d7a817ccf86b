package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/papercatalog/papers/embedded"
	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	"github.com/papercatalog/papers/repository"
	"github.com/papercatalog/papers/repository/mongo"
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
		edb, err := embedded.Start(ctx, filepath.Join(tmp, name), slog.New(slog.DiscardHandler))
		if err != nil {
			return 0, err
		}
		defer edb.Close()
		db, err := mongo.Open(edb.URI, "papers")
		if err != nil {
			return 0, err
		}
		defer func() { _ = db.Close(context.WithoutCancel(ctx)) }()
		if err := db.Migrate(ctx); err != nil {
			return 0, err
		}
		store := mongo.NewPapers(db)
		began := time.Now()
		for i := 0; i < len(papers); i += importBatchSize {
			if _, err := store.InsertMany(ctx, papers[i:min(i+importBatchSize, len(papers))]); err != nil {
				return 0, err
			}
		}
		return time.Since(began), nil
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
	conn := pd.conn
	records := make([]*catalogv1.ImportRecord, len(papers))
	for i, p := range papers {
		records[i] = toRecord(p)
	}
	ictx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+importToken)
	began := time.Now()
	stream, err := catalogv1.NewCatalogServiceClient(conn).ImportPapers(ictx)
	if err != nil {
		return res, err
	}
	for i := 0; i < len(records); i += importBatchSize {
		if err := stream.Send(&catalogv1.ImportPapersRequest{Records: records[i:min(i+importBatchSize, len(records))]}); err != nil {
			break // CloseAndRecv says why
		}
	}
	resp, err := stream.CloseAndRecv()
	took := time.Since(began)
	if err != nil {
		return res, fmt.Errorf("import: %w", err)
	}
	if resp.GetCreated() != int64(n) {
		return res, fmt.Errorf("import created %d papers of %d (rejected %d: %v)", resp.GetCreated(), n, resp.GetRejected(), resp.GetRejections())
	}
	// The search index follows: how long until the last paper is found.
	last := papers[len(papers)-1]
	client := catalogv1.NewCatalogServiceClient(conn)
	for {
		r, err := client.SearchPapers(ctx, &catalogv1.SearchPapersRequest{Query: `title:"` + strings.ReplaceAll(last.Title, `"`, "") + `"`, PageSize: 100})
		if err == nil && slices.ContainsFunc(r.GetResults(), func(x *catalogv1.SearchResult) bool { return x.GetPaper().GetArxivId() == last.ID }) {
			break
		}
		if time.Since(began) > 5*time.Minute {
			return res, fmt.Errorf("the search index did not catch up with the import: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	res.IndexedSeconds = time.Since(began).Seconds()
	if res.PeakRSSBytes, err = peakRSS(pd.cmd.Process.Pid); err != nil {
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

// paperd is a paperd process started by the benchmark, with a client connection.
type paperd struct {
	cmd                *exec.Cmd
	conn               *grpc.ClientConn
	grpcAddr, httpAddr string
	stopOnce           sync.Once
}

// startPaperd starts paperd with its data in dir and env added to the
// environment, on free loopback ports, and connects once it is ready.
func startPaperd(ctx context.Context, bin, dir string, ready time.Duration, env ...string) (*paperd, error) {
	grpcAddr, httpAddr, err := freeAddrs()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "paperd"))
	cmd.Env = append(append(os.Environ(), "PAPERD_DATA_DIR="+dir, "PAPERD_GRPC_ADDR="+grpcAddr,
		"PAPERD_HTTP_ADDR="+httpAddr, "PAPERD_LOG_LEVEL=warn"), env...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &paperd{cmd: cmd, grpcAddr: grpcAddr, httpAddr: httpAddr}
	if err := waitReady(ctx, "http://"+httpAddr+"/readyz", ready); err != nil {
		p.stop()
		return nil, err
	}
	if p.conn, err = grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials())); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// stop ends paperd and the connection; calling it again does nothing.
func (p *paperd) stop() {
	p.stopOnce.Do(func() {
		if p.conn != nil {
			_ = p.conn.Close()
		}
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		_ = p.cmd.Wait()
	})
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
