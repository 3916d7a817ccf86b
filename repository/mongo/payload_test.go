package mongo_test

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	driver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/papercatalog/papers/repository"
	"github.com/papercatalog/papers/repository/mongo"
)

// Not parallel: WriteSnappyPayloads changes what every RecordChange writes.
func TestChangePayloadsAreZstdAndSnappyOnesStillLoad(t *testing.T) {
	papers := mongo.NewPapers(openDB(t))
	ctx := ctxT(t)
	// An import's batch of papers with abstracts of varied words.
	words := strings.Fields("we study the representation of graphs with transformers and prove bounds on convergence for sparse attention in large language models under noise")
	r := rand.New(rand.NewPCG(1, 2))
	batch := func(prefix string) []*repository.Paper {
		var out []*repository.Paper
		for i := range 200 {
			p := testPaper(fmt.Sprintf("%s.%05d", prefix, i), int64(i+1))
			var b strings.Builder
			for range 180 {
				b.WriteString(words[r.IntN(len(words))] + " ")
			}
			p.Abstract = b.String()
			out = append(out, p)
		}
		return out
	}
	at := time.Now().UTC().Truncate(time.Millisecond)
	restore := mongo.WriteSnappyPayloads()
	old, err := papers.RecordChange(ctx, repository.Change{Papers: batch("2401"), Time: at})
	restore()
	if err != nil {
		t.Fatal(err)
	}
	cur, err := papers.RecordChange(ctx, repository.Change{Papers: batch("2402"), Time: at})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ id, prefix string }{{old, "2401"}, {cur, "2402"}} {
		got, err := papers.LoadChange(ctx, repository.ChangeRef{ID: c.id, Time: at})
		if err != nil {
			t.Fatalf("%s: %v", c.id, err)
		}
		if len(got.Papers) != 200 || got.Papers[199].ID != c.prefix+".00199" || got.Papers[199].Abstract == "" {
			t.Fatalf("%s loaded %d papers, the last %+v", c.id, len(got.Papers), got.Papers[len(got.Papers)-1])
		}
	}

	// What the database holds: the new payload in zstd, the old one in snappy,
	// and the same content (papers of the same shape) takes less room in zstd.
	client, err := driver.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = client.Disconnect(ctx) }()
	name := regexp.MustCompile(`[^A-Za-z0-9_]`).ReplaceAllString(t.Name(), "_")
	coll := client.Database(name).Collection("change_payloads_" + strconv.FormatInt(at.Unix()/300, 10))
	size := func(id, field string) int {
		var doc bson.M
		if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&doc); err != nil {
			t.Fatalf("payload %s: %v", id, err)
		}
		b, ok := doc[field].(bson.Binary)
		if !ok {
			t.Fatalf("payload %s has no %q field: %v", id, field, slices.Sorted(maps.Keys(doc)))
		}
		return len(b.Data)
	}
	snappy, zstd := size(old, "content"), size(cur, "zstd")
	t.Logf("a batch of 200 papers: snappy %d bytes, zstd %d", snappy, zstd)
	if float64(zstd) > 0.8*float64(snappy) {
		t.Errorf("zstd payload %d bytes, snappy %d: want zstd at most 0.8 of it", zstd, snappy)
	}
}
