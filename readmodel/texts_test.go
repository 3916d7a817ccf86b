package readmodel

import (
	"bufio"
	"bytes"
	"encoding/gob"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golang/snappy"
)

// TestAbstractsAreStoredAsZstdFrames: each abstract is one zstd frame in the
// file, read back whole, and real arXiv abstracts take less room than snappy,
// which the file held before checkpoint layout 5, made of them.
func TestAbstractsAreStoredAsZstdFrames(t *testing.T) {
	t.Parallel()
	f, err := os.Open("../testdata/sample-arxiv.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var abstracts []string
	for sc := bufio.NewScanner(f); sc.Scan(); {
		var r struct{ Abstract string }
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		abstracts = append(abstracts, r.Abstract)
	}
	if len(abstracts) < 10 {
		t.Fatalf("%d abstracts in the sample", len(abstracts))
	}
	path := filepath.Join(t.TempDir(), "readmodel.abstracts")
	tx, err := openTexts(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.close() }()
	refs := make([]textRef, len(abstracts))
	snappySize := 0
	for i, a := range abstracts {
		if refs[i], err = tx.put(a); err != nil {
			t.Fatal(err)
		}
		snappySize += len(snappy.Encode(nil, []byte(a)))
	}
	size, err := tx.sync()
	if err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(path)
	if err != nil || int64(len(file)) != size {
		t.Fatalf("file of %d bytes (%v), want %d", len(file), err, size)
	}
	zstdMagic := []byte{0x28, 0xb5, 0x2f, 0xfd}
	for i, ref := range refs {
		if !bytes.HasPrefix(file[ref.Off:], zstdMagic) {
			t.Errorf("abstract %d at %d is not a zstd frame: % x", i, ref.Off, file[ref.Off:ref.Off+4])
		}
		if got, err := tx.get(ref); err != nil || got != abstracts[i] {
			t.Errorf("abstract %d read back as %q (%v)", i, got, err)
		}
	}
	ratio := float64(size) / float64(snappySize)
	t.Logf("%d abstracts: %d bytes of zstd frames, %.2f of snappy's %d", len(abstracts), size, ratio, snappySize)
	if ratio > 0.9 {
		t.Errorf("the file is %d bytes, %.2f of snappy's %d; want at most 0.9", size, ratio, snappySize)
	}

	// A damaged frame is an error, not a wrong abstract.
	damaged := refs[0]
	damaged.Off++
	if got, err := tx.get(damaged); err == nil {
		t.Errorf("a damaged abstract was read as %q", got)
	}
}

// TestCheckpointOfAnotherLayoutIsRefused: a checkpoint of layout 4, which
// pointed into an abstracts' file of snappy blocks, is not used.
func TestCheckpointOfAnotherLayoutIsRefused(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "readmodel.checkpoint")
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode(checkpointHeader{Version: 4, DatabaseID: "db"}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	snap, err := readSnapshot(path, "db")
	if err == nil || snap != nil || !strings.Contains(err.Error(), "layout 4") {
		t.Errorf("a checkpoint of layout 4: %v, %v", snap, err)
	}
}
