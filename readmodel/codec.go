package readmodel

import (
	"encoding/binary"
	"errors"
	"time"
	"unsafe"

	"github.com/papercatalog/papers/repository"
)

// The checkpoint's papers are written in a layout of their own rather than gob:
// decoding a million papers with gob took about five seconds, allocated every
// string on its own, and a start waits for it. Here a paper is its strings'
// lengths and bytes, varints and times; decoding it makes one allocation for
// all of its strings, one for the paper and one per list.

// errShortPaper is the error of a paper cut short.
var errShortPaper = errors.New("paper cut short")

// appendPaper appends p in the checkpoint's layout to b.
func appendPaper(b []byte, p *repository.Paper) []byte {
	var w paperWriter
	w.b = b
	w.str(p.ID)
	w.int(int64(p.ArxivVersion))
	w.str(p.Title)
	w.str(p.Abstract)
	w.uint(uint64(len(p.Authors)))
	for _, a := range p.Authors {
		w.str(a.Name)
		w.str(a.Affiliation)
	}
	w.strs(p.Categories)
	w.str(p.PrimaryCategory)
	w.strs(p.Keywords)
	w.time(p.PublishedTime)
	w.time(p.ArxivUpdateTime)
	w.time(p.SubmitTime)
	w.str(p.Submitter)
	w.str(p.Organization.ID)
	w.str(p.Organization.DisplayName)
	w.str(p.GithubRepo)
	w.int(p.GithubStars)
	w.str(p.ProjectPage)
	w.str(p.PDFURL)
	w.str(p.DOI)
	w.str(p.JournalRef)
	w.str(p.Comment)
	w.int(p.BaseUpvotes)
	w.int(p.Upvotes)
	w.int(p.Version)
	w.time(p.CreateTime)
	w.time(p.UpdateTime)
	w.str(p.RequestID)
	return w.b
}

// appendRef appends the place of a paper's abstract to b.
func appendRef(b []byte, r textRef) []byte {
	b = binary.AppendUvarint(b, uint64(r.Off)) //nolint:gosec // offsets are not negative
	b = binary.AppendUvarint(b, uint64(r.N))
	b = binary.AppendUvarint(b, uint64(r.Len))
	return binary.LittleEndian.AppendUint64(b, r.Sum)
}

// decodeRef reads what appendRef wrote at the start of b, and returns it with
// the bytes after it.
func decodeRef(b []byte) (textRef, []byte, error) {
	r := paperReader{b: b}
	off, n, l := r.uint(), r.uint(), r.uint()
	if r.err != nil || len(r.b) < 8 || off > 1<<62 || n > 1<<32-1 || l > 1<<32-1 {
		return textRef{}, b, errShortPaper
	}
	return textRef{Off: int64(off), N: uint32(n), Len: uint32(l), Sum: binary.LittleEndian.Uint64(r.b)}, r.b[8:], nil //nolint:gosec // bounded above
}

type paperWriter struct{ b []byte }

func (w *paperWriter) uint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }
func (w *paperWriter) int(v int64)   { w.b = binary.AppendVarint(w.b, v) }

func (w *paperWriter) str(s string) {
	w.uint(uint64(len(s)))
	w.b = append(w.b, s...)
}

func (w *paperWriter) strs(l []string) {
	w.uint(uint64(len(l)))
	for _, s := range l {
		w.str(s)
	}
}

// time writes t as a flag (0: the zero time), Unix seconds and nanoseconds;
// it is read back in UTC, as the model's times are.
func (w *paperWriter) time(t time.Time) {
	if t.IsZero() {
		w.uint(0)
		return
	}
	w.uint(1)
	w.int(t.Unix())
	w.uint(uint64(t.Nanosecond())) //nolint:gosec // 0 to 999,999,999
}

// decodePaper reads a paper that appendPaper wrote at the start of b, and
// returns it with the bytes after it. The paper's strings are copied, all at
// once, into one allocation of their own, or, with a slab, the paper, its
// strings and its authors are taken from the slab's blocks.
func decodePaper(b []byte, in *slab) (*repository.Paper, []byte, error) {
	// The first pass only measures the strings; the second copies them.
	r := paperReader{b: b, measure: true}
	r.read(&repository.Paper{})
	if r.err != nil {
		return nil, b, r.err
	}
	size := r.size
	r = paperReader{b: b, slab: in}
	var p *repository.Paper
	if in != nil {
		r.blob, p = in.bytes(size), in.paper()
	} else {
		r.blob, p = make([]byte, 0, size), &repository.Paper{}
	}
	r.read(p)
	if r.err != nil {
		return nil, b, r.err
	}
	return p, r.b, nil
}

// A slab hands out the memory of papers kept for long from large blocks: a
// block of papers, one of their strings' bytes, one of their authors. Papers
// allocated one by one amid the garbage of the work that made them (an import
// decodes, converts and stores each paper) sit in the allocator's spans beside
// that garbage, and once it is collected the spans stay in use, mostly empty:
// after an import of 500,000 papers the heap in use was 1,005 MiB for 535 MiB
// live, against about the live heap after a restart. A block stays alive while
// any paper of it is, so the model takes from a slab only papers it expects to
// keep: those a load, a restore or a create brings, not the new copies of
// changed papers (see Model.pack). A slab is not safe for concurrent use.
type slab struct {
	papersBlock  []repository.Paper
	authorsBlock []repository.Author
	bytesBlock   []byte
}

// Sizes of a slab's blocks: about 120, 32 and 64 KiB.
const (
	slabPapers  = 256
	slabAuthors = 1024
	slabBytes   = 64 << 10
)

func (s *slab) paper() *repository.Paper {
	if len(s.papersBlock) == cap(s.papersBlock) {
		s.papersBlock = make([]repository.Paper, 0, slabPapers)
	}
	s.papersBlock = s.papersBlock[:len(s.papersBlock)+1]
	return &s.papersBlock[len(s.papersBlock)-1]
}

// authors returns n authors, their capacity n: an append to them moves them.
func (s *slab) authors(n int) []repository.Author {
	if n > slabAuthors/8 {
		return make([]repository.Author, n)
	}
	if cap(s.authorsBlock)-len(s.authorsBlock) < n {
		s.authorsBlock = make([]repository.Author, 0, slabAuthors)
	}
	at := len(s.authorsBlock)
	s.authorsBlock = s.authorsBlock[:at+n]
	return s.authorsBlock[at : at+n : at+n]
}

// bytes returns an empty slice of capacity n, for a paper's strings.
func (s *slab) bytes(n int) []byte {
	if n > slabBytes/8 {
		return make([]byte, 0, n)
	}
	if cap(s.bytesBlock)-len(s.bytesBlock) < n {
		s.bytesBlock = make([]byte, 0, slabBytes)
	}
	at := len(s.bytesBlock)
	s.bytesBlock = s.bytesBlock[:at+n]
	return s.bytesBlock[at : at : at+n]
}

type paperReader struct {
	b       []byte
	measure bool   // a pass that only adds up the strings' sizes
	size    int    // the strings' bytes, once measured
	blob    []byte // the copy of the strings: its capacity is their size
	slab    *slab  // where the authors come from (nil: allocated)
	err     error
}

func (r *paperReader) read(p *repository.Paper) {
	p.ID = r.str()
	p.ArxivVersion = int32(r.int()) //nolint:gosec // written from an int32
	p.Title = r.str()
	p.Abstract = r.str()
	if n := r.len(); n > 0 && !r.measure {
		if r.slab != nil {
			p.Authors = r.slab.authors(n)
		} else {
			p.Authors = make([]repository.Author, n)
		}
		for i := range p.Authors {
			p.Authors[i] = repository.Author{Name: r.str(), Affiliation: r.str()}
		}
	} else {
		for range n * 2 {
			r.str()
		}
	}
	p.Categories = r.strs()
	p.PrimaryCategory = r.str()
	p.Keywords = r.strs()
	p.PublishedTime = r.time()
	p.ArxivUpdateTime = r.time()
	p.SubmitTime = r.time()
	p.Submitter = r.str()
	p.Organization.ID = r.str()
	p.Organization.DisplayName = r.str()
	p.GithubRepo = r.str()
	p.GithubStars = r.int()
	p.ProjectPage = r.str()
	p.PDFURL = r.str()
	p.DOI = r.str()
	p.JournalRef = r.str()
	p.Comment = r.str()
	p.BaseUpvotes = r.int()
	p.Upvotes = r.int()
	p.Version = r.int()
	p.CreateTime = r.time()
	p.UpdateTime = r.time()
	p.RequestID = r.str()
}

func (r *paperReader) uint() uint64 { return advance(r, binary.Uvarint) }
func (r *paperReader) int() int64   { return advance(r, binary.Varint) }

// advance reads a varint from r with read (binary.Uvarint or binary.Varint).
func advance[T uint64 | int64](r *paperReader, read func([]byte) (T, int)) T {
	v, n := read(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

// len reads a length, which cannot exceed the bytes left.
func (r *paperReader) len() int {
	v := r.uint()
	if v > uint64(len(r.b)) {
		r.fail()
		return 0
	}
	return int(v) //nolint:gosec // at most len(r.b)
}

func (r *paperReader) str() string {
	n := r.len()
	if r.err != nil || n == 0 {
		return ""
	}
	var s string
	if r.measure {
		r.size += n
	} else {
		at := len(r.blob)
		r.blob = append(r.blob, r.b[:n]...) // within its capacity: never moved
		s = unsafe.String(&r.blob[at], n)   //nolint:gosec // blob is never written again past at+n
	}
	r.b = r.b[n:]
	return s
}

func (r *paperReader) strs() []string {
	n := r.len()
	if n == 0 {
		return nil
	}
	var l []string
	if !r.measure {
		l = make([]string, n)
	}
	for i := range n {
		s := r.str()
		if l != nil {
			l[i] = s
		}
	}
	return l
}

func (r *paperReader) time() time.Time {
	if r.uint() == 0 {
		return time.Time{}
	}
	sec, nsec := r.int(), r.uint()
	if nsec >= 1e9 {
		r.fail()
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC() //nolint:gosec // below 1e9
}

func (r *paperReader) fail() {
	if r.err == nil {
		r.err = errShortPaper
	}
	r.b = nil
}
