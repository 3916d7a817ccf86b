package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/papercatalog/papers/catalog"
	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	"github.com/papercatalog/papers/repository"
	"github.com/papercatalog/papers/repository/mongo"
)

// TestKillAtRandomPointsServesTheDatabase kills paperd with SIGKILL at a random
// moment of an import, of creates, updates and deletes, and of upvotes, all at
// once, several times over. Every start after a kill restores the read model's
// checkpoint and replays what changed since (the log says so), and must then serve
// exactly what the database holds: every paper, at its version, with its upvote
// count, and no paper the database does not have; and search must find every
// paper by its title and no paper the database does not have (whether the
// search index caught up from the checkpoint it records or, when it had not
// recorded the one restored, compared every paper). A last clean stop and start
// must find the index caught up from the checkpoint written at the stop.
func TestKillAtRandomPointsServesTheDatabase(t *testing.T) {
	t.Parallel()
	const rounds, users, secret = 4, 4, "a-test-secret-that-is-long-enough-for-hs256"
	bin := buildPaperd(t)
	data := filepath.Join(t.TempDir(), "data")
	checkpoint := filepath.Join(data, "readmodel.checkpoint")
	pd := newPaperd(t, bin, "PAPERD_DATA_DIR="+data, "PAPERD_ADMIN_TOKENS=e2e-token", "PAPERD_JWT_SECRET="+secret,
		"PAPERD_WRITE_RATE_LIMIT=off", "PAPERD_UPVOTE_RATE_LIMIT=off",
		"PAPERD_SYNC_INTERVAL=100ms", "PAPERD_CHECKPOINT_INTERVAL=200ms")
	client := catalogv1.NewCatalogServiceClient(pd.conn())
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	admin := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer e2e-token")
	userCtx := func(u int) context.Context { return asUser(t, ctx, secret, u) }
	submitted := timestamppb.New(time.Now().UTC().Add(-time.Hour))

	var logs *lockedWriter
	start := func() *exec.Cmd {
		logs = &lockedWriter{}
		cmd := pd.start(logs)
		for line := range strings.Lines(logs.String()) {
			if strings.Contains(line, "search index") {
				t.Log(strings.TrimSpace(line)) // which way the index was brought in step
			}
		}
		return cmd
	}
	cmd := start()
	for round := range rounds {
		began := time.Now()
		var imported, written, voted atomic.Int64 // acknowledged this round
		var wg sync.WaitGroup
		wg.Go(func() { // an import: one stream of many batches
			stream, err := client.ImportPapers(admin)
			if err != nil {
				return
			}
			for batch := 0; ; batch++ {
				recs := make([]*catalogv1.ImportRecord, 100)
				for i := range recs {
					recs[i] = &catalogv1.ImportRecord{PaperId: fmt.Sprintf("25%02d.%05d", round+1, batch*100+i),
						Paper: &catalogv1.Paper{Title: "Imported", SubmitTime: submitted}}
				}
				if stream.Send(&catalogv1.ImportPapersRequest{Records: recs}) != nil {
					return // the server is gone
				}
				imported.Add(1)
			}
		})
		for w := range 2 { // creates, updates and deletes
			wg.Go(func() {
				for i := 0; ; i++ {
					id := fmt.Sprintf("2412.%d%d%03d", round, w, i)
					p, err := client.CreatePaper(admin, &catalogv1.CreatePaperRequest{PaperId: id,
						Paper: &catalogv1.Paper{Title: "Created", SubmitTime: submitted}})
					if err != nil {
						return
					}
					if _, err := client.UpdatePaper(admin, &catalogv1.UpdatePaperRequest{
						Paper:      &catalogv1.Paper{Name: p.GetName(), Etag: p.GetEtag(), Title: "Updated"},
						UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}}); err != nil {
						return
					}
					if i%3 == 0 {
						if _, err := client.DeletePaper(admin, &catalogv1.DeletePaperRequest{Name: p.GetName()}); err != nil {
							return
						}
					}
					written.Add(1)
				}
			})
		}
		for u := range users { // each user toggles upvotes on the papers of earlier rounds and this one
			wg.Go(func() {
				uctx := userCtx(u)
				for i := 0; ; i++ {
					name := fmt.Sprintf("papers/25%02d.%05d", 1+i%(round+1), (i*7+u)%200)
					_, err := client.UpvotePaper(uctx, &catalogv1.UpvotePaperRequest{Name: name})
					if err == nil {
						voted.Add(1)
					}
					if err == nil && i%2 == 1 {
						_, err = client.RemovePaperUpvote(uctx, &catalogv1.RemovePaperUpvoteRequest{Name: name})
					}
					if err != nil && pd.gone(err) {
						return
					}
				}
			})
		}
		// Kill at a random moment after a checkpoint of this run was written and
		// writes have been acknowledged.
		eventually(t, "a checkpoint written while writes go on", func() bool {
			st, err := os.Stat(checkpoint)
			return err == nil && st.ModTime().After(began) && imported.Load() >= 3 && written.Load() >= 3 && voted.Load() >= 3
		})
		time.Sleep(time.Duration(rand.Int64N(int64(700 * time.Millisecond))))
		pd.kill(cmd)
		wg.Wait()

		cmd = start()
		if out := logs.String(); !strings.Contains(out, "read model restored from checkpoint") {
			t.Fatalf("round %d: the start after the kill did not restore the checkpoint:\n%s", round, out)
		}
		stored := servesTheDatabase(ctx, t, client, data, fmt.Sprintf("after kill %d", round+1))
		searchFindsTheDatabase(ctx, t, client, stored, fmt.Sprintf("after kill %d", round+1))
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
	cmd = start()
	if out := logs.String(); !strings.Contains(out, "search index caught up with the read model checkpoint it holds") {
		t.Errorf("the start after a clean stop did not catch the search index up from its checkpoint:\n%s", out)
	}
	stored := servesTheDatabase(ctx, t, client, data, "after a clean stop")
	searchFindsTheDatabase(ctx, t, client, stored, "after a clean stop")
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
}

// searchFindsTheDatabase checks that a search for each title the test writes
// ("Imported", "Created", "Updated") matches as many papers as the database
// holds with that title, and, for the titles of created papers, exactly those.
func searchFindsTheDatabase(ctx context.Context, t *testing.T, client catalogv1.CatalogServiceClient, stored map[string]*repository.Paper, phase string) {
	t.Helper()
	want := map[string]map[string]bool{"Imported": {}, "Created": {}, "Updated": {}}
	for id, p := range stored {
		if want[p.Title] == nil {
			t.Fatalf("%s: paper %s has title %q, which the test does not write", phase, id, p.Title)
		}
		want[p.Title][id] = true
	}
	for title, ids := range want {
		found := map[string]bool{}
		token := ""
		for page := 0; ; page++ {
			resp, err := client.SearchPapers(ctx, &catalogv1.SearchPapersRequest{Query: title, PageSize: 100, PageToken: token})
			if err != nil {
				t.Fatal(err)
			}
			if page == 0 && int(resp.GetTotalSize()) != len(ids) {
				t.Errorf("%s: a search for %q matches %d papers, the database has %d", phase, title, resp.GetTotalSize(), len(ids))
			}
			for _, r := range resp.GetResults() {
				found[r.GetPaper().GetArxivId()] = true
			}
			if token = resp.GetNextPageToken(); token == "" || title == "Imported" { // many: their count is enough
				break
			}
		}
		if title == "Imported" {
			continue
		}
		for id := range ids {
			if !found[id] {
				t.Errorf("%s: a search for %q does not find paper %s", phase, title, id)
			}
		}
		for id := range found {
			if !ids[id] {
				t.Errorf("%s: a search for %q finds paper %s, which the database has not with that title", phase, title, id)
			}
		}
	}
}

// gone reports whether err is that of a call to a paperd that is not running.
func (p *paperd) gone(err error) bool {
	g, _ := p.addrs()
	return g == "" || status.Code(err) == codes.Unavailable
}

// servesTheDatabase compares every paper paperd serves, its version and upvote
// count, with the database paperd runs on, and returns the papers the database
// holds, by ID.
func servesTheDatabase(ctx context.Context, t *testing.T, client catalogv1.CatalogServiceClient, data, phase string) map[string]*repository.Paper {
	t.Helper()
	db, err := mongo.Open("mongodb://"+url.PathEscape(filepath.Join(data, "db", "ferretdb.sock"))+"/", "papers")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close(context.Background()) }()
	// The database may answer slowly while the restarted paperd catches up: read
	// it again until a whole read succeeds.
	var stored map[string]*repository.Paper
	var latest map[[2]string]repository.VoteRecord
	var readErr error
	eventually(t, "a whole read of the database", func() bool {
		stored, latest = map[string]*repository.Paper{}, map[[2]string]repository.VoteRecord{}
		if readErr = mongo.NewPapers(db).All(ctx, func(p *repository.Paper) error {
			stored[p.ID] = p
			return nil
		}); readErr != nil {
			t.Logf("%s: reading the database: %v", phase, readErr)
			return false
		}
		readErr = mongo.NewVotes(db).AllVotes(ctx, func(r repository.VoteRecord) error {
			if cur, ok := latest[[2]string{r.PaperID, r.User}]; !ok || r.Version > cur.Version {
				latest[[2]string{r.PaperID, r.User}] = r
			}
			return nil
		})
		return readErr == nil
	})
	upvotes := map[string]int64{}
	for _, r := range latest {
		// A vote older than the paper was cast on an earlier paper of that id.
		if p, ok := stored[r.PaperID]; ok && r.Added && (r.Version == 0 || r.Version >= p.CreateTime.UnixNano()) {
			upvotes[r.PaperID]++
		}
	}

	served := map[string]*catalogv1.Paper{}
	token := ""
	for {
		resp, err := client.ListPapers(ctx, &catalogv1.ListPapersRequest{PageSize: 1000, PageToken: token}, grpc.WaitForReady(true))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range resp.GetPapers() {
			served[p.GetArxivId()] = p
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	var votes int64
	for id, want := range stored {
		got, ok := served[id]
		switch {
		case !ok:
			t.Errorf("%s: paper %s is in the database and not served", phase, id)
		case got.GetEtag() != catalog.Etag(want) || got.GetTitle() != want.Title:
			t.Errorf("%s: paper %s served at etag %s (%q), the database has %s (%q)", phase, id, got.GetEtag(), got.GetTitle(),
				catalog.Etag(want), want.Title)
		case got.GetUpvotes() != want.BaseUpvotes+upvotes[id]:
			t.Errorf("%s: paper %s served with %d upvotes, the database's votes make %d", phase, id, got.GetUpvotes(), want.BaseUpvotes+upvotes[id])
		}
		votes += upvotes[id]
	}
	for id := range served {
		if _, ok := stored[id]; !ok {
			t.Errorf("%s: paper %s is served and not in the database", phase, id)
		}
	}
	if len(stored) < 100 {
		t.Errorf("%s: only %d papers in the database: the workload did not run", phase, len(stored))
	}
	t.Logf("%s: %d papers and %d upvotes served as stored", phase, len(stored), votes)
	return stored
}
