package ingest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/papercatalog/papers/repository"
)

// hfItem is one element of a daily-papers JSON array.
type hfItem struct {
	Paper struct {
		ID      string `json:"id"`
		Title   string `json:"title"`
		Summary string `json:"summary"`
		Authors []struct {
			Name   string `json:"name"`
			Hidden bool   `json:"hidden"`
		} `json:"authors"`
		PublishedAt  string   `json:"publishedAt"`
		Upvotes      *int64   `json:"upvotes"`
		GithubRepo   string   `json:"githubRepo"`
		GithubStars  *int64   `json:"githubStars"`
		ProjectPage  string   `json:"projectPage"`
		AIKeywords   []string `json:"ai_keywords"`
		Organization *struct {
			Name     string `json:"name"`
			Fullname string `json:"fullname"`
		} `json:"organization"`
		SubmittedOnDailyBy *hfUser `json:"submittedOnDailyBy"`
	} `json:"paper"`
	PublishedAt string  `json:"publishedAt"`
	Title       string  `json:"title"`
	SubmittedBy *hfUser `json:"submittedBy"`
}

// hfUser is a hub user, such as the one who submitted a paper to the list.
type hfUser struct {
	Name     string `json:"name"`     // the handle
	Fullname string `json:"fullname"` // the display name
}

// display is the user's full name, else the handle.
func (u *hfUser) display() string {
	if u == nil {
		return ""
	}
	if s := oneLine(u.Fullname); s != "" {
		return s
	}
	return oneLine(u.Name)
}

func hfReader(br *bufio.Reader) (func() (Item, bool, error), error) {
	dec := json.NewDecoder(br)
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("not a daily-papers JSON array: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, errors.New("not a daily-papers JSON array: it does not start with [")
	}
	var n int64
	done := false
	return func() (Item, bool, error) {
		if done || !dec.More() {
			if !done {
				done = true
				if _, err := dec.Token(); err != nil && !errors.Is(err, io.EOF) {
					return Item{}, false, fmt.Errorf("after element %d: %w", n, err)
				}
			}
			return Item{}, false, nil
		}
		n++
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return Item{}, false, fmt.Errorf("element %d: malformed JSON, cannot read on: %w", n, err)
		}
		rec, err := parseHF(raw)
		if err != nil {
			return Item{Position: n, Err: fmt.Errorf("element %d: %w", n, err)}, true, nil
		}
		rec.Position = n
		return Item{Record: rec, Position: n}, true, nil
	}, nil
}

func parseHF(raw []byte) (*Record, error) {
	var it hfItem
	if err := json.Unmarshal(raw, &it); err != nil {
		return nil, fmt.Errorf("not a daily-papers entry: %w", err)
	}
	id := strings.TrimSpace(it.Paper.ID)
	if id == "" {
		return nil, errors.New("no paper.id")
	}
	rec := &Record{ID: id, Upvotes: it.Paper.Upvotes, Paper: repository.Paper{
		Title:       oneLine(it.Paper.Title),
		Abstract:    paragraphs(it.Paper.Summary),
		GithubRepo:  strings.TrimSpace(it.Paper.GithubRepo),
		ProjectPage: strings.TrimSpace(it.Paper.ProjectPage),
	}}
	p := &rec.Paper
	if p.Title == "" {
		p.Title = oneLine(it.Title)
	}
	// The user who put the paper on the list: submittedBy in the list's
	// entries, submittedOnDailyBy in the paper of newer ones.
	if p.Submitter = it.SubmittedBy.display(); p.Submitter == "" {
		p.Submitter = it.Paper.SubmittedOnDailyBy.display()
	}
	if it.Paper.GithubStars != nil {
		p.GithubStars = *it.Paper.GithubStars
	}
	for _, k := range it.Paper.AIKeywords {
		if k = oneLine(k); k != "" {
			p.Keywords = append(p.Keywords, k)
		}
	}
	for _, a := range it.Paper.Authors {
		if name := oneLine(a.Name); name != "" && !a.Hidden {
			p.Authors = append(p.Authors, repository.Author{Name: name})
		}
	}
	if o := it.Paper.Organization; o != nil && orgID(o.Name) != "" {
		p.Organization = repository.Organization{ID: orgID(o.Name), DisplayName: oneLine(o.Fullname)}
	}
	for _, f := range []struct {
		name, text string
		dst        *time.Time
	}{{"paper.publishedAt", it.Paper.PublishedAt, &p.PublishedTime}, {"publishedAt", it.PublishedAt, &p.SubmitTime}} {
		if s := strings.TrimSpace(f.text); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return nil, fmt.Errorf("%s %q is not an RFC 3339 time", f.name, s)
			}
			*f.dst = t.UTC()
		}
	}
	return rec, nil
}

// orgID turns a hub organization handle ("OpenGVLab", "bytedance_research") into
// an organization id: lower case, other characters than letters and digits
// become hyphens.
func orgID(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(name)) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else if b.Len() > 0 && !strings.HasSuffix(b.String(), "-") {
			b.WriteByte('-')
		}
	}
	id := strings.Trim(b.String(), "-")
	if len(id) > 63 {
		id = strings.Trim(id[:63], "-")
	}
	return id
}
