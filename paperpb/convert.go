// Package paperpb is the Paper of the API (catalogv1.Paper) beside the domain's
// (repository.Paper): conversions both ways, resource names, update masks
// checked against the fields' behaviours in the proto, and a cache of
// converted papers. It is the one place that names the Paper's fields for the
// API; TestEveryWritableFieldIsStored fails when a new field is left out.
package paperpb

import (
	"time"

	"go.einride.tech/aip/fieldbehavior"
	"go.einride.tech/aip/fieldmask"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/papercatalog/papers/apierror"
	"github.com/papercatalog/papers/catalog"
	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	"github.com/papercatalog/papers/repository"
)

// TS is t as a timestamp; the zero time is none.
func TS(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// FromTS returns a timestamp's time, truncated to the millisecond that the database
// keeps, in UTC.
func FromTS(t *timestamppb.Timestamp) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.AsTime().Truncate(time.Millisecond).UTC()
}

// From is p as the API shows it in view.
func From(p *repository.Paper, view catalogv1.PaperView) *catalogv1.Paper {
	out := &catalogv1.Paper{
		Name:            Name(p.ID),
		ArxivId:         p.ID,
		ArxivVersion:    p.ArxivVersion,
		Title:           p.Title,
		Abstract:        p.Abstract,
		Categories:      p.Categories,
		PrimaryCategory: p.PrimaryCategory,
		Keywords:        p.Keywords,
		PublishedTime:   TS(p.PublishedTime),
		ArxivUpdateTime: TS(p.ArxivUpdateTime),
		SubmitTime:      TS(p.SubmitTime),
		Submitter:       p.Submitter,
		GithubRepo:      p.GithubRepo,
		GithubStars:     p.GithubStars,
		ProjectPage:     p.ProjectPage,
		PdfUrl:          p.PDFURL,
		Doi:             p.DOI,
		JournalRef:      p.JournalRef,
		Comment:         p.Comment,
		Upvotes:         p.Upvotes,
		Etag:            catalog.Etag(p),
		CreateTime:      TS(p.CreateTime),
		UpdateTime:      TS(p.UpdateTime),
	}
	if view == catalogv1.PaperView_PAPER_VIEW_BASIC {
		out.Abstract = ""
	}
	if len(p.Authors) > 0 {
		out.Authors = make([]*catalogv1.Author, len(p.Authors))
		for i, a := range p.Authors {
			out.Authors[i] = &catalogv1.Author{Name: a.Name, Affiliation: a.Affiliation}
		}
	}
	if p.Organization != (repository.Organization{}) {
		out.Organization = &catalogv1.Organization{Id: p.Organization.ID, DisplayName: p.Organization.DisplayName}
	}
	return out
}

// WithAbstract returns a message with m's fields and the abstract: its
// authors, organization and times are m's own, shared, not copied. Neither
// message may be modified afterwards.
func WithAbstract(m *catalogv1.Paper, abstract string) *catalogv1.Paper {
	return &catalogv1.Paper{
		Name:            m.Name,
		ArxivId:         m.ArxivId,
		ArxivVersion:    m.ArxivVersion,
		Title:           m.Title,
		Abstract:        abstract,
		Authors:         m.Authors,
		Organization:    m.Organization,
		Categories:      m.Categories,
		PrimaryCategory: m.PrimaryCategory,
		Keywords:        m.Keywords,
		PublishedTime:   m.PublishedTime,
		ArxivUpdateTime: m.ArxivUpdateTime,
		SubmitTime:      m.SubmitTime,
		Submitter:       m.Submitter,
		GithubRepo:      m.GithubRepo,
		GithubStars:     m.GithubStars,
		ProjectPage:     m.ProjectPage,
		PdfUrl:          m.PdfUrl,
		Doi:             m.Doi,
		JournalRef:      m.JournalRef,
		Comment:         m.Comment,
		Upvotes:         m.Upvotes,
		ViewerUpvoted:   m.ViewerUpvoted,
		Etag:            m.Etag,
		CreateTime:      m.CreateTime,
		UpdateTime:      m.UpdateTime,
	}
}

// paperFields are the fields of the Paper message.
var paperFields = (&catalogv1.Paper{}).ProtoReflect().Descriptor().Fields()

// outputOnly reports whether the server sets the field and callers cannot, by
// its field behaviour in the proto (OUTPUT_ONLY, or IDENTIFIER for the name).
func outputOnly(fd protoreflect.FieldDescriptor) bool {
	return fieldbehavior.Has(fd, annotations.FieldBehavior_OUTPUT_ONLY) ||
		fieldbehavior.Has(fd, annotations.FieldBehavior_IDENTIFIER)
}

// SetWritable copies the writable fields of src into dst; the rest of dst (its
// id and bookkeeping) stays.
func SetWritable(dst *repository.Paper, src *catalogv1.Paper) {
	dst.ArxivVersion = src.GetArxivVersion()
	dst.Title = src.GetTitle()
	dst.Abstract = src.GetAbstract()
	dst.Authors = nil
	for _, a := range src.GetAuthors() {
		dst.Authors = append(dst.Authors, repository.Author{Name: a.GetName(), Affiliation: a.GetAffiliation()})
	}
	dst.Categories = append([]string(nil), src.GetCategories()...)
	dst.PrimaryCategory = src.GetPrimaryCategory()
	dst.Keywords = append([]string(nil), src.GetKeywords()...)
	dst.PublishedTime = FromTS(src.GetPublishedTime())
	dst.ArxivUpdateTime = FromTS(src.GetArxivUpdateTime())
	dst.SubmitTime = FromTS(src.GetSubmitTime())
	dst.Submitter = src.GetSubmitter()
	dst.Organization = repository.Organization{
		ID: src.GetOrganization().GetId(), DisplayName: src.GetOrganization().GetDisplayName(),
	}
	dst.GithubRepo = src.GetGithubRepo()
	dst.GithubStars = src.GetGithubStars()
	dst.ProjectPage = src.GetProjectPage()
	dst.PDFURL = src.GetPdfUrl()
	dst.DOI = src.GetDoi()
	dst.JournalRef = src.GetJournalRef()
	dst.Comment = src.GetComment()
}

// ApplyMask returns cur with the fields of mask (checked by UpdateMask) taken from
// src.
func ApplyMask(cur *repository.Paper, src *catalogv1.Paper, mask *fieldmaskpb.FieldMask) repository.Paper {
	merged := From(cur, catalogv1.PaperView_PAPER_VIEW_FULL)
	fieldmask.Update(mask, merged, src)
	next := *cur
	SetWritable(&next, merged)
	return next
}

// CheckTimestamps reports timestamps of src that are out of range.
func CheckTimestamps(v *apierror.Violations, prefix string, src *catalogv1.Paper) {
	for name, t := range map[string]*timestamppb.Timestamp{
		"published_time": src.GetPublishedTime(), "arxiv_update_time": src.GetArxivUpdateTime(),
		"submit_time": src.GetSubmitTime(),
	} {
		if t == nil {
			continue
		}
		if err := t.CheckValid(); err != nil {
			v.Add(prefix+name, "is not a valid timestamp")
			continue
		}
		if y := t.AsTime().Year(); y < 1900 || y > 2200 {
			v.Add(prefix+name, "must be between the years 1900 and 2200")
		}
	}
}

// ImportRecord is the ImportPapers record of what a source knows of a paper: p
// (its ID is not used), under the arXiv identifier id as the source wrote it, at
// position in the input, with the source's upvote count if it has one. Only the
// fields a caller may set are filled: the output-only ones, the name and the
// etag are left empty, as ImportPapers expects. The record is not checked:
// ImportPapers rejects what it cannot take.
func ImportRecord(id string, position int64, p *repository.Paper, upvotes *int64) *catalogv1.ImportRecord {
	msg := From(p, catalogv1.PaperView_PAPER_VIEW_FULL)
	m := msg.ProtoReflect()
	for _, fd := range notImported {
		m.Clear(fd)
	}
	return &catalogv1.ImportRecord{PaperId: id, Paper: msg, ImportedUpvotes: upvotes, Position: position}
}

// notImported are the Paper fields an import record leaves empty: the ones the
// server sets (by their field behaviour) and the etag. They are listed once, as
// fieldbehavior.ClearFields would look the behaviours up for every record.
var notImported = func() []protoreflect.FieldDescriptor {
	var out []protoreflect.FieldDescriptor
	for i := range paperFields.Len() {
		if fd := paperFields.Get(i); outputOnly(fd) || fd.Name() == "etag" {
			out = append(out, fd)
		}
	}
	return out
}()
