package service

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	"github.com/papercatalog/papers/query"
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
	s := &Catalog{Model: m, Tokens: query.NewTokens([]byte("k"))}
	req := &catalogv1.ListPapersRequest{Filter: `categories:"cs.LG" AND upvotes >= 5`, OrderBy: "upvotes desc, submit_time desc", PageSize: 50}
	for b.Loop() {
		r, err := s.listPapers(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = proto.Marshal(r)
	}
}
