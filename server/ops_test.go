package server_test

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
)

func TestHealthReflectionAndOpenAPI(t *testing.T) {
	t.Parallel()
	ts := startServer(t, testConfig(t))
	ctx := testCtx(t)

	hc, err := healthpb.NewHealthClient(ts.conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || hc.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health check: %v %v", hc, err)
	}

	stream, err := reflectionpb.NewServerReflectionClient(ts.conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var services []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		services = append(services, s.GetName())
	}
	for _, want := range []string{"papers.catalog.v1.CatalogService", "grpc.health.v1.Health"} {
		if !slices.Contains(services, want) {
			t.Errorf("reflection lists %v, missing %s", services, want)
		}
	}

	r := ts.rest(t, "GET", "/openapi.json", "", nil)
	if r.Status != 200 {
		t.Fatalf("openapi.json: %d", r.Status)
	}
	paths, _ := r.Body["paths"].(map[string]any)
	for _, p := range []string{"/v1/papers", "/v1/papers/{paper}", "/v1/papers:batchGet", "/v1/subscriptions/{subscription}"} {
		if _, ok := paths[p]; !ok {
			t.Errorf("openapi.json has no path %s", p)
		}
	}
	if r := ts.rest(t, "GET", "/healthz", "", nil); r.Status != 200 {
		t.Errorf("healthz: %d", r.Status)
	}
	if r := ts.rest(t, "GET", "/readyz", "", nil); r.Status != 200 || r.Body["status"] != "ready" {
		t.Errorf("readyz: %d %s", r.Status, r.Raw)
	}
}

// TestSecondReplicaCatchesUp runs two servers on one database: the second sees the
// first one's creates, updates and deletes within its sync interval.
func TestSecondReplicaCatchesUp(t *testing.T) {
	t.Parallel()
	first := startServer(t, testConfig(t))
	ctx := testCtx(t)
	p := create(t, first, 1)

	cfg := testConfig(t)
	cfg.MongoURI = first.DatabaseURI()
	second := startServer(t, cfg)
	if _, err := second.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: p.GetName()}); err != nil {
		t.Fatalf("second replica does not have the paper created before it started: %v", err)
	}

	created := create(t, first, 2)
	eventually(t, "the second replica seeing the create", func() bool {
		got, err := second.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: created.GetName()})
		return err == nil && got.GetEtag() == created.GetEtag()
	})
	eventually(t, "the second replica seeing the create in its search index", func() bool {
		resp, err := second.client.SearchPapers(ctx, &catalogv1.SearchPapersRequest{Query: "number"})
		return err == nil && resp.GetTotalSize() == 2
	})
	upd, err := first.client.UpdatePaper(admin(ctx), &catalogv1.UpdatePaperRequest{
		Paper: &catalogv1.Paper{Name: p.GetName(), Title: "Changed on the first"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the second replica seeing the update", func() bool {
		got, err := second.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: p.GetName()})
		return err == nil && got.GetTitle() == "Changed on the first" && got.GetEtag() == upd.GetEtag()
	})
	if _, err := first.client.DeletePaper(admin(ctx), &catalogv1.DeletePaperRequest{Name: created.GetName()}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the second replica seeing the delete", func() bool {
		resp, err := second.client.ListPapers(ctx, &catalogv1.ListPapersRequest{})
		return err == nil && resp.GetTotalSize() == 1
	})
	eventually(t, "the second replica seeing the update and delete in its search index", func() bool {
		changed, err1 := second.client.SearchPapers(ctx, &catalogv1.SearchPapersRequest{Query: "title:changed"})
		all, err2 := second.client.SearchPapers(ctx, &catalogv1.SearchPapersRequest{Query: "abstract"})
		return err1 == nil && err2 == nil && changed.GetTotalSize() == 1 && all.GetTotalSize() == 1
	})
	// Writes on the second go back to the first too, and a stale etag from the
	// second replica's view is refused by the database even before it syncs.
	if _, err := second.client.UpdatePaper(admin(ctx), &catalogv1.UpdatePaperRequest{
		Paper:      &catalogv1.Paper{Name: p.GetName(), Title: "stale", Etag: p.GetEtag()},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}},
	}); err == nil {
		t.Error("update with the etag from before the first replica's update succeeded")
	}
	if _, err := second.client.UpdatePaper(admin(ctx), &catalogv1.UpdatePaperRequest{
		Paper: &catalogv1.Paper{Name: p.GetName(), Title: "Changed on the second"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}},
	}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the first replica seeing the second's update", func() bool {
		got, err := first.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: p.GetName()})
		return err == nil && got.GetTitle() == "Changed on the second"
	})
}

func TestShutdownTurnsNotReadyAndStopsServing(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	ts := startServer(t, cfg)
	create(t, ts, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(ts.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	cctx, ccancel := context.WithTimeout(context.Background(), time.Second)
	defer ccancel()
	if _, err := catalogv1.NewCatalogServiceClient(conn).GetPaper(cctx, &catalogv1.GetPaperRequest{Name: "papers/" + paperID(1)}); err == nil {
		t.Error("a stopped server answered")
	}

	// Restarting on the same data directory finds the paper again.
	again := startServer(t, cfg)
	got, err := again.client.GetPaper(testCtx(t), &catalogv1.GetPaperRequest{Name: "papers/" + paperID(1)})
	if err != nil || got.GetTitle() != newPaper(1).GetTitle() {
		t.Errorf("after restart: %v %v", got, err)
	}
}

// TestRestartFromCheckpointCatchesUp stops a replica cleanly (it leaves a read
// model checkpoint), changes the database through another replica, and starts the
// first again: it must come up from the checkpoint with those changes already
// applied.
func TestRestartFromCheckpointCatchesUp(t *testing.T) {
	t.Parallel()
	writer := startServer(t, testConfig(t))
	ctx := testCtx(t)
	p1 := create(t, writer, 1)
	cfg := testConfig(t)
	cfg.MongoURI = writer.DatabaseURI()
	reader := startServer(t, cfg)
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := reader.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	checkpoint := filepath.Join(cfg.DataDir, "readmodel.checkpoint")
	if _, err := os.Stat(checkpoint); err != nil {
		t.Fatalf("no checkpoint after a clean shutdown: %v", err)
	}
	p2 := create(t, writer, 2)
	if _, err := writer.client.DeletePaper(admin(ctx), &catalogv1.DeletePaperRequest{Name: p1.GetName()}); err != nil {
		t.Fatal(err)
	}
	again := startServer(t, cfg)
	if _, err := again.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: p2.GetName()}); err != nil {
		t.Errorf("a paper created while the replica was down: %v", err)
	}
	if _, err := again.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: p1.GetName()}); status.Code(err) != codes.NotFound {
		t.Errorf("a paper deleted while the replica was down: %v", err)
	}
	resp, err := again.client.SearchPapers(ctx, &catalogv1.SearchPapersRequest{Query: "number"})
	if err != nil || len(resp.GetResults()) != 1 || resp.GetResults()[0].GetPaper().GetName() != p2.GetName() {
		t.Errorf("search after the restart: %v %v", resp.GetResults(), err)
	}
}

func TestPprofServesOnItsOwnAddress(t *testing.T) {
	t.Parallel()
	// Any free port (127.0.0.1:0): paperd logs which it took.
	cfg := testConfig(t)
	cfg.PprofAddr = "127.0.0.1:0"
	logs := &logBuffer{}
	ts := startLogging(t, cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})))
	m := regexp.MustCompile(`msg="profiling handlers on; keep this address private" addr=(\S+)`).FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no address of the profiling handlers in the log:\n%s", logs.String())
	}
	addr := m[1]
	resp, err := http.Get("http://" + addr + "/debug/pprof/heap?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("pprof heap: %d", resp.StatusCode)
	}
	// Not on the public HTTP port.
	if r := ts.rest(t, "GET", "/debug/pprof/", "", nil); r.Status != 404 {
		t.Errorf("pprof on the public port: %d", r.Status)
	}
}
