// Package ingest reads papers from the formats they come in (arXiv's metadata
// snapshot, arXiv API responses, daily-papers JSON) as records, one at a time,
// so that inputs of any size are read in constant memory. A record that cannot
// be read is reported with its position and the rest still are. It knows
// nothing of the API: callers convert a Record to what they send or store.
package ingest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"github.com/papercatalog/papers/repository"
)

// Format is an input format.
type Format string

// The formats Open reads.
const (
	// ArxivOAI is arXiv's metadata snapshot: one JSON object a line.
	ArxivOAI Format = "arxiv-oai"
	// ArxivAtom is an arXiv API response (an Atom feed).
	ArxivAtom Format = "arxiv-atom"
	// HFDaily is a daily-papers JSON array.
	HFDaily Format = "hf-daily"
)

// Formats lists the formats, for help texts.
var Formats = []Format{ArxivOAI, ArxivAtom, HFDaily}

// ParseFormat checks a format name; "" (detect from the content) is allowed.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case "", ArxivOAI, ArxivAtom, HFDaily:
		return f, nil
	}
	return "", fmt.Errorf("unknown format %q (use arxiv-oai, arxiv-atom or hf-daily)", s)
}

// Record is one paper as a source describes it.
type Record struct {
	// Position is the record's place in the input (see Item.Position).
	Position int64
	// ID is the paper's arXiv identifier as the source wrote it, without
	// surrounding space (and, from an Atom abs URL, without the version); it is
	// not checked: the import rejects what is not an identifier.
	ID string
	// Paper holds what the source knows; zero fields are unknown to it. Its ID
	// is left empty (see ID); its times are in UTC.
	Paper repository.Paper
	// Upvotes is the source's upvote count of the paper, if it has one.
	Upvotes *int64
}

// Item is one record read from the input, or why the record at Position could
// not be read.
type Item struct {
	Record *Record // nil when Err is set
	// Position is the record's line number (arxiv-oai: its line; arxiv-atom: the
	// line its <entry> starts on) or, for hf-daily, its 1-based index in the array.
	Position int64
	Err      error
}

// Reader reads records from an input.
type Reader struct {
	// Format is the input's format, as given or detected.
	Format Format
	next   func() (Item, bool, error)
	err    error
	total  int64
}

// Next returns the next item; false at the end of the input or after an error
// that stops reading (see Err).
func (r *Reader) Next() (Item, bool) {
	if r.err != nil {
		return Item{}, false
	}
	it, ok, err := r.next()
	if err != nil {
		r.err = err
		return Item{}, false
	}
	return it, ok
}

// Err returns the error that stopped reading before the end of the input, if any.
func (r *Reader) Err() error { return r.err }

// TotalResults returns the total number of results an arXiv API response says its
// query has (opensearch:totalResults), or -1 when unknown.
func (r *Reader) TotalResults() int64 { return r.total }

// Open returns a reader of in, which may be gzip-compressed. An empty format is
// detected from the content: a JSON array is hf-daily, an XML document arxiv-atom,
// JSON objects arxiv-oai.
func Open(in io.Reader, format Format) (*Reader, error) {
	br := bufio.NewReaderSize(in, 1<<16)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("read gzip input: %w", err)
		}
		br = bufio.NewReaderSize(zr, 1<<16)
	}
	if format == "" {
		var err error
		if format, err = detect(br); err != nil {
			return nil, err
		}
	}
	r := &Reader{Format: format, total: -1}
	switch format {
	case ArxivOAI:
		r.next = oaiReader(br)
	case ArxivAtom:
		r.next = atomReader(br, &r.total)
	case HFDaily:
		next, err := hfReader(br)
		if err != nil {
			return nil, err
		}
		r.next = next
	default:
		return nil, fmt.Errorf("unknown format %q", format)
	}
	return r, nil
}

func detect(br *bufio.Reader) (Format, error) {
	head, err := br.Peek(4096)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return "", fmt.Errorf("read input: %w", err)
	}
	head = bytes.TrimLeftFunc(head, unicode.IsSpace)
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf")) // a byte order mark
	switch {
	case len(head) == 0:
		return "", errors.New("the input is empty")
	case head[0] == '[':
		return HFDaily, nil
	case head[0] == '<':
		return ArxivAtom, nil
	case head[0] == '{':
		return ArxivOAI, nil
	}
	return "", errors.New("cannot tell the input's format (not JSON lines, a JSON array or XML); give --format")
}

// Text clean-up shared by the formats.

// oneLine collapses all white space, line breaks included, to single spaces.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// paragraphs normalises an arXiv abstract: its lines are hard-wrapped and a line
// that starts with white space (after the first) begins a new paragraph.
// Paragraphs come out one a line, each on one line.
func paragraphs(s string) string {
	var out []string
	var cur []string
	for i, line := range strings.Split(strings.TrimSpace(s), "\n") {
		if i > 0 && line != "" && (line[0] == ' ' || line[0] == '\t') && len(cur) > 0 {
			out = append(out, strings.Join(cur, " "))
			cur = nil
		}
		if f := strings.Fields(line); len(f) > 0 {
			cur = append(cur, strings.Join(f, " "))
		}
	}
	if len(cur) > 0 {
		out = append(out, strings.Join(cur, " "))
	}
	return strings.Join(out, "\n")
}

var (
	// arxivIDVersion splits an identifier with version, as in an abs URL.
	arxivIDVersion = regexp.MustCompile(`^(.+?)v([0-9]+)$`)
	// arxivCategory matches arXiv subject classes (cs.LG, hep-th, math.GT,
	// cond-mat.mes-hall); ACM and MSC classes in Atom category terms do not match.
	arxivCategory = regexp.MustCompile(`^[a-z]+(?:-[a-z]+)*(?:\.[A-Za-z]+(?:-[a-z]+)*)?$`)
)

// splitVersion splits "2111.13056v2" into "2111.13056" and 2; without a version
// suffix the version is 0.
func splitVersion(s string) (string, int32) {
	m := arxivIDVersion.FindStringSubmatch(s)
	if m == nil {
		return s, 0
	}
	v, err := strconv.ParseInt(m[2], 10, 32)
	if err != nil {
		return s, 0
	}
	return m[1], int32(v)
}

// pdfURL is arXiv's PDF address of a paper.
func pdfURL(id string) string { return "https://arxiv.org/pdf/" + id }
