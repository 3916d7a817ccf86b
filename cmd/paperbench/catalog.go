package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/papercatalog/papers/repository"
)

// sampleFile is the arXiv metadata sample the generator learns its vocabulary from.
const sampleFile = "../shared/data/arxiv/arxiv-metadata-oai-snapshot.sample.jsonl"

// vocabulary holds words weighted by how often they occur in real abstracts, so
// generated text has arXiv-like word frequencies and lengths.
type vocabulary struct {
	words      []string
	categories []string
	names      []string
}

// fallbackWords, with made-up words, are used when the arXiv sample is absent.
const fallbackWords = `we propose a novel method for learning representations of data with deep neural
networks the model is trained on large datasets and evaluated on benchmark tasks results show
that our approach outperforms previous state of the art methods in accuracy and efficiency
transformer attention diffusion generative language vision reinforcement learning graph
optimization convergence theoretical analysis experiments demonstrate improvements quantization`

// madeUpWords returns n distinct words of three syllables (six letters). The
// fallback's words alone make about a thousand two-word queries, and the
// benchmark asks for a hundred thousand distinct ones.
func madeUpWords(n int) []string {
	var syllables []string
	for _, c := range "bdgklmnprstv" {
		for _, v := range "aeiou" {
			syllables = append(syllables, string(c)+string(v))
		}
	}
	k := len(syllables)
	out := make([]string, n) // distinct while n <= k*k
	for i := range out {
		out[i] = syllables[i%k] + syllables[(i/k)%k] + syllables[(7*i+3)%k]
	}
	return out
}

func loadVocabulary(path string) (*vocabulary, string) {
	v := &vocabulary{}
	f, err := os.Open(path) //nolint:gosec // a path the operator chose
	if err != nil {
		v.words = append(strings.Fields(fallbackWords), madeUpWords(800)...)
		v.categories = []string{"cs.LG", "cs.CL", "cs.CV", "cs.AI", "stat.ML"}
		v.names = []string{"Ada Lovelace", "Alan Turing", "Grace Hopper", "Claude Shannon"}
		return v, "built-in word list (arXiv sample not found at " + path + ")"
	}
	defer func() { _ = f.Close() }()
	seenCat := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	records := 0
	for sc.Scan() {
		var rec struct {
			Abstract      string     `json:"abstract"`
			Title         string     `json:"title"`
			Categories    string     `json:"categories"`
			AuthorsParsed [][]string `json:"authors_parsed"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) != nil {
			continue
		}
		records++
		v.words = append(v.words, strings.Fields(rec.Abstract+" "+rec.Title)...)
		for _, c := range strings.Fields(rec.Categories) {
			if !seenCat[c] {
				seenCat[c] = true
				v.categories = append(v.categories, c)
			}
		}
		for _, a := range rec.AuthorsParsed {
			if len(a) >= 2 && a[0] != "" {
				v.names = append(v.names, strings.TrimSpace(a[1]+" "+a[0]))
			}
		}
	}
	return v, fmt.Sprintf("vocabulary of %d words from %d arXiv records", len(v.words), records)
}

var orgs = []repository.Organization{
	{ID: "naver-ai", DisplayName: "NAVER AI Lab"}, {ID: "google", DisplayName: "Google"},
	{ID: "meta-ai", DisplayName: "Meta AI"}, {ID: "openai", DisplayName: "OpenAI"},
	{ID: "deepmind", DisplayName: "Google DeepMind"}, {ID: "msr", DisplayName: "Microsoft Research"},
	{ID: "nvidia", DisplayName: "NVIDIA"}, {ID: "alibaba", DisplayName: "Alibaba"},
	{ID: "tsinghua", DisplayName: "Tsinghua University"}, {ID: "stanford", DisplayName: "Stanford"},
}

// mlCategories are the arXiv categories of a daily-papers catalog, by weight.
var mlCategories = []struct {
	name   string
	weight int
}{{"cs.CV", 30}, {"cs.CL", 25}, {"cs.LG", 25}, {"cs.AI", 10}, {"stat.ML", 5}, {"cs.RO", 5}}

// category draws a category: mostly the machine-learning ones a daily-papers
// catalog holds, one in ten from the arXiv sample.
func (v *vocabulary) category(r *rand.Rand) string {
	if r.IntN(10) == 0 && len(v.categories) > 0 {
		return v.categories[r.IntN(len(v.categories))]
	}
	n := r.IntN(100)
	for _, c := range mlCategories {
		if n < c.weight {
			return c.name
		}
		n -= c.weight
	}
	return "cs.LG"
}

func (v *vocabulary) text(r *rand.Rand, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(v.words[r.IntN(len(v.words))])
	}
	return b.String()
}

// benchID returns the id of the i-th generated paper: new-style arXiv ids spread
// over the months of 2024.
func benchID(i int) string {
	return fmt.Sprintf("24%02d.%05d", i%12+1, i/12)
}

// generate returns n papers with arXiv-like text, submitted over the last year,
// with upvotes following a heavy-tailed distribution.
func generate(v *vocabulary, n int, seed uint64) []*repository.Paper {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) //nolint:gosec // benchmark data, not secrets
	now := time.Now().UTC().Truncate(time.Millisecond)
	out := make([]*repository.Paper, n)
	for i := range out {
		submit := now.Add(-time.Duration(r.Int64N(int64(365 * 24 * time.Hour)))).Truncate(time.Millisecond)
		cats := []string{v.category(r), v.category(r)}
		if cats[0] == cats[1] {
			cats = cats[:1]
		}
		authors := make([]repository.Author, 1+r.IntN(8))
		for j := range authors {
			authors[j] = repository.Author{Name: v.names[r.IntN(len(v.names))]}
		}
		p := &repository.Paper{
			ID: benchID(i), ArxivVersion: int32(1 + r.IntN(3)), //nolint:gosec // small
			Title:    v.text(r, 6+r.IntN(8)),
			Abstract: v.text(r, 120+r.IntN(130)),
			Authors:  authors, Categories: cats, PrimaryCategory: cats[0],
			PublishedTime: submit.Add(-48 * time.Hour), SubmitTime: submit,
			BaseUpvotes: int64(math.Floor(math.Pow(r.Float64(), 4) * 500)),
			Version:     now.UnixNano(),
			CreateTime:  submit, UpdateTime: submit,
		}
		if r.IntN(3) == 0 {
			p.Organization = orgs[r.IntN(len(orgs))]
		}
		if r.IntN(2) == 0 {
			p.GithubRepo = "https://github.com/example/repo" + fmt.Sprint(i)
		}
		out[i] = p
	}
	return out
}

// generateVotes returns n upvotes, each by a different user, spread over the papers
// with a heavy tail: a few papers get most of them.
func generateVotes(papers []*repository.Paper, n int, seed uint64) []repository.Vote {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) //nolint:gosec // benchmark data, not secrets
	out := make([]repository.Vote, n)
	for i := range out {
		p := papers[int(math.Pow(r.Float64(), 3)*float64(len(papers)))%len(papers)]
		out[i] = repository.Vote{PaperID: p.ID, User: fmt.Sprintf("user-%d", i)}
	}
	return out
}
