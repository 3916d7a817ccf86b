package server_test

import (
	"bufio"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
)

const arxivSample = "../../shared/data/arxiv/arxiv-metadata-oai-snapshot.sample.jsonl"

type arxivRecord struct {
	ID            string     `json:"id"`
	Submitter     string     `json:"submitter"`
	Title         string     `json:"title"`
	Comments      string     `json:"comments"`
	JournalRef    string     `json:"journal-ref"`
	DOI           string     `json:"doi"`
	Categories    string     `json:"categories"`
	Abstract      string     `json:"abstract"`
	AuthorsParsed [][]string `json:"authors_parsed"`
	Versions      []struct {
		Version string `json:"version"`
		Created string `json:"created"`
	} `json:"versions"`
}

func loadArxivSample(t *testing.T) []arxivRecord {
	t.Helper()
	f, err := os.Open(arxivSample)
	if err != nil {
		t.Skipf("arXiv sample not available: %v", err)
	}
	defer func() { _ = f.Close() }()
	var recs []arxivRecord
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var r arxivRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %d: %v", len(recs)+1, err)
		}
		recs = append(recs, r)
	}
	return recs
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// TestRealArxivRecords loads the 200 real arXiv records of the shared sample through
// the API and checks listings against what the file itself says.
func TestRealArxivRecords(t *testing.T) {
	t.Parallel()
	recs := loadArxivSample(t)
	ts := startServer(t, testConfig(t))
	ctx := longCtx(t)
	hepPh := 0
	var earliest time.Time
	earliestID := ""
	for _, r := range recs {
		p := &catalogv1.Paper{
			Title: oneLine(r.Title), Abstract: oneLine(r.Abstract), Categories: strings.Fields(r.Categories),
			Submitter: r.Submitter, Doi: r.DOI, JournalRef: oneLine(r.JournalRef), Comment: oneLine(r.Comments),
			ArxivVersion: int32(len(r.Versions)),
		}
		for _, a := range r.AuthorsParsed {
			p.Authors = append(p.Authors, &catalogv1.Author{Name: strings.TrimSpace(a[1] + " " + a[0])})
		}
		published, err := time.Parse("Mon, 2 Jan 2006 15:04:05 MST", r.Versions[0].Created)
		if err != nil {
			t.Fatalf("%s: %v", r.ID, err)
		}
		p.PublishedTime = timestamppb.New(published)
		if earliestID == "" || published.Before(earliest) {
			earliest, earliestID = published, r.ID
		}
		if slices.Contains(p.Categories, "hep-ph") {
			hepPh++
		}
		if _, err := ts.client.CreatePaper(admin(ctx), &catalogv1.CreatePaperRequest{PaperId: r.ID, Paper: p}); err != nil {
			t.Fatalf("create %s: %v", r.ID, err)
		}
	}

	resp, err := ts.client.ListPapers(ctx, &catalogv1.ListPapersRequest{Filter: `categories:"hep-ph"`})
	if err != nil || int(resp.GetTotalSize()) != hepPh {
		t.Errorf("hep-ph papers: %d (%v), the file has %d", resp.GetTotalSize(), err, hepPh)
	}
	resp, err = ts.client.ListPapers(ctx, &catalogv1.ListPapersRequest{Filter: `authors:"Nadolsky"`})
	if err != nil || len(resp.GetPapers()) != 1 || resp.GetPapers()[0].GetArxivId() != "0704.0001" {
		t.Errorf("papers by Nadolsky: %v %v", resp.GetPapers(), err)
	}
	resp, err = ts.client.ListPapers(ctx, &catalogv1.ListPapersRequest{OrderBy: "published_time", PageSize: 1})
	if err != nil || resp.GetPapers()[0].GetArxivId() != earliestID {
		t.Errorf("earliest published: %v, want %s", resp.GetPapers(), earliestID)
	}
	got, err := ts.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: "papers/0704.0001"})
	if err != nil || got.GetTitle() != "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies" ||
		got.GetDoi() != "10.1103/PhysRevD.76.013009" {
		t.Errorf("0704.0001: %v %v", got, err)
	}
	seen, token := map[string]bool{}, ""
	for pages := 1; ; pages++ {
		resp, err := ts.client.ListPapers(ctx, &catalogv1.ListPapersRequest{PageSize: 50, PageToken: token, OrderBy: "published_time desc"})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range resp.GetPapers() {
			if seen[p.GetName()] {
				t.Fatalf("page %d repeats %s", pages, p.GetName())
			}
			seen[p.GetName()] = true
		}
		if token = resp.GetNextPageToken(); token == "" {
			if pages != 4 || len(seen) != len(recs) {
				t.Errorf("%d pages, %d papers; want 4 and %d", pages, len(seen), len(recs))
			}
			break
		}
	}
}
