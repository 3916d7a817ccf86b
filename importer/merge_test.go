package importer

import (
	"testing"
	"time"

	"github.com/papercatalog/papers/repository"
)

var (
	t0  = time.Date(2021, 11, 25, 10, 0, 0, 0, time.UTC)
	now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
)

// stored is a paper as the catalog holds it before an import.
func stored() *repository.Paper {
	return &repository.Paper{
		ID: "2111.13056", ArxivVersion: 2, Title: "Old title", Abstract: "Old abstract",
		Authors: []repository.Author{{Name: "A"}}, Categories: []string{"cs.CV"}, PrimaryCategory: "cs.CV",
		Keywords: []string{"vision"}, PublishedTime: t0, SubmitTime: t0, GithubRepo: "https://github.com/a/b",
		GithubStars: 5, Organization: repository.Organization{ID: "naver-ai", DisplayName: "NAVER AI"},
		BaseUpvotes: 3, Upvotes: 10, Version: 7, CreateTime: t0, UpdateTime: t0, RequestID: "r1",
	}
}

func upvotes(n int64) *int64 { return &n }

func TestMerge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		cur   *repository.Paper
		rec   Record
		check func(t *testing.T, got *repository.Paper)
	}{
		{
			name: "a newer arXiv version replaces the arXiv metadata it carries",
			cur:  stored(),
			rec:  Record{Paper: &repository.Paper{ID: "2111.13056", ArxivVersion: 3, Title: "New title"}},
			check: func(t *testing.T, got *repository.Paper) {
				if got.Title != "New title" || got.ArxivVersion != 3 {
					t.Errorf("title %q version %d, want New title 3", got.Title, got.ArxivVersion)
				}
				if got.Abstract != "Old abstract" {
					t.Errorf("abstract %q: a field the record lacks must stay", got.Abstract)
				}
			},
		},
		{
			name: "an older arXiv version never overwrites a newer one",
			cur:  stored(),
			rec:  Record{Paper: &repository.Paper{ID: "2111.13056", ArxivVersion: 1, Title: "Older title"}},
			check: func(t *testing.T, got *repository.Paper) {
				if got.Title != "Old title" || got.ArxivVersion != 2 {
					t.Errorf("title %q version %d, want Old title 2", got.Title, got.ArxivVersion)
				}
			},
		},
		{
			name: "an unknown version only fills arXiv fields the paper lacks",
			cur:  stored(),
			rec: Record{Paper: &repository.Paper{ID: "2111.13056", Title: "Other", DOI: "10.1/x",
				Comment: "12 pages"}},
			check: func(t *testing.T, got *repository.Paper) {
				if got.Title != "Old title" || got.DOI != "10.1/x" || got.Comment != "12 pages" {
					t.Errorf("title %q doi %q comment %q", got.Title, got.DOI, got.Comment)
				}
			},
		},
		{
			name: "catalog fields are taken whenever the record has them",
			cur:  stored(),
			rec: Record{Paper: &repository.Paper{ID: "2111.13056", Keywords: []string{"detection"},
				GithubRepo: "https://github.com/c/d", GithubStars: 50, ProjectPage: "https://x.org", SubmitTime: now}},
			check: func(t *testing.T, got *repository.Paper) {
				if len(got.Keywords) != 1 || got.Keywords[0] != "detection" || got.GithubRepo != "https://github.com/c/d" ||
					got.GithubStars != 50 || got.ProjectPage != "https://x.org" || !got.SubmitTime.Equal(now) {
					t.Errorf("catalog fields not taken: %+v", got)
				}
			},
		},
		{
			name: "catalog fields the record lacks stay",
			cur:  stored(),
			rec:  Record{Paper: &repository.Paper{ID: "2111.13056"}},
			check: func(t *testing.T, got *repository.Paper) {
				if got.GithubStars != 5 || len(got.Keywords) != 1 || !got.SubmitTime.Equal(t0) {
					t.Errorf("catalog fields lost: %+v", got)
				}
			},
		},
		{
			name: "an organization is set only on a paper without one",
			cur:  stored(),
			rec: Record{Paper: &repository.Paper{ID: "2111.13056",
				Organization: repository.Organization{ID: "other", DisplayName: "Other"}}},
			check: func(t *testing.T, got *repository.Paper) {
				if got.Organization.ID != "naver-ai" {
					t.Errorf("organization %q, want the operator's naver-ai", got.Organization.ID)
				}
			},
		},
		{
			name: "a paper without an organization takes the record's",
			cur:  func() *repository.Paper { p := stored(); p.Organization = repository.Organization{}; return p }(),
			rec: Record{Paper: &repository.Paper{ID: "2111.13056",
				Organization: repository.Organization{ID: "other", DisplayName: "Other"}}},
			check: func(t *testing.T, got *repository.Paper) {
				if got.Organization.ID != "other" {
					t.Errorf("organization %q, want other", got.Organization.ID)
				}
			},
		},
		{
			name: "imported upvotes replace the imported count and keep the catalog's bookkeeping",
			cur:  stored(),
			rec:  Record{Paper: &repository.Paper{ID: "2111.13056"}, Upvotes: upvotes(40)},
			check: func(t *testing.T, got *repository.Paper) {
				if got.BaseUpvotes != 40 || got.Upvotes != 0 {
					t.Errorf("base %d upvotes %d, want 40 and 0 (the read model counts)", got.BaseUpvotes, got.Upvotes)
				}
				if got.Version != 7 || !got.CreateTime.Equal(t0) || got.RequestID != "r1" || !got.UpdateTime.Equal(now) {
					t.Errorf("bookkeeping: %+v", got)
				}
			},
		},
		{
			name: "without imported upvotes the imported count stays",
			cur:  stored(),
			rec:  Record{Paper: &repository.Paper{ID: "2111.13056"}},
			check: func(t *testing.T, got *repository.Paper) {
				if got.BaseUpvotes != 3 {
					t.Errorf("base %d, want 3", got.BaseUpvotes)
				}
			},
		},
		{
			name: "a new paper without submit time gets its published time",
			rec: Record{Paper: &repository.Paper{ID: "2111.13056", Title: "T", PublishedTime: t0,
				Categories: []string{"cs.LG", "cs.CV"}, Abstract: "Code: https://github.com/x/y."}},
			check: func(t *testing.T, got *repository.Paper) {
				if !got.SubmitTime.Equal(t0) || !got.CreateTime.Equal(now) || !got.UpdateTime.Equal(now) {
					t.Errorf("submit %v create %v update %v", got.SubmitTime, got.CreateTime, got.UpdateTime)
				}
				if got.PrimaryCategory != "cs.LG" || got.GithubRepo != "https://github.com/x/y" {
					t.Errorf("primary %q repo %q: a new paper is completed", got.PrimaryCategory, got.GithubRepo)
				}
			},
		},
		{
			name: "a new paper without submit or published time gets the import time",
			rec:  Record{Paper: &repository.Paper{ID: "2111.13056", Title: "T"}},
			check: func(t *testing.T, got *repository.Paper) {
				if !got.SubmitTime.Equal(now) {
					t.Errorf("submit %v, want %v", got.SubmitTime, now)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var before repository.Paper
			if tt.cur != nil {
				before = *tt.cur
			}
			got := Merge(tt.cur, tt.rec, now)
			tt.check(t, got)
			if tt.cur != nil && tt.cur.Title != before.Title {
				t.Error("Merge changed the stored paper it was given")
			}
		})
	}
}

func TestMergeTwiceIsUnchanged(t *testing.T) {
	t.Parallel()
	rec := Record{Paper: &repository.Paper{ID: "2111.13056", ArxivVersion: 3, Title: "New", Keywords: []string{"k"}},
		Upvotes: upvotes(4)}
	once := Merge(stored(), rec, now)
	twice := Merge(once, rec, now.Add(time.Hour))
	if !SameContent(once, twice) {
		t.Errorf("importing the same record again changed the paper:\n%+v\n%+v", once, twice)
	}
	if SameContent(stored(), once) {
		t.Error("SameContent missed a changed title")
	}
}
