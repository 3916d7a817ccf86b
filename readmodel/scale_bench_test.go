package readmodel

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/papercatalog/papers/listing"
	"github.com/papercatalog/papers/repository"
)

// BenchmarkListAtScale computes, from scratch, the lists of the twenty filters
// that make bench-scale's ListPapers run sends, over a million papers of
// about its shape (categories weighted as its ML-heavy ones, upvotes mostly 0).
func BenchmarkListAtScale(b *testing.B) {
	const n = 1000000
	r := rand.New(rand.NewPCG(1, 2))
	cats := []string{"cs.LG", "cs.CV", "cs.CL", "cs.AI", "stat.ML", "math.OC", "hep-th", "quant-ph", "cond-mat", "astro-ph"}
	all := make([]*repository.Paper, n)
	base := time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range all {
		pick := func() string {
			if r.IntN(10) == 0 {
				return cats[5+r.IntN(5)]
			}
			w := []int{30, 25, 25, 10, 10}
			k := r.IntN(100)
			for j, x := range w {
				if k < x {
					return cats[j]
				}
				k -= x
			}
			return cats[0]
		}
		c := []string{pick(), pick()}
		all[i] = &repository.Paper{ID: fmt.Sprintf("%04d.%05d", i/100000, i%100000), Title: "t", Categories: c, PrimaryCategory: c[0],
			Upvotes: int64(r.ExpFloat64() * 0.3), SubmitTime: base.Add(time.Duration(r.Int64N(int64(10 * 365 * 24 * time.Hour))))}
	}
	m := New()
	m.Replace(all, 0)
	o, _ := listing.ParseOrder("upvotes desc, submit_time desc")
	var fs []listing.Filter
	for _, c := range cats[:5] {
		for _, min := range []int{0, 1, 5, 20} {
			f, err := listing.ParseFilter(fmt.Sprintf(`categories:"%s" AND upvotes >= %d`, c, min))
			if err != nil {
				b.Fatal(err)
			}
			fs = append(fs, f)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		m.mu.Lock()
		clear(m.cache)
		m.gen++
		m.mu.Unlock()
		start := time.Now()
		total := 0
		for _, f := range fs {
			total += len(m.List(f, o).Papers)
		}
		b.ReportMetric(float64(time.Since(start).Milliseconds())/float64(len(fs)), "ms/filter")
		b.ReportMetric(float64(total)/float64(len(fs)), "matches/filter")
	}
}

// BenchmarkScanOrder matches a filter against a million papers walked in the
// order they were allocated, in a random order, and in a map's order: why the
// model's table keeps papers in slots (see table).
func BenchmarkScanOrder(b *testing.B) {
	const n = 1000000
	cats := []string{"cs.LG", "cs.CV", "cs.CL", "cs.AI", "stat.ML"}
	all := make([]*repository.Paper, n)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range all {
		all[i] = &repository.Paper{ID: fmt.Sprintf("%04d.%05d", i/100000, i%100000), Title: "t", Categories: []string{cats[r.IntN(5)], cats[r.IntN(5)]}, Upvotes: int64(i % 3)}
	}
	f, _ := listing.ParseFilter(`categories:"cs.LG" AND upvotes >= 1`)
	shuffled := append([]*repository.Paper(nil), all...)
	r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	byMap := map[string]*repository.Paper{}
	for _, p := range all {
		byMap[p.ID] = p
	}
	b.Run("alloc-order", func(b *testing.B) {
		for b.Loop() {
			k := 0
			for _, p := range all {
				if f.Match(p) {
					k++
				}
			}
		}
	})
	b.Run("random-order", func(b *testing.B) {
		for b.Loop() {
			k := 0
			for _, p := range shuffled {
				if f.Match(p) {
					k++
				}
			}
		}
	})
	b.Run("map", func(b *testing.B) {
		for b.Loop() {
			k := 0
			for _, p := range byMap {
				if f.Match(p) {
					k++
				}
			}
		}
	})
}
