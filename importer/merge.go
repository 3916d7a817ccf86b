package importer

import (
	"reflect"
	"time"

	"github.com/papercatalog/papers/repository"
)

// arxivFields are the repository.Paper fields of the arXiv metadata, which a
// newer arXiv version replaces and anything else only fills in.
var arxivFields = []string{
	"Title", "Abstract", "Authors", "Categories", "PrimaryCategory", "PublishedTime",
	"ArxivUpdateTime", "Submitter", "PDFURL", "DOI", "JournalRef", "Comment",
}

// catalogFields are the repository.Paper fields taken from any record that has
// them.
var catalogFields = []string{"Keywords", "GithubRepo", "GithubStars", "ProjectPage", "SubmitTime"}

// Merge returns the paper after importing rec onto cur (nil for a new paper) at
// time t, by the rules in ImportPapers' documentation: a newer arXiv version
// replaces the arXiv metadata, anything else only fills what the paper lacks;
// catalog fields are taken whenever the record has them; an organization is set
// only on a paper without one; imported upvotes replace the imported count. A
// new paper without a submit time gets its published time, else t.
func Merge(cur *repository.Paper, rec Record, t time.Time) *repository.Paper {
	in := rec.Paper
	var next repository.Paper
	if cur == nil {
		next = *in
		next.CreateTime = t
		submit := next.PublishedTime
		if submit.IsZero() {
			submit = t
		}
		repository.CompleteNew(&next, submit)
	} else {
		next = *cur
		newer := in.ArxivVersion > cur.ArxivVersion
		src, dst := reflect.ValueOf(in).Elem(), reflect.ValueOf(&next).Elem()
		for _, f := range arxivFields {
			if (newer && !empty(src, f)) || empty(dst, f) {
				dst.FieldByName(f).Set(src.FieldByName(f))
			}
		}
		if newer {
			next.ArxivVersion = in.ArxivVersion
		}
		for _, f := range catalogFields {
			if !empty(src, f) {
				dst.FieldByName(f).Set(src.FieldByName(f))
			}
		}
		if next.Organization.ID == "" {
			next.Organization = in.Organization
		}
	}
	if rec.Upvotes != nil {
		next.BaseUpvotes = *rec.Upvotes
	}
	next.Upvotes = 0 // the read model counts it
	next.UpdateTime = t
	return &next
}

// empty reports whether the paper p has no value for the field.
func empty(p reflect.Value, field string) bool {
	v := p.FieldByName(field)
	return v.IsZero() || (v.Kind() == reflect.Slice && v.Len() == 0)
}

// SameContent reports whether a and b hold the same paper, apart from the
// bookkeeping a write changes (version, create and update time, the read model's
// count, the request id).
func SameContent(a, b *repository.Paper) bool {
	x, y := *a, *b
	x.Version, y.Version = 0, 0
	x.UpdateTime, y.UpdateTime = time.Time{}, time.Time{}
	x.Upvotes, y.Upvotes = 0, 0
	x.CreateTime, y.CreateTime = time.Time{}, time.Time{}
	x.RequestID, y.RequestID = "", ""
	return reflect.DeepEqual(normalized(x), normalized(y))
}

// normalized treats empty and nil slices alike.
func normalized(p repository.Paper) repository.Paper {
	if len(p.Authors) == 0 {
		p.Authors = nil
	}
	if len(p.Categories) == 0 {
		p.Categories = nil
	}
	if len(p.Keywords) == 0 {
		p.Keywords = nil
	}
	return p
}
