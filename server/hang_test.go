package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
)

// readyzWithin asks /readyz as a probe with a client timeout of limit does,
// and returns the answer's database field.
func readyzWithin(t *testing.T, ts *testServer, limit time.Duration) string {
	t.Helper()
	client := &http.Client{Timeout: limit}
	resp, err := client.Get(ts.base + "/readyz")
	if err != nil {
		t.Fatalf("readyz with a %s client timeout: %v", limit, err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, _ := io.ReadAll(resp.Body)
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("readyz: %d %s", resp.StatusCode, raw)
	}
	db, _ := body["database"].(string)
	return db
}

// TestReadyzAnswersWhileDatabaseDown: /readyz answers a probe with a 1 s
// timeout whether the database is cut off or hung, and says it is
// unreachable (it used to wait 2 s for it).
func TestReadyzAnswersWhileDatabaseDown(t *testing.T) {
	t.Parallel()
	proxy, uri := standaloneDB(t)
	proxy.up(t)
	cfg := testConfig(t)
	cfg.MongoURI = uri
	ts := startServer(t, cfg)
	if db := readyzWithin(t, ts, time.Second); db != "reachable" {
		t.Fatalf("readyz with the database up: database %q", db)
	}
	proxy.hang()
	for range 3 {
		if db := readyzWithin(t, ts, time.Second); db != "unreachable" {
			t.Errorf("readyz with the database hung: database %q", db)
		}
	}
	proxy.unhang()
	eventually30(t, "readyz seeing the database again", func() bool { return readyzWithin(t, ts, time.Second) == "reachable" })
	proxy.down()
	for range 3 {
		if db := readyzWithin(t, ts, time.Second); db != "unreachable" {
			t.Errorf("readyz with the database cut off: database %q", db)
		}
	}
}

// TestWriteFailsFastWhenDatabaseHangs: when the database stops answering
// without closing its connections (a process stopped with SIGSTOP, a frozen
// VM), the first write fails with UNAVAILABLE as when the database is known
// to be down, rather than waiting for the driver to notice; once the database
// answers again, writes succeed.
func TestWriteFailsFastWhenDatabaseHangs(t *testing.T) {
	t.Parallel()
	proxy, uri := standaloneDB(t)
	proxy.up(t)
	cfg := testConfig(t)
	cfg.MongoURI = uri
	cfg.WriteRateLimit = mustLimit(t, "off")
	ts := startServer(t, cfg)
	ctx := longCtx(t)
	create(t, ts, 1)

	proxy.hang()
	// The client gives the write 4.5 s (a hang is found within 2.5 s); before
	// the fix it waited until the driver's heartbeat timed out (5 s and more)
	// and failed with DEADLINE_EXCEEDED.
	cctx, cancel := context.WithTimeout(ctx, 4500*time.Millisecond)
	began := time.Now()
	_, err := ts.client.CreatePaper(admin(cctx), &catalogv1.CreatePaperRequest{PaperId: paperID(2), Paper: newPaper(2)})
	cancel()
	t.Logf("the first write with the database hung: %v after %s", status.Code(err), time.Since(began).Round(time.Millisecond))
	if status.Code(err) != codes.Unavailable {
		t.Errorf("the first write with the database hung: %v, want UNAVAILABLE", err)
	}
	proxy.unhang()
	eventually30(t, "a write succeeding once the database answers", func() bool {
		_, err := ts.client.CreatePaper(admin(ctx), &catalogv1.CreatePaperRequest{PaperId: paperID(3), Paper: newPaper(3)})
		return err == nil || status.Code(err) == codes.AlreadyExists
	})
}
