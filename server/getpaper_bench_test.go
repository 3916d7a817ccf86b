package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	"github.com/papercatalog/papers/server"
)

// BenchmarkGetPaper compares GetPaper over gRPC with GET /v1/papers/{paper}
// over REST on one paperd, 16 callers at once, as make bench's ratio of the two
// does (without its 50,000 papers and load generators). Besides ns/op it
// reports cpu-us/op, the CPU time of the process (paperd and its callers) per
// call, which other work on the machine disturbs less than the wall clock.
func BenchmarkGetPaper(b *testing.B) {
	cfg := server.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", DataDir: b.TempDir(), MongoDatabase: "papers",
		AdminTokens: []string{adminToken}, SyncInterval: time.Second, ShutdownTimeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	srv, err := server.Start(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = srv.Shutdown(context.Background()) }()
	conn, err := grpc.NewClient(srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	client := catalogv1.NewCatalogServiceClient(conn)
	if _, err := client.CreatePaper(admin(ctx), &catalogv1.CreatePaperRequest{PaperId: paperID(1), Paper: newPaper(1)}); err != nil {
		b.Fatal(err)
	}
	const callers = 16
	b.Run("grpc", func(b *testing.B) {
		defer reportCPU(b)()
		b.SetParallelism(max(1, callers/runtime.GOMAXPROCS(0)))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: "papers/" + paperID(1)}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("rest", func(b *testing.B) {
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
		url := "http://" + srv.HTTPAddr() + "/v1/papers/" + paperID(1)
		defer reportCPU(b)()
		b.SetParallelism(max(1, callers/runtime.GOMAXPROCS(0)))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				resp, err := hc.Get(url)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
			}
		})
	})
}

// reportCPU starts counting the process's CPU time; the function it returns
// reports it per operation as cpu-us/op.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() { b.ReportMetric(float64((cpuTime()-start).Microseconds())/float64(b.N), "cpu-us/op") }
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
