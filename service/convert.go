package service

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

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// fromTS returns a timestamp's time, truncated to the millisecond that the database
// keeps, in UTC.
func fromTS(t *timestamppb.Timestamp) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.AsTime().Truncate(time.Millisecond).UTC()
}

func toProto(p *repository.Paper, view catalogv1.PaperView) *catalogv1.Paper {
	out := &catalogv1.Paper{
		Name:            paperName(p.ID),
		ArxivId:         p.ID,
		ArxivVersion:    p.ArxivVersion,
		Title:           p.Title,
		Abstract:        p.Abstract,
		Categories:      p.Categories,
		PrimaryCategory: p.PrimaryCategory,
		Keywords:        p.Keywords,
		PublishedTime:   ts(p.PublishedTime),
		ArxivUpdateTime: ts(p.ArxivUpdateTime),
		SubmitTime:      ts(p.SubmitTime),
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
		CreateTime:      ts(p.CreateTime),
		UpdateTime:      ts(p.UpdateTime),
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

// paperFields are the fields of the Paper message.
var paperFields = (&catalogv1.Paper{}).ProtoReflect().Descriptor().Fields()

// outputOnly reports whether the server sets the field and callers cannot, by
// its field behaviour in the proto (OUTPUT_ONLY, or IDENTIFIER for the name).
func outputOnly(fd protoreflect.FieldDescriptor) bool {
	return fieldbehavior.Has(fd, annotations.FieldBehavior_OUTPUT_ONLY) ||
		fieldbehavior.Has(fd, annotations.FieldBehavior_IDENTIFIER)
}

// setWritable copies the writable fields of src into dst; the rest of dst (its
// id and bookkeeping) stays.
func setWritable(dst *repository.Paper, src *catalogv1.Paper) {
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
	dst.PublishedTime = fromTS(src.GetPublishedTime())
	dst.ArxivUpdateTime = fromTS(src.GetArxivUpdateTime())
	dst.SubmitTime = fromTS(src.GetSubmitTime())
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

// applyMask returns cur with the fields of mask (checked by maskPaths) taken from
// src.
func applyMask(cur *repository.Paper, src *catalogv1.Paper, mask *fieldmaskpb.FieldMask) repository.Paper {
	merged := toProto(cur, catalogv1.PaperView_PAPER_VIEW_FULL)
	fieldmask.Update(mask, merged, src)
	next := *cur
	setWritable(&next, merged)
	return next
}

// resolveView returns the view to use for a request's view field, with def for
// PAPER_VIEW_UNSPECIFIED; an unknown value is a violation.
func resolveView(v *apierror.Violations, view, def catalogv1.PaperView) catalogv1.PaperView {
	switch view {
	case catalogv1.PaperView_PAPER_VIEW_UNSPECIFIED:
		return def
	case catalogv1.PaperView_PAPER_VIEW_BASIC, catalogv1.PaperView_PAPER_VIEW_FULL:
		return view
	}
	v.Add("view", "must be PAPER_VIEW_BASIC or PAPER_VIEW_FULL")
	return def
}
