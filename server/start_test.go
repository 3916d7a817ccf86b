package server_test

import (
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
)

// TestALoadLongerThanAStartAttemptFinishes starts a new replica of a catalog
// whose load from the database takes longer than a start step's attempt may
// (StartAttemptTimeout): the load is not cut and begun again, and the replica
// serves every paper. At 2.7 million papers a load took more than the 2
// minutes an attempt had, and a replica without a usable checkpoint never
// started.
func TestALoadLongerThanAStartAttemptFinishes(t *testing.T) {
	t.Parallel()
	writer := startServer(t, testConfig(t))
	const n = 4000
	recs := make([]*catalogv1.ImportRecord, n)
	for i := range recs {
		recs[i] = &catalogv1.ImportRecord{PaperId: paperID(i), Paper: newPaper(i)}
	}
	if got := importRecords(t, writer, recs); got.GetCreated() != n {
		t.Fatalf("import: %v", got)
	}

	cfg := testConfig(t)
	cfg.MongoURI = writer.DatabaseURI()
	cfg.StartAttemptTimeout = 50 * time.Millisecond
	logs := &logBuffer{}
	reader := startLogging(t, cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
	m := regexp.MustCompile(`msg="read model loaded" papers=(\d+) votes=\d+ took=(\S+)`).FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no load in the log:\n%s", logs.String())
	}
	if took, err := time.ParseDuration(m[2]); err != nil || took <= cfg.StartAttemptTimeout {
		t.Fatalf("the load took %s (%v), not longer than an attempt: the test shows nothing; import more papers", m[2], err)
	}
	if m[1] != fmt.Sprint(n) {
		t.Errorf("loaded %s papers, want %d", m[1], n)
	}
	if strings.Contains(logs.String(), `step="load read model"`) {
		t.Errorf("the load was tried again:\n%s", logs.String())
	}
	ctx := testCtx(t)
	for _, i := range []int{0, n / 2, n - 1} {
		if _, err := reader.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: "papers/" + paperID(i)}); err != nil {
			t.Errorf("paper %d: %v", i, err)
		}
	}
}
