package readmodel

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/papercatalog/papers/repository"
)

// fill sets every field of v, recursively, to a random value that is not the
// zero value: a field the codec forgets fails the round trip.
func fill(r *rand.Rand, v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d-é\x00%d", r.IntN(1000), r.Int64()))
	case reflect.Int32, reflect.Int64:
		v.SetInt(r.Int64N(1<<31) - 1<<30)
	case reflect.Slice:
		n := 1 + r.IntN(4)
		v.Set(reflect.MakeSlice(v.Type(), n, n))
		for i := range n {
			fill(r, v.Index(i))
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Unix(r.Int64N(1<<40)-1<<39, r.Int64N(1e9)).UTC()))
			return
		}
		for i := range v.NumField() {
			fill(r, v.Field(i))
		}
	default:
		panic(fmt.Sprintf("fill: a field of kind %s: teach fill and the codec about it", v.Kind()))
	}
}

func TestPapersSurviveTheCheckpointLayout(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	var papers []*repository.Paper
	for range 200 {
		p := &repository.Paper{}
		fill(r, reflect.ValueOf(p).Elem())
		papers = append(papers, p)
	}
	papers = append(papers, &repository.Paper{ID: "empty"}, &repository.Paper{ID: "x", Authors: []repository.Author{{}}})
	var b []byte
	for _, p := range papers {
		b = appendPaper(b, p)
	}
	// Decoded into allocations of their own, and from a slab's blocks.
	in := &slab{}
	var fromSlab []*repository.Paper
	for _, s := range []*slab{nil, in} {
		rest := b
		for i, want := range papers {
			got, next, err := decodePaper(rest, s)
			if err != nil {
				t.Fatalf("paper %d: %v", i, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("paper %d came back as\n%+v\nwant\n%+v", i, got, want)
			}
			if s != nil {
				fromSlab = append(fromSlab, got)
			}
			rest = next
		}
		if len(rest) != 0 {
			t.Errorf("%d bytes left over", len(rest))
		}
	}
	// Papers from one slab share its blocks, and none overwrote another: an
	// append to one's authors moves them.
	for i, got := range fromSlab {
		if !reflect.DeepEqual(got, papers[i]) {
			t.Fatalf("paper %d from the slab changed after the others were decoded:\n%+v", i, got)
		}
		if cap(got.Authors) != len(got.Authors) {
			t.Fatalf("paper %d from the slab: authors of capacity %d for %d", i, cap(got.Authors), len(got.Authors))
		}
	}
	if &in.papersBlock[len(in.papersBlock)-1] != fromSlab[len(fromSlab)-1] || len(in.papersBlock) != len(papers) {
		t.Errorf("the slab's block of papers holds %d, the last decoded is not its last", len(in.papersBlock))
	}
	for _, want := range []textRef{{}, {Off: 1 << 40, N: 7, Len: 1 << 31, Sum: 1<<64 - 1}} {
		got, rest, err := decodeRef(append(appendRef(nil, want), 9))
		if err != nil || got != want || len(rest) != 1 {
			t.Errorf("place %+v came back as %+v, %v, %d bytes after", want, got, err, len(rest))
		}
	}
	if _, _, err := decodeRef(appendRef(nil, textRef{N: 1})[:3]); !errors.Is(err, errShortPaper) {
		t.Errorf("a place cut short: %v", err)
	}
	// Every cut of a paper is an error, never a panic or a paper.
	one := appendPaper(nil, papers[0])
	for n := range len(one) {
		if p, _, err := decodePaper(one[:n], &slab{}); !errors.Is(err, errShortPaper) || p != nil {
			t.Fatalf("a paper cut to %d of %d bytes: %v, %v", n, len(one), p, err)
		}
	}
}

func BenchmarkDecodePaper(b *testing.B) {
	r := rand.New(rand.NewPCG(7, 8))
	p := &repository.Paper{}
	fill(r, reflect.ValueOf(p).Elem())
	p.Abstract = ""
	buf := appendPaper(nil, p)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if _, _, err := decodePaper(buf, nil); err != nil {
			b.Fatal(err)
		}
	}
}
