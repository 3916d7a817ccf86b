package service

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	"github.com/papercatalog/papers/listing"
	"github.com/papercatalog/papers/readmodel"
	"github.com/papercatalog/papers/repository"
)

func BenchmarkListPapers(b *testing.B) {
	m := readmodel.New()
	var all []*repository.Paper
	for i := range 50000 {
		all = append(all, &repository.Paper{ID: fmt.Sprintf("2401.%05d", i), Title: "t", Abstract: "abc",
			Categories: []string{"cs.LG", "cs.CV"}, Upvotes: int64(i % 500), SubmitTime: time.Unix(int64(i), 0),
			Authors: []repository.Author{{Name: "a"}, {Name: "b"}, {Name: "c"}}})
	}
	m.Replace(all, 0)
	s := &Catalog{Model: m, Tokens: listing.NewTokens([]byte("k"))}
	req := &catalogv1.ListPapersRequest{Filter: `categories:"cs.LG" AND upvotes >= 5`, OrderBy: "upvotes desc, submit_time desc", PageSize: 50}
	for b.Loop() {
		r, err := s.listPapers(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = proto.Marshal(r)
	}
}

func BenchmarkListTrendingPapers(b *testing.B) {
	m := readmodel.New()
	var all []*repository.Paper
	now := time.Now()
	for i := range 50000 {
		all = append(all, &repository.Paper{ID: fmt.Sprintf("2401.%05d", i), Title: "A title of some twelve words about learning representations of graphs",
			Abstract: "abc", Categories: []string{"cs.LG", "cs.CV"}, PrimaryCategory: "cs.LG", Upvotes: int64(i % 500),
			SubmitTime: now.Add(-time.Duration(i) * 10 * time.Minute), PublishedTime: now.Add(-time.Duration(i) * 10 * time.Minute),
			GithubRepo: "https://github.com/example/repo", Version: int64(i + 1),
			Authors: []repository.Author{{Name: "Ada Lovelace"}, {Name: "Alan Turing"}, {Name: "Grace Hopper"}}})
	}
	m.Replace(all, 0)
	s := &Catalog{Model: m, Tokens: listing.NewTokens([]byte("k"))}
	req := &catalogv1.ListTrendingPapersRequest{}
	for b.Loop() {
		r, err := s.listTrending(req, time.Now().UTC().Truncate(time.Minute))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = proto.Marshal(r)
	}
}
