package service

import (
	"errors"
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/timestamppb"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	"github.com/papercatalog/papers/repository"
)

// Limits on paper fields.
const (
	maxTitle      = 1000
	maxAbstract   = 20000
	maxAuthors    = 5000
	maxPersonName = 300
	maxCategories = 50
	maxCategory   = 50
	maxKeywords   = 100
	maxKeyword    = 100
	maxURL        = 2048
	maxDOI        = 200
	maxJournalRef = 1000
	maxComment    = 2000
	maxOrgName    = 200
	maxVersion    = 1000
	maxRequestID  = 100
	maxBatch      = 1000
)

var (
	orgID = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)
)

// checkTimestamps reports timestamps of src that are out of range.
func checkTimestamps(v *violations, prefix string, src *catalogv1.Paper) {
	for name, t := range map[string]*timestamppb.Timestamp{
		"published_time": src.GetPublishedTime(), "arxiv_update_time": src.GetArxivUpdateTime(),
		"submit_time": src.GetSubmitTime(),
	} {
		if t == nil {
			continue
		}
		if err := t.CheckValid(); err != nil {
			v.add(prefix+name, "is not a valid timestamp")
			continue
		}
		if y := t.AsTime().Year(); y < 1900 || y > 2200 {
			v.add(prefix+name, "must be between the years 1900 and 2200")
		}
	}
}

// textLimit checks a text field: at most limit characters, and no control
// characters but tab and line feed.
func textLimit(v *violations, field, s string, limit int) {
	if utf8.RuneCountInString(s) > limit {
		v.add(field, "must be at most %d characters", limit)
	}
	noControls(v, field, s, "\t\n")
}

// textBlock is textLimit for text of several lines (an abstract, a comment),
// which may also hold carriage returns.
func textBlock(v *violations, field, s string, limit int) {
	if utf8.RuneCountInString(s) > limit {
		v.add(field, "must be at most %d characters", limit)
	}
	noControls(v, field, s, "\t\n\r")
}

// noControls refuses control characters (C0, DEL and C1: NUL, ESC and the
// like, which make no sense in text and can rewrite a terminal or break
// a page) other than those in allowed.
func noControls(v *violations, field, s, allowed string) {
	i := 0
	for _, r := range s {
		i++
		if unicode.IsControl(r) && !strings.ContainsRune(allowed, r) {
			v.add(field, "must not contain control characters such as NUL or ESC (found U+%04X at character %d)", r, i)
			return
		}
	}
}

func checkURL(v *violations, field, s string) {
	if s == "" {
		return
	}
	if len(s) > maxURL {
		v.add(field, "must be at most %d characters", maxURL)
		return
	}
	u, err := url.Parse(s)
	if err == nil && strings.IndexFunc(s, unicode.IsControl) >= 0 {
		err = errors.New("control character")
	}
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.add(field, "must be an http or https URL")
	}
}

func checkList(v *violations, field string, list []string, maxLen, maxItem int) {
	if len(list) > maxLen {
		v.add(field, "must have at most %d entries", maxLen)
		return
	}
	for i, s := range list {
		if strings.TrimSpace(s) == "" {
			v.add(field, "entry %d is empty", i)
		}
		textLimit(v, field, s, maxItem)
	}
}

// validatePaper checks a paper as it would be stored; prefix is the path of the
// paper in the request ("paper.").
func validatePaper(v *violations, prefix string, p *repository.Paper) {
	if strings.TrimSpace(p.Title) == "" {
		v.add(prefix+"title", "is required")
	}
	textLimit(v, prefix+"title", p.Title, maxTitle)
	textBlock(v, prefix+"abstract", p.Abstract, maxAbstract)
	if p.ArxivVersion < 0 || p.ArxivVersion > maxVersion {
		v.add(prefix+"arxiv_version", "must be between 0 and %d", maxVersion)
	}
	if len(p.Authors) > maxAuthors {
		v.add(prefix+"authors", "must have at most %d entries", maxAuthors)
	} else {
		for i, a := range p.Authors {
			if strings.TrimSpace(a.Name) == "" {
				v.add(prefix+"authors", "author %d has no name", i)
			}
			textLimit(v, prefix+"authors", a.Name, maxPersonName)
			textLimit(v, prefix+"authors", a.Affiliation, maxPersonName)
		}
	}
	checkList(v, prefix+"categories", p.Categories, maxCategories, maxCategory)
	textLimit(v, prefix+"primary_category", p.PrimaryCategory, maxCategory)
	checkList(v, prefix+"keywords", p.Keywords, maxKeywords, maxKeyword)
	textLimit(v, prefix+"submitter", p.Submitter, maxPersonName)
	if p.Organization != (repository.Organization{}) {
		if !orgID.MatchString(p.Organization.ID) {
			v.add(prefix+"organization.id", "must be 1 to 63 lower-case letters, digits or hyphens, such as naver-ai")
		}
		textLimit(v, prefix+"organization.display_name", p.Organization.DisplayName, maxOrgName)
	}
	checkURL(v, prefix+"github_repo", p.GithubRepo)
	if p.GithubRepo != "" && len(p.GithubRepo) <= maxURL && !repository.GithubRepoURL.MatchString(p.GithubRepo) {
		v.add(prefix+"github_repo", "must be a GitHub repository URL such as https://github.com/owner/repo")
	}
	if p.GithubStars < 0 {
		v.add(prefix+"github_stars", "must not be negative")
	}
	checkURL(v, prefix+"project_page", p.ProjectPage)
	checkURL(v, prefix+"pdf_url", p.PDFURL)
	textLimit(v, prefix+"doi", p.DOI, maxDOI)
	textLimit(v, prefix+"journal_ref", p.JournalRef, maxJournalRef)
	textBlock(v, prefix+"comment", p.Comment, maxComment)
}
