package ingest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/papercatalog/papers/repository"
)

// maxLine bounds a line of the metadata snapshot (the longest real ones, with
// thousands of authors, are a few hundred kilobytes).
const maxLine = 16 << 20

// oaiRecord is one line of arXiv's metadata snapshot.
type oaiRecord struct {
	ID            string     `json:"id"`
	Submitter     *string    `json:"submitter"`
	Authors       string     `json:"authors"`
	Title         string     `json:"title"`
	Comments      *string    `json:"comments"`
	JournalRef    *string    `json:"journal-ref"`
	DOI           *string    `json:"doi"`
	Categories    string     `json:"categories"`
	Abstract      string     `json:"abstract"`
	UpdateDate    string     `json:"update_date"`
	AuthorsParsed [][]string `json:"authors_parsed"`
	Versions      []struct {
		Version string `json:"version"`
		Created string `json:"created"`
	} `json:"versions"`
}

func oaiReader(br *bufio.Reader) func() (Item, bool, error) {
	var line int64
	return func() (Item, bool, error) {
		for {
			b, err := readLine(br)
			if len(b) == 0 && errors.Is(err, io.EOF) {
				return Item{}, false, nil
			}
			line++
			if err != nil && !errors.Is(err, io.EOF) {
				if errors.Is(err, errLineTooLong) {
					return Item{Position: line, Err: fmt.Errorf("line %d: longer than %d bytes", line, maxLine)}, true, nil
				}
				return Item{}, false, fmt.Errorf("read line %d: %w", line, err)
			}
			if len(bytes.TrimSpace(b)) == 0 {
				continue
			}
			rec, perr := parseOAI(b)
			if perr != nil {
				return Item{Position: line, Err: fmt.Errorf("line %d: %w", line, perr)}, true, nil
			}
			rec.Position = line
			return Item{Record: rec, Position: line}, true, nil
		}
	}
}

var errLineTooLong = errors.New("line too long")

// readLine returns the next line without its end; a line longer than maxLine is
// skipped and reported as errLineTooLong.
func readLine(br *bufio.Reader) ([]byte, error) {
	var buf []byte
	tooLong := false
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			if len(buf)+len(chunk) > maxLine {
				tooLong, buf = true, nil
			} else {
				buf = append(buf, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if tooLong && (err == nil || errors.Is(err, io.EOF)) {
			return nil, errLineTooLong
		}
		return bytes.TrimRight(buf, "\r\n"), err
	}
}

// parseOAI maps one line of the metadata snapshot to a record.
func parseOAI(b []byte) (*Record, error) {
	var r oaiRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("not a JSON object of the arXiv metadata snapshot: %w", err)
	}
	id := strings.TrimSpace(r.ID)
	if id == "" {
		return nil, errors.New("no id")
	}
	rec := &Record{ID: id, Paper: repository.Paper{
		Title:      oneLine(r.Title),
		Abstract:   paragraphs(r.Abstract),
		Categories: strings.Fields(r.Categories),
		Submitter:  oneLine(deref(r.Submitter)),
		Comment:    oneLine(deref(r.Comments)),
		JournalRef: oneLine(deref(r.JournalRef)),
		DOI:        strings.TrimSpace(deref(r.DOI)),
		PDFURL:     pdfURL(id),
	}}
	p := &rec.Paper
	if len(p.Categories) > 0 {
		p.PrimaryCategory = p.Categories[0]
	}
	for _, a := range r.AuthorsParsed {
		if name := authorName(a); name != "" {
			p.Authors = append(p.Authors, repository.Author{Name: name})
		}
	}
	if len(r.AuthorsParsed) == 0 {
		for _, name := range splitAuthors(r.Authors) {
			p.Authors = append(p.Authors, repository.Author{Name: name})
		}
	}
	var first, latest time.Time
	for _, v := range r.Versions {
		n, err := strconv.ParseInt(strings.TrimPrefix(v.Version, "v"), 10, 32)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("version %q is not v1, v2, …", v.Version)
		}
		created, err := time.Parse("Mon, 2 Jan 2006 15:04:05 MST", v.Created)
		if err != nil {
			return nil, fmt.Errorf("version %s: created %q is not an RFC 1123 date", v.Version, v.Created)
		}
		if int32(n) > p.ArxivVersion {
			p.ArxivVersion, latest = int32(n), created
		}
		if first.IsZero() || created.Before(first) {
			first = created
		}
	}
	if latest.IsZero() && r.UpdateDate != "" {
		if d, err := time.Parse(time.DateOnly, r.UpdateDate); err == nil {
			latest = d
		}
	}
	p.PublishedTime, p.ArxivUpdateTime = first.UTC(), latest.UTC()
	return rec, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// authorName joins an authors_parsed entry, [last, first, suffix], as "first last
// suffix".
func authorName(parts []string) string {
	var last, first, suffix string
	if len(parts) > 0 {
		last = parts[0]
	}
	if len(parts) > 1 {
		first = parts[1]
	}
	if len(parts) > 2 {
		suffix = parts[2]
	}
	return oneLine(first + " " + last + " " + suffix)
}

// splitAuthors splits an authors string ("A. One, B. Two and C. Three").
func splitAuthors(s string) []string {
	var out []string
	for _, part := range strings.Split(oneLine(s), ",") {
		for _, name := range strings.Split(part, " and ") {
			if name = strings.TrimSpace(name); name != "" {
				out = append(out, name)
			}
		}
	}
	return out
}
