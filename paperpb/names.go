package paperpb

import (
	"regexp"
	"strings"
)

var (
	newStyleID = regexp.MustCompile(`^[0-9]{4}\.[0-9]{4,5}$`)
	// oldStyleID matches `hep-th/9901001`, `math.GT/0309136`, and the same with the
	// slash written as a hyphen (the form used in resource names).
	oldStyleID = regexp.MustCompile(`^([a-z]+(?:-[a-z]+)*(?:\.[A-Z]{2})?)[/-]([0-9]{7})$`)
	versioned  = regexp.MustCompile(`v[0-9]+$`)
)

// ParseID returns the arXiv identifier (as arXiv writes it) of a paper id in
// either form, or a description of what is wrong.
func ParseID(s string) (string, string) {
	switch {
	case s == "":
		return "", "is required"
	case newStyleID.MatchString(s):
		return s, ""
	case oldStyleID.MatchString(s):
		m := oldStyleID.FindStringSubmatch(s)
		return m[1] + "/" + m[2], ""
	case versioned.MatchString(s) && (newStyleID.MatchString(versioned.ReplaceAllString(s, "")) ||
		oldStyleID.MatchString(versioned.ReplaceAllString(s, ""))):
		return "", "must not carry a version: use " + versioned.ReplaceAllString(s, "") + " and set arxiv_version"
	}
	return "", "must be an arXiv identifier without version, such as 2111.13056 or hep-th/9901001"
}

// Name returns the resource name of the paper with arXiv identifier id.
func Name(id string) string {
	return "papers/" + strings.Replace(id, "/", "-", 1)
}

// ParseName returns the arXiv identifier in a resource name `papers/{paper}`.
func ParseName(name string) (string, string) {
	seg, ok := strings.CutPrefix(name, "papers/")
	if !ok || seg == "" || strings.Contains(seg, "/") {
		if name == "" {
			return "", "is required"
		}
		return "", "must be a paper name such as papers/2111.13056"
	}
	id, problem := ParseID(seg)
	if problem != "" {
		return "", "must be a paper name such as papers/2111.13056: the id " + problem
	}
	return id, ""
}
