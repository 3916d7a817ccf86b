// Package citetest checks BibTeX with a real parser: the npm package
// @retorquere/bibtex-parser (the parser of Better BibTeX for Zotero), run by
// node from bibtex/ next to this file, where `npm ci` installs it (.ci/run
// does). Tests that need it skip when node or the package is missing, unless
// PAPERS_BIBTEX_TEST=required, as in CI, where they fail instead.
package citetest

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Library is a parsed BibTeX file.
type Library struct {
	// Errors are the parser's complaints; a good file has none.
	Errors  []json.RawMessage `json:"errors"`
	Entries []Entry           `json:"entries"`
}

// Entry is one parsed entry. Field names are lower-case.
type Entry struct {
	Type   string                     `json:"type"`
	Key    string                     `json:"key"`
	Fields map[string]json.RawMessage `json:"fields"`
}

// Creator is a parsed name: Name for a literal name (in braces), else its
// parts.
type Creator struct {
	Name      string `json:"name"`
	LastName  string `json:"lastName"`
	FirstName string `json:"firstName"`
	Prefix    string `json:"prefix"`
	Suffix    string `json:"suffix"`
}

// String is a text field's value, LaTeX turned into text; "" when absent.
func (e Entry) String(field string) string {
	var s string
	_ = json.Unmarshal(e.Fields[field], &s)
	return s
}

// Creators is a name-list field (author, editor).
func (e Entry) Creators(field string) []Creator {
	var c []Creator
	_ = json.Unmarshal(e.Fields[field], &c)
	return c
}

// dir is where bibtex/ is, found from this file's path.
func dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "bibtex")
}

// Parse parses bib. It skips the test when the parser is not installed (fails
// when PAPERS_BIBTEX_TEST=required) and fails it if node does.
func Parse(t testing.TB, bib string) Library {
	t.Helper()
	d := dir()
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(d, "node_modules", "@retorquere", "bibtex-parser", "package.json"))
	}
	if err != nil {
		msg := "the BibTeX parser is not installed (node, and `npm ci` in " + d + "): " + err.Error()
		if os.Getenv("PAPERS_BIBTEX_TEST") == "required" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "parse.mjs") //nolint:gosec // node from PATH, running our own script
	cmd.Dir = d
	cmd.Stdin = strings.NewReader(bib)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("parse.mjs: %v\n%s", err, stderr.Bytes())
	}
	var lib Library
	if err := json.Unmarshal(out, &lib); err != nil {
		t.Fatalf("parse.mjs wrote %s: %v", out, err)
	}
	return lib
}
