package server_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/papercatalog/papers/auth"
	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	"github.com/papercatalog/papers/repository"
	"github.com/papercatalog/papers/repository/mongo"
)

// storedPaper reads a paper straight from paperd's database, past the read model.
func storedPaper(t *testing.T, ts *testServer, id string) *repository.Paper {
	t.Helper()
	db, err := mongo.Open(ts.DatabaseURI(), "papers")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close(context.Background()) }()
	p, err := mongo.NewPapers(db).Get(testCtx(t), id)
	if err != nil {
		t.Fatalf("read %s from the database: %v", id, err)
	}
	return p
}

// TestConcurrentWritersWithOneEtag sends 12 PATCHes with the same etag at once,
// three rounds: exactly one may win each, the others get 409, and afterwards the
// read model serves the version the database holds and the paper takes further
// writes.
func TestConcurrentWritersWithOneEtag(t *testing.T) {
	t.Parallel()
	ts := startServer(t, testConfig(t))
	ctx := testCtx(t)
	p, err := ts.client.CreatePaper(admin(ctx), &catalogv1.CreatePaperRequest{PaperId: paperID(1), Paper: newPaper(1)})
	if err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		cur, err := ts.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: p.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		statuses := make([]int, 12)
		var wg sync.WaitGroup
		for i := range statuses {
			wg.Go(func() {
				body := map[string]any{"title": fmt.Sprintf("Round %d writer %d", round, i), "etag": cur.GetEtag()}
				statuses[i] = ts.rest(t, http.MethodPatch, "/v1/"+p.GetName()+"?update_mask=title", adminToken, body).Status
			})
		}
		wg.Wait()
		won := 0
		for _, s := range statuses {
			switch s {
			case http.StatusOK:
				won++
			case http.StatusConflict:
			default:
				t.Fatalf("round %d: statuses %v; want 200 or 409 each", round, statuses)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d writers with the same etag won (statuses %v), want exactly 1", round, won, statuses)
		}
		served, err := ts.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: p.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		stored := storedPaper(t, ts, paperID(1))
		if served.GetTitle() != stored.Title || served.GetEtag() == cur.GetEtag() {
			t.Fatalf("round %d: served %q (etag %s), the database holds %q", round, served.GetTitle(), served.GetEtag(), stored.Title)
		}
	}
	// The paper stays writable, with its current etag and without one.
	cur, err := ts.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: p.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if r := ts.rest(t, http.MethodPatch, "/v1/"+p.GetName()+"?update_mask=title", adminToken,
		map[string]any{"title": "With the etag", "etag": cur.GetEtag()}); r.Status != http.StatusOK {
		t.Fatalf("PATCH with the current etag: %d %s", r.Status, r.Raw)
	}
	if r := ts.rest(t, http.MethodPatch, "/v1/"+p.GetName()+"?update_mask=title", adminToken,
		map[string]any{"title": "Without an etag"}); r.Status != http.StatusOK {
		t.Fatalf("PATCH without an etag: %d %s", r.Status, r.Raw)
	}
	if got := storedPaper(t, ts, paperID(1)).Title; got != "Without an etag" {
		t.Errorf("the database holds %q", got)
	}
}

// TestReadModifyWriteCounter has 6 clients increment one counter (the paper's
// GitHub stars) by read, modify and conditional write, retrying on ABORTED:
// every acknowledged increment is counted once.
func TestReadModifyWriteCounter(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.WriteRateLimit = auth.RateLimit{Off: true} // the losers retry at once
	ts := startServer(t, cfg)
	ctx := longCtx(t)
	p, err := ts.client.CreatePaper(admin(ctx), &catalogv1.CreatePaperRequest{PaperId: paperID(2), Paper: newPaper(2)})
	if err != nil {
		t.Fatal(err)
	}
	const clients, each = 6, 5
	var mu sync.Mutex
	acked := 0
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for done := 0; done < each; {
				cur, err := ts.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: p.GetName()})
				if err != nil {
					t.Error(err)
					return
				}
				_, err = ts.client.UpdatePaper(admin(ctx), &catalogv1.UpdatePaperRequest{
					Paper:      &catalogv1.Paper{Name: p.GetName(), Etag: cur.GetEtag(), GithubStars: cur.GetGithubStars() + 1},
					UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"github_stars"}},
				})
				switch status.Code(err) {
				case codes.OK:
					done++
					mu.Lock()
					acked++
					mu.Unlock()
				case codes.Aborted:
				default:
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	got, err := ts.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: p.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetGithubStars() != int64(acked) || acked != clients*each {
		t.Errorf("counter %d after %d acknowledged increments (want %d)", got.GetGithubStars(), acked, clients*each)
	}
	if stored := storedPaper(t, ts, paperID(2)); stored.GithubStars != got.GetGithubStars() {
		t.Errorf("the database holds %d, the model serves %d", stored.GithubStars, got.GetGithubStars())
	}
}

// TestOneUserManyConcurrentUpvotes sends 40 upvotes of one user at once: the
// count rises by one, in the model, in the database and after a restart; then
// upvotes and removals race, and the count after a restart is what it was.
func TestOneUserManyConcurrentUpvotes(t *testing.T) {
	t.Parallel()
	cfg := userConfig(t)
	ts := startServer(t, cfg)
	ctx := testCtx(t)
	p, err := ts.client.CreatePaper(admin(ctx), &catalogv1.CreatePaperRequest{PaperId: paperID(3), Paper: newPaper(3)})
	if err != nil {
		t.Fatal(err)
	}
	tok := userToken(t, "eager-user")
	var wg sync.WaitGroup
	for range 40 {
		wg.Go(func() {
			if _, err := ts.client.UpvotePaper(asUser(ctx, tok), &catalogv1.UpvotePaperRequest{Name: p.GetName()}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got, err := ts.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: p.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetUpvotes() != 1 {
		t.Errorf("after 40 concurrent upvotes of one user: %d upvotes, want 1", got.GetUpvotes())
	}
	db, err := mongo.Open(ts.DatabaseURI(), "papers")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close(context.Background()) }()
	added := 0
	if err := mongo.NewVotes(db).AllVotes(ctx, func(r repository.VoteRecord) error {
		if r.Added {
			added++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if added != 1 {
		t.Errorf("the database holds %d upvote records of the user, want 1", added)
	}
	wg = sync.WaitGroup{}
	for i := range 20 {
		wg.Go(func() {
			var err error
			if i%2 == 0 {
				_, err = ts.client.RemovePaperUpvote(asUser(ctx, tok), &catalogv1.RemovePaperUpvoteRequest{Name: p.GetName()})
			} else {
				_, err = ts.client.UpvotePaper(asUser(ctx, tok), &catalogv1.UpvotePaperRequest{Name: p.GetName()})
			}
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	before, err := ts.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: p.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if n := before.GetUpvotes(); n != 0 && n != 1 {
		t.Fatalf("after concurrent upvotes and removals: %d upvotes", n)
	}
	if err := ts.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	// Start from the database, not from the model's checkpoint.
	if err := os.Remove(filepath.Join(cfg.DataDir, "readmodel.checkpoint")); err != nil {
		t.Fatal(err)
	}
	again := startServer(t, cfg)
	after, err := again.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: p.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if after.GetUpvotes() != before.GetUpvotes() {
		t.Errorf("after a restart: %d upvotes, before it %d", after.GetUpvotes(), before.GetUpvotes())
	}
}

// TestVotesOfADeletedPaperDoNotComeBack upvotes a paper, deletes it and creates
// it again under the same id: it starts with no upvotes, in the model and after a
// restart from the database (which keeps the old vote records), and the same
// user can upvote it again.
func TestVotesOfADeletedPaperDoNotComeBack(t *testing.T) {
	t.Parallel()
	cfg := userConfig(t)
	ts := startServer(t, cfg)
	ctx := testCtx(t)
	p, err := ts.client.CreatePaper(admin(ctx), &catalogv1.CreatePaperRequest{PaperId: paperID(4), Paper: newPaper(4)})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"ann", "bob"} {
		if _, err := ts.client.UpvotePaper(asUser(ctx, userToken(t, u)), &catalogv1.UpvotePaperRequest{Name: p.GetName()}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ts.client.DeletePaper(admin(ctx), &catalogv1.DeletePaperRequest{Name: p.GetName()}); err != nil {
		t.Fatal(err)
	}
	// The model tells the earlier paper's votes by their time, before the new
	// paper's creation (to the millisecond): some time passes.
	testClock(t).Advance(time.Millisecond)
	if _, err := ts.client.CreatePaper(admin(ctx), &catalogv1.CreatePaperRequest{PaperId: paperID(4), Paper: newPaper(4)}); err != nil {
		t.Fatal(err)
	}
	upvotes := func(ts *testServer) int64 {
		got, err := ts.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: p.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		return got.GetUpvotes()
	}
	if n := upvotes(ts); n != 0 {
		t.Errorf("the paper created again has %d upvotes, want 0", n)
	}
	if err := ts.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(cfg.DataDir, "readmodel.checkpoint")); err != nil {
		t.Fatal(err)
	}
	again := startServer(t, cfg)
	if n := upvotes(again); n != 0 {
		t.Errorf("after a restart from the database: %d upvotes, want 0", n)
	}
	got, err := again.client.UpvotePaper(asUser(ctx, userToken(t, "ann")), &catalogv1.UpvotePaperRequest{Name: p.GetName()})
	if err != nil || got.GetUpvotes() != 1 || !got.GetViewerUpvoted() {
		t.Errorf("ann upvotes the new paper: %v, %v; want 1 upvote, hers", got.GetUpvotes(), err)
	}
}
