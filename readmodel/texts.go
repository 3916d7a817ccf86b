package readmodel

import (
	"bufio"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"sync"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"
)

// texts keeps the abstracts of the model's papers out of the Go heap: each is
// compressed (zstd, see textCodec) and appended to a file under the data directory, and read
// back with pread when a caller asks for the whole paper (Model.Full). An abstract
// is most of what a paper weighs (about 1 KiB of 1.4); what listings, filters,
// orders, facets and trending need stays in memory.
//
// The file only grows: a new abstract is appended, an unchanged one (same length
// and FNV-64a hash) is not written again. The model's references to it are part
// of the checkpoint, with the file's size when the checkpoint was taken, after
// an fsync of the file; a start from that checkpoint cuts the file back to that
// size (what was appended later belongs to changes the change-log replay makes
// again). The file is derived data, like the checkpoint: a start without a
// usable checkpoint begins a new one.
type texts struct {
	mu   sync.Mutex
	f    *os.File // opened for appending
	w    *bufio.Writer
	size int64 // bytes written, buffered ones included
}

// textRef is where an abstract is in the file.
type textRef struct {
	Off int64
	N   uint32 // compressed length
	Len uint32 // uncompressed length
	Sum uint64 // FNV-64a of the uncompressed abstract
}

func openTexts(path string) (*texts, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600) //nolint:gosec // a path under the data directory
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	// Abstracts are read one at a time, at random places: without readahead, a
	// read the page cache misses reads the page or two of its abstract, not the
	// 128 KiB after it. At 2.7 million papers the file (2.8 GB) does not stay
	// cached beside an import's writes, and GetPaper spent 18% of its time in
	// pread, mostly waiting on the disk. Advice only: an error changes nothing.
	if rc, err := f.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) { _ = unix.Fadvise(int(fd), 0, 0, unix.FADV_RANDOM) }) //nolint:gosec // a file descriptor is an int
	}
	return &texts{f: f, w: bufio.NewWriterSize(f, 1<<20), size: st.Size()}, nil
}

func sum(s string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	return h.Sum64()
}

// sameSum reports whether ref holds abstract already; h is abstract's hash, or 0
// when not yet computed.
// stored reports whether r is the place of an abstract (the zero textRef is
// none: a stored abstract has a compressed length).
func (r textRef) stored() bool { return r.N > 0 }

func (r textRef) sameSum(abstract string, h uint64) bool {
	if !r.stored() || int(r.Len) != len(abstract) {
		return false
	}
	if h == 0 {
		h = sum(abstract)
	}
	return r.Sum == h
}

// textCodec compresses abstracts, one zstd frame each, at zstd's default
// level: the file is a large part of the data directory, and on bench-scale's
// abstracts it makes them 0.60 of their size against 0.91 with snappy (which
// this file held before checkpoint layout 5) and 0.81 at zstd's fastest level.
// Its EncodeAll and DecodeAll may be called concurrently.
var textCodec = struct {
	enc *zstd.Encoder
	dec *zstd.Decoder
}{
	enc: must(zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderCRC(false), zstd.WithLowerEncoderMem(true))),
	// An abstract is a few KiB: a damaged frame cannot make a reader allocate more.
	dec: must(zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(1<<24))),
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// put appends abstract and returns where it is.
func (t *texts) put(abstract string) (textRef, error) {
	b := textCodec.enc.EncodeAll([]byte(abstract), make([]byte, 0, len(abstract)/2))
	t.mu.Lock()
	defer t.mu.Unlock()
	ref := textRef{Off: t.size, N: uint32(len(b)), Len: uint32(len(abstract)), Sum: sum(abstract)} //nolint:gosec // abstracts are far below 4 GiB
	if _, err := t.w.Write(b); err != nil {
		return textRef{}, fmt.Errorf("write an abstract: %w", err)
	}
	t.size += int64(len(b))
	return ref, nil
}

// get reads the abstract at ref.
func (t *texts) get(ref textRef) (string, error) {
	end := ref.Off + int64(ref.N)
	t.mu.Lock()
	if end > t.size-int64(t.w.Buffered()) { // not all in the file yet
		if err := t.w.Flush(); err != nil {
			t.mu.Unlock()
			return "", fmt.Errorf("write abstracts: %w", err)
		}
	}
	t.mu.Unlock()
	b := make([]byte, ref.N)
	if _, err := t.f.ReadAt(b, ref.Off); err != nil {
		return "", fmt.Errorf("read an abstract: %w", err)
	}
	out, err := textCodec.dec.DecodeAll(b, make([]byte, 0, ref.Len))
	if err != nil || len(out) != int(ref.Len) {
		return "", errors.Join(errors.New("read an abstract: damaged"), err)
	}
	return string(out), nil
}

// sync writes what is buffered and fsyncs the file; it returns the file's size,
// which covers every reference handed out before the call.
func (t *texts) sync() (int64, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.w.Flush(); err != nil {
		return 0, err
	}
	return t.size, t.f.Sync()
}

// truncate cuts the file back to size: what a checkpoint of that size knows.
func (t *texts) truncate(size int64) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.w.Reset(t.f)
	st, err := t.f.Stat()
	if err != nil {
		return err
	}
	if st.Size() < size {
		return fmt.Errorf("the abstracts file is %d bytes, shorter than the checkpoint's %d", st.Size(), size)
	}
	if err := t.f.Truncate(size); err != nil {
		return err
	}
	t.size = size
	return nil
}

func (t *texts) close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	err := t.w.Flush()
	return errors.Join(err, t.f.Close())
}

// forgetAbstracts empties the abstracts' file of a model not yet loaded, which
// nothing refers to: a load from the database writes every abstract again.
func (m *Model) forgetAbstracts() error {
	if m.texts == nil || m.Loaded() {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.papers.clearRefs()
	return m.texts.truncate(0)
}
