package search

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2/index/scorch"

	"github.com/papercatalog/papers/repository"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if benchIndex.ix != nil {
		_ = benchIndex.ix.Close()
		_ = os.RemoveAll(benchIndex.dir)
	}
	os.Exit(code)
}

// benchSample is the arXiv sample the benchmark draws words and names from, as
// cmd/paperbench does; testdata's records stand in when it is absent.
var benchSample = []string{"../../shared/data/arxiv/arxiv-metadata-oai-snapshot.sample.jsonl", "../testdata/sample-arxiv.jsonl"}

// benchPapers returns n papers shaped as cmd/paperbench's generated arXiv
// snapshot (titles of 6–13 words, abstracts of 120–249, 1–6 authors, two
// categories), with words drawn from real records.
func benchPapers(b *testing.B, n int) []*repository.Paper {
	var words, names []string
	for _, path := range benchSample {
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			var rec struct {
				Title, Abstract string
				AuthorsParsed   [][]string `json:"authors_parsed"`
			}
			if json.Unmarshal(sc.Bytes(), &rec) == nil {
				words = append(words, strings.Fields(rec.Abstract+" "+rec.Title)...)
				for _, a := range rec.AuthorsParsed {
					names = append(names, strings.TrimSpace(a[1]+" "+a[0]))
				}
			}
		}
		_ = f.Close()
		break
	}
	if len(words) == 0 {
		b.Fatal("no arXiv sample")
	}
	r := rand.New(rand.NewPCG(11, 12)) //nolint:gosec // benchmark data
	text := func(n int) string {
		out := make([]string, n)
		for i := range out {
			out[i] = words[r.IntN(len(words))]
		}
		return strings.Join(out, " ")
	}
	cats := []string{"cs.CV", "cs.CL", "cs.LG", "cs.AI", "stat.ML", "cs.RO", "hep-ph", "math.CO"}
	papers := make([]*repository.Paper, n)
	for i := range papers {
		p := &repository.Paper{ID: fmt.Sprintf("%02d%02d.%05d", 15+i/1200000, 1+(i/100000)%12, i%100000),
			Title: text(6 + r.IntN(8)), Abstract: text(120 + r.IntN(130)), PrimaryCategory: cats[r.IntN(len(cats))],
			PublishedTime: time.Date(2015+r.IntN(10), 1, 1, 0, 0, 0, 0, time.UTC), Version: int64(i + 1)}
		for range 1 + r.IntN(6) {
			p.Authors = append(p.Authors, repository.Author{Name: names[r.IntN(len(names))]})
		}
		papers[i] = p
	}
	return papers
}

// benchIndex is the benchmarks' index, made once per run (TestMain removes it).
var benchIndex struct {
	sync.Once
	dir    string
	ix     *Index
	papers map[string]*repository.Paper
	words  []string
	size   int64 // bytes on disk, merged into one segment
}

// openBenchIndex indexes SEARCH_BENCH_PAPERS papers (default 20,000) as the
// indexer does, merges the index into one segment and measures it.
func openBenchIndex(b *testing.B) {
	benchIndex.Do(func() {
		n, _ := strconv.Atoi(os.Getenv("SEARCH_BENCH_PAPERS"))
		if n <= 0 {
			n = 20000
		}
		papers := benchPapers(b, n)
		dir, err := os.MkdirTemp("", "searchbench")
		if err != nil {
			b.Fatal(err)
		}
		ix, err := Open(filepath.Join(dir, "search"))
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < len(papers); i += batchSize {
			if err := ix.Apply(papers[i:min(i+batchSize, len(papers))], nil); err != nil {
				b.Fatal(err)
			}
		}
		adv, err := ix.idx.Advanced()
		if err != nil {
			b.Fatal(err)
		}
		if err := adv.(*scorch.Scorch).ForceMerge(context.Background(), nil); err != nil {
			b.Fatal(err)
		}
		// The merged-away segments' files go a moment later.
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if zaps, _ := filepath.Glob(filepath.Join(dir, "search", "store", "*.zap")); len(zaps) == 1 {
				break
			}
		}
		_ = filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
			if err == nil && !fi.IsDir() {
				benchIndex.size += fi.Size()
			}
			return nil
		})
		benchIndex.dir, benchIndex.ix, benchIndex.papers = dir, ix, map[string]*repository.Paper{}
		seen := map[string]bool{}
		for _, p := range papers {
			benchIndex.papers[p.ID] = p
			for _, w := range strings.Fields(p.Abstract) {
				w = strings.ToLower(strings.Trim(w, ".,;:()[]{}\"'$"))
				if len(w) >= 6 && !seen[w] && strings.IndexFunc(w, func(r rune) bool { return r < 'a' || r > 'z' }) < 0 {
					seen[w] = true
					benchIndex.words = append(benchIndex.words, w)
				}
			}
		}
		ix.SetPapers(lookup(benchIndex.papers))
	})
}

// reportIndexSize reports the benchmark index's size on disk a paper (after
// the timed loop: ResetTimer drops reported metrics).
func reportIndexSize(b *testing.B) {
	b.ReportMetric(float64(benchIndex.size)/float64(len(benchIndex.papers)), "index-B/paper")
}

// BenchmarkFind measures a page of 20 results with their snippets and facets,
// every query new (two words, as make bench-scale's SearchPapers): run it as
//
//	SEARCH_BENCH_PAPERS=100000 go test ./search -run '^$' -bench BenchmarkFind -benchtime 2000x
func BenchmarkFind(b *testing.B) {
	openBenchIndex(b)
	ix, words := benchIndex.ix, benchIndex.words
	r := rand.New(rand.NewPCG(3, 4)) //nolint:gosec // benchmark data
	queries := make([]Query, b.N)
	for i := range queries {
		q, err := Parse(words[r.IntN(len(words))] + " " + words[r.IntN(len(words))])
		if err != nil {
			b.Fatal(err)
		}
		queries[i] = q
	}
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		if _, err := ix.Find(ctx, queries[i], 0, 20, nil); err != nil {
			b.Fatal(err)
		}
	}
	reportIndexSize(b)
}

// BenchmarkHighlight measures the snippets of a page of 20 hits of a one-word
// query.
func BenchmarkHighlight(b *testing.B) {
	openBenchIndex(b)
	ix, words := benchIndex.ix, benchIndex.words
	r := rand.New(rand.NewPCG(5, 6)) //nolint:gosec // benchmark data
	type page struct {
		q   Query
		ids []string
	}
	var pages []page
	ctx := context.Background()
	for len(pages) < 200 {
		q, err := Parse(words[r.IntN(len(words))])
		if err != nil {
			b.Fatal(err)
		}
		p, err := ix.SearchPage(ctx, q, 0, 20)
		if err != nil {
			b.Fatal(err)
		}
		if len(p.Hits) == 20 {
			pages = append(pages, page{q, ids(p.Hits)})
		}
	}
	b.ResetTimer()
	for i := range b.N {
		p := pages[i%len(pages)]
		if _, err := ix.Highlight(ctx, p.q, p.ids); err != nil {
			b.Fatal(err)
		}
	}
	reportIndexSize(b)
}
