// Package check holds the rules a paper's fields follow (lengths, no control
// characters, http URLs, GitHub repositories, organization ids), and the text
// rules other fields share. Each check adds what it finds to a Violations.
package check

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/papercatalog/papers/repository"
)

// Limits on paper fields.
const (
	maxTitle      = 1000
	maxAbstract   = 20000
	maxAuthors    = 5000
	maxPersonName = 300
	maxCategories = 50
	// MaxCategory is the most characters of an arXiv category.
	MaxCategory   = 50
	maxKeywords   = 100
	maxKeyword    = 100
	maxURL        = 2048
	maxDOI        = 200
	maxJournalRef = 1000
	maxComment    = 2000
	maxOrgName    = 200
	maxVersion    = 1000
)

var orgID = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)

// Violation is a field that breaks a rule, and how.
type Violation struct {
	Field, Description string
}

// Violations collects the violations checks find.
type Violations []Violation

// Add adds a violation of field, its description formatted as by fmt.Sprintf.
func (v *Violations) Add(field, format string, args ...any) {
	*v = append(*v, Violation{field, fmt.Sprintf(format, args...)})
}

// First returns the first violation as "field: description", or "".
func (v Violations) First() string {
	if len(v) == 0 {
		return ""
	}
	return v[0].Field + ": " + v[0].Description
}

// Text checks a text field: at most limit characters, and no control
// characters but tab and line feed.
func Text(v *Violations, field, s string, limit int) {
	if utf8.RuneCountInString(s) > limit {
		v.Add(field, "must be at most %d characters", limit)
	}
	noControls(v, field, s, "\t\n")
}

// Block is Text for text of several lines (an abstract, a comment),
// which may also hold carriage returns.
func Block(v *Violations, field, s string, limit int) {
	if utf8.RuneCountInString(s) > limit {
		v.Add(field, "must be at most %d characters", limit)
	}
	noControls(v, field, s, "\t\n\r")
}

// noControls refuses control characters (C0, DEL and C1: NUL, ESC and the
// like, which make no sense in text and can rewrite a terminal or break
// a page) other than those in allowed.
func noControls(v *Violations, field, s, allowed string) {
	i := 0
	for _, r := range s {
		i++
		if unicode.IsControl(r) && !strings.ContainsRune(allowed, r) {
			v.Add(field, "must not contain control characters such as NUL or ESC (found U+%04X at character %d)", r, i)
			return
		}
	}
}

// URL checks an optional http or https URL.
func URL(v *Violations, field, s string) {
	if s == "" {
		return
	}
	if len(s) > maxURL {
		v.Add(field, "must be at most %d characters", maxURL)
		return
	}
	u, err := url.Parse(s)
	if err == nil && strings.IndexFunc(s, unicode.IsControl) >= 0 {
		err = errors.New("control character")
	}
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.Add(field, "must be an http or https URL")
	}
}

// List checks a list of short texts: at most maxLen entries, none empty, each
// at most maxItem characters.
func List(v *Violations, field string, list []string, maxLen, maxItem int) {
	if len(list) > maxLen {
		v.Add(field, "must have at most %d entries", maxLen)
		return
	}
	for i, s := range list {
		if strings.TrimSpace(s) == "" {
			v.Add(field, "entry %d is empty", i)
		}
		Text(v, field, s, maxItem)
	}
}

// Paper checks a paper as it would be stored; prefix is the path of the
// paper in the request ("paper.").
func Paper(v *Violations, prefix string, p *repository.Paper) {
	if strings.TrimSpace(p.Title) == "" {
		v.Add(prefix+"title", "is required")
	}
	Text(v, prefix+"title", p.Title, maxTitle)
	Block(v, prefix+"abstract", p.Abstract, maxAbstract)
	if p.ArxivVersion < 0 || p.ArxivVersion > maxVersion {
		v.Add(prefix+"arxiv_version", "must be between 0 and %d", maxVersion)
	}
	if len(p.Authors) > maxAuthors {
		v.Add(prefix+"authors", "must have at most %d entries", maxAuthors)
	} else {
		for i, a := range p.Authors {
			if strings.TrimSpace(a.Name) == "" {
				v.Add(prefix+"authors", "author %d has no name", i)
			}
			Text(v, prefix+"authors", a.Name, maxPersonName)
			Text(v, prefix+"authors", a.Affiliation, maxPersonName)
		}
	}
	List(v, prefix+"categories", p.Categories, maxCategories, MaxCategory)
	Text(v, prefix+"primary_category", p.PrimaryCategory, MaxCategory)
	List(v, prefix+"keywords", p.Keywords, maxKeywords, maxKeyword)
	Text(v, prefix+"submitter", p.Submitter, maxPersonName)
	if p.Organization != (repository.Organization{}) {
		if !orgID.MatchString(p.Organization.ID) {
			v.Add(prefix+"organization.id", "must be 1 to 63 lower-case letters, digits or hyphens, such as naver-ai")
		}
		Text(v, prefix+"organization.display_name", p.Organization.DisplayName, maxOrgName)
	}
	URL(v, prefix+"github_repo", p.GithubRepo)
	if p.GithubRepo != "" && len(p.GithubRepo) <= maxURL && !repository.GithubRepoURL.MatchString(p.GithubRepo) {
		v.Add(prefix+"github_repo", "must be a GitHub repository URL such as https://github.com/owner/repo")
	}
	if p.GithubStars < 0 {
		v.Add(prefix+"github_stars", "must not be negative")
	}
	URL(v, prefix+"project_page", p.ProjectPage)
	URL(v, prefix+"pdf_url", p.PDFURL)
	Text(v, prefix+"doi", p.DOI, maxDOI)
	Text(v, prefix+"journal_ref", p.JournalRef, maxJournalRef)
	Block(v, prefix+"comment", p.Comment, maxComment)
}
