package repository

import (
	"regexp"
	"strings"
	"time"
)

// GithubRepoURL matches the URL of a GitHub repository,
// https://github.com/{owner}/{repo}, as a paper's GithubRepo must be.
var GithubRepoURL = regexp.MustCompile(`^https?://(?:www\.)?github\.com/[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9_.-]+/?$`)

var githubInText = regexp.MustCompile(`https?://(?:www\.)?github\.com/[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9_.-]+`)

// NextVersion returns a version for a write at now to a paper whose previous
// version (or deletion) was prev: the clock, or prev+1 when the clock is behind.
func NextVersion(now time.Time, prev int64) int64 {
	return max(now.UnixNano(), prev+1)
}

// CompleteNew fills in what a new paper lacks: its submit time (submit), its
// primary category (the first category) and its GitHub repository (the first one
// its abstract or comment names).
func CompleteNew(p *Paper, submit time.Time) {
	if p.SubmitTime.IsZero() {
		p.SubmitTime = submit
	}
	if p.PrimaryCategory == "" && len(p.Categories) > 0 {
		p.PrimaryCategory = p.Categories[0]
	}
	if p.GithubRepo == "" {
		p.GithubRepo = FindGithubRepo(p.Abstract, p.Comment)
	}
}

// FindGithubRepo returns the first GitHub repository URL in the texts, without
// trailing punctuation, or "".
func FindGithubRepo(texts ...string) string {
	for _, t := range texts {
		m := githubInText.FindString(t)
		if m == "" {
			continue
		}
		m = strings.TrimRight(m, ".,;:!?)]}'\"")
		m = strings.TrimSuffix(m, ".git")
		if GithubRepoURL.MatchString(m) {
			return m
		}
	}
	return ""
}
