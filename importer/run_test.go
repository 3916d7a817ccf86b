package importer_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/papercatalog/papers/importer"
	"github.com/papercatalog/papers/readmodel"
	"github.com/papercatalog/papers/repository"
	"github.com/papercatalog/papers/repository/mongo"
	"github.com/papercatalog/papers/repository/mongo/mongotest"
)

// TestRun imports into the embedded database: what a run counts, what it
// stores, and how it merges onto papers another writer stored meanwhile.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db := mongotest.Open(t)
	store := mongo.NewPapers(db)
	model := readmodel.New()
	var recorded int
	journal := filepath.Join(t.TempDir(), "intents.journal")
	intents, err := readmodel.OpenIntents(journal)
	if err != nil {
		t.Fatal(err)
	}
	begun := 0
	im := &importer.Importer{Papers: store, Model: model,
		Begin: func(ids ...string) (*readmodel.Began, error) {
			begun += len(ids)
			return intents.Begin(ids, nil)
		},
		Record: func(_ context.Context, c repository.Change, intent *readmodel.Began) {
			recorded += len(c.Papers)
			intent.Done()
		}}
	defer func() {
		// Every batch that was journalled was finished: a restart has nothing to repair.
		again, err := readmodel.OpenIntents(journal)
		if err != nil || len(again.Left()) != 0 || begun == 0 {
			t.Errorf("after the runs, %d papers journalled, left open: %v (%v)", begun, again.Left(), err)
		}
	}()

	records := []importer.Record{
		{Position: 1, PaperID: "2111.13056", Paper: &repository.Paper{ID: "2111.13056", ArxivVersion: 1, Title: "ViDT"}},
		{Position: 2, PaperID: "bad", Problem: "paper_id: is not an arXiv id"},
		{Position: 3, PaperID: "2201.00001", Paper: &repository.Paper{ID: "2201.00001", Title: ""}},
		{Position: 4, PaperID: "2201.00002", Paper: &repository.Paper{ID: "2201.00002", Title: "Second"}},
		{Position: 5, PaperID: "2111.13056", Paper: &repository.Paper{ID: "2111.13056", Keywords: []string{"detection"}}},
	}
	run := im.NewRun()
	if err := run.Add(ctx, records); err != nil {
		t.Fatal(err)
	}
	res := run.Result
	if res.Created != 2 || res.Rejected != 2 || res.Updated != 0 || res.Unchanged != 0 {
		t.Errorf("a first import: %+v, want 2 created and 2 rejected", res)
	}
	if len(res.Rejections) != 2 || res.Rejections[0].Position != 2 || res.Rejections[1].Reason != "paper.title: is required" {
		t.Errorf("rejections name the record and the reason: %+v", res.Rejections)
	}
	if p, err := store.Get(ctx, "2111.13056"); err != nil || len(p.Keywords) != 1 || p.Title != "ViDT" {
		t.Errorf("the same paper twice in a batch is merged onto the first: %+v %v", p, err)
	}
	if recorded != 2 {
		t.Errorf("%d papers recorded for other replicas, want 2", recorded)
	}

	again := im.NewRun()
	if err := again.Add(ctx, records); err != nil {
		t.Fatal(err)
	}
	if r := again.Result; r.Unchanged != 3 || r.Created != 0 || r.Updated != 0 {
		t.Errorf("importing the same records again: %+v, want each valid record unchanged", r)
	}

	// Another writer stores a paper the model has not seen, and changes one it
	// has: the run merges onto what is stored (an import of the same arXiv
	// version only fills the title it lacks, so the stored title stays).
	other := &repository.Paper{ID: "2301.00003", Title: "Elsewhere", Version: 1, SubmitTime: time.Now().UTC().Truncate(time.Millisecond)}
	if err := store.Create(ctx, other); err != nil {
		t.Fatal(err)
	}
	cur, _ := store.Get(ctx, "2201.00002")
	changed := *cur
	changed.Comment, changed.Version = "changed elsewhere", cur.Version+1
	if err := store.Update(ctx, &changed, cur.Version); err != nil {
		t.Fatal(err)
	}
	third := im.NewRun()
	if err := third.Add(ctx, []importer.Record{
		{Position: 1, PaperID: "2301.00003", Paper: &repository.Paper{ID: "2301.00003", Title: "Imported", GithubStars: 7}},
		{Position: 2, PaperID: "2201.00002", Paper: &repository.Paper{ID: "2201.00002", GithubStars: 9}},
	}); err != nil {
		t.Fatal(err)
	}
	if r := third.Result; r.Updated != 2 || r.Created != 0 || r.Rejected != 0 {
		t.Errorf("merging onto other writers' papers: %+v, want 2 updated", r)
	}
	if p, _ := store.Get(ctx, "2301.00003"); p.Title != "Elsewhere" || p.GithubStars != 7 {
		t.Errorf("a paper created meanwhile keeps its fields and takes the record's: %+v", p)
	}
	if p, _ := store.Get(ctx, "2201.00002"); p.Comment != "changed elsewhere" || p.GithubStars != 9 {
		t.Errorf("a paper changed meanwhile keeps the change and takes the record's: %+v", p)
	}
	if p, ok := model.Get("2201.00002"); !ok || p.GithubStars != 9 {
		t.Errorf("the model has the stored paper: %+v", p)
	}
}
