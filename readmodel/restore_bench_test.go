package readmodel

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/papercatalog/papers/repository"
)

// BenchmarkRestore reads back and restores a checkpoint of 100,000 papers of
// about an arXiv paper's shape (its abstract in the abstracts' file).
func BenchmarkRestore(b *testing.B) {
	path := filepath.Join(b.TempDir(), "readmodel.checkpoint")
	m := New()
	m.Replace(benchPapers(), 0)
	if _, err := m.SaveSnapshot(path, "db", time.Now()); err != nil {
		b.Fatal(err)
	}
	// As Syncer.Start does it, with the collector paused, and with it running.
	for _, paused := range []bool{true, false} {
		b.Run(fmt.Sprintf("gc-paused=%v", paused), func(b *testing.B) {
			for b.Loop() {
				resume := func() {}
				if paused {
					resume = pauseGC()
				}
				snap, err := readSnapshot(path, "db")
				if err != nil {
					b.Fatal(err)
				}
				err = New().restore(snap)
				resume()
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchPapers returns 100,000 papers of about an arXiv paper's shape.
func benchPapers() []*repository.Paper {
	var all []*repository.Paper
	for i := range 100000 {
		all = append(all, &repository.Paper{ID: fmt.Sprintf("24%02d.%05d", i/100000, i%100000), ArxivVersion: 2,
			Title:      fmt.Sprintf("A study of %d things in the representation of graphs with transformers", i),
			Authors:    []repository.Author{{Name: fmt.Sprintf("Ada Lovelace %d", i)}, {Name: "Alan Turing"}, {Name: "Grace Hopper"}, {Name: fmt.Sprintf("Author %d", i%977)}},
			Categories: []string{"cs.LG", "cs.CV"}, PrimaryCategory: "cs.LG", Submitter: fmt.Sprintf("Submitter %d", i%5000),
			PublishedTime: time.Unix(int64(1.7e9)+int64(i), 0).UTC(), SubmitTime: time.Unix(int64(1.7e9)+int64(i), 0).UTC(),
			ArxivUpdateTime: time.Unix(int64(1.7e9)+int64(i), 0).UTC(), CreateTime: time.Unix(int64(1.7e9)+int64(i), 0).UTC(),
			UpdateTime: time.Unix(int64(1.7e9)+int64(i), 0).UTC(), PDFURL: fmt.Sprintf("https://arxiv.org/pdf/24%02d.%05d", i/100000, i%100000),
			Comment: "12 pages, 5 figures", JournalRef: "", Version: int64(i + 1)})
	}
	return all
}
