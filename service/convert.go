package service

import (
	"strconv"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	"github.com/papercatalog/papers/repository"
)

func etag(p *repository.Paper) string {
	return strconv.FormatInt(p.Version, 36)
}

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
		Etag:            etag(p),
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

// writableFields are the Paper fields a caller may set, by proto field name.
var writableFields = []string{
	"arxiv_version", "title", "abstract", "authors", "categories", "primary_category",
	"keywords", "published_time", "arxiv_update_time", "submit_time", "submitter",
	"organization", "github_repo", "github_stars", "project_page", "pdf_url", "doi",
	"journal_ref", "comment",
}

// setField copies the field path of src into dst.
func setField(dst *repository.Paper, src *catalogv1.Paper, path string) {
	switch path {
	case "arxiv_version":
		dst.ArxivVersion = src.GetArxivVersion()
	case "title":
		dst.Title = src.GetTitle()
	case "abstract":
		dst.Abstract = src.GetAbstract()
	case "authors":
		dst.Authors = nil
		for _, a := range src.GetAuthors() {
			dst.Authors = append(dst.Authors, repository.Author{Name: a.GetName(), Affiliation: a.GetAffiliation()})
		}
	case "categories":
		dst.Categories = append([]string(nil), src.GetCategories()...)
	case "primary_category":
		dst.PrimaryCategory = src.GetPrimaryCategory()
	case "keywords":
		dst.Keywords = append([]string(nil), src.GetKeywords()...)
	case "published_time":
		dst.PublishedTime = fromTS(src.GetPublishedTime())
	case "arxiv_update_time":
		dst.ArxivUpdateTime = fromTS(src.GetArxivUpdateTime())
	case "submit_time":
		dst.SubmitTime = fromTS(src.GetSubmitTime())
	case "submitter":
		dst.Submitter = src.GetSubmitter()
	case "organization":
		dst.Organization = repository.Organization{
			ID: src.GetOrganization().GetId(), DisplayName: src.GetOrganization().GetDisplayName(),
		}
	case "github_repo":
		dst.GithubRepo = src.GetGithubRepo()
	case "github_stars":
		dst.GithubStars = src.GetGithubStars()
	case "project_page":
		dst.ProjectPage = src.GetProjectPage()
	case "pdf_url":
		dst.PDFURL = src.GetPdfUrl()
	case "doi":
		dst.DOI = src.GetDoi()
	case "journal_ref":
		dst.JournalRef = src.GetJournalRef()
	case "comment":
		dst.Comment = src.GetComment()
	}
}

// resolveView returns the view to use for a request's view field, with def for
// PAPER_VIEW_UNSPECIFIED; an unknown value is a violation.
func resolveView(v *violations, view, def catalogv1.PaperView) catalogv1.PaperView {
	switch view {
	case catalogv1.PaperView_PAPER_VIEW_UNSPECIFIED:
		return def
	case catalogv1.PaperView_PAPER_VIEW_BASIC, catalogv1.PaperView_PAPER_VIEW_FULL:
		return view
	}
	v.add("view", "must be PAPER_VIEW_BASIC or PAPER_VIEW_FULL")
	return def
}
