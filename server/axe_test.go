package server_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// axePath is where `make axe` puts axe-core's script (npm package axe-core,
// pinned in the Makefile), relative to this package's directory;
// PAPERS_AXE_JS names another file.
const axePath = "../.cache/axe-core/axe.min.js"

var axeScript = sync.OnceValues(func() ([]byte, error) {
	path := os.Getenv("PAPERS_AXE_JS")
	if path == "" {
		path = filepath.FromSlash(axePath)
	}
	return os.ReadFile(path)
})

// axeViolation is a rule a page breaks, as axe-core reports it.
type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// checkAxe opens url in the browser of ctx, runs axe-core on the page (the
// script is evaluated through DevTools, which the pages' CSP, script-src
// 'none', does not govern) and fails the test for every serious or critical
// violation, naming the rule and the elements. Without the script (`make
// axe` not run) it only logs so, unless PAPERS_BROWSER_TEST=required.
func checkAxe(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	script, err := axeScript()
	if err != nil {
		if os.Getenv("PAPERS_BROWSER_TEST") == "required" {
			t.Fatalf("axe-core is required (make axe): %v", err)
		}
		t.Logf("axe-core not found, accessibility of %s not checked (make axe): %v", url, err)
		return
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.Evaluate[chromedp.Void](string(script))); err != nil {
		t.Fatalf("axe on %s: %v", url, err)
	}
	const run = `axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations.map(v =>
		({id: v.id, impact: v.impact || "", help: v.help, nodes: v.nodes.slice(0, 5).map(n => n.target.join(" "))})))`
	found, err := chromedp.Run(ctx, chromedp.Evaluate[[]axeViolation](run, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("axe on %s: %v", url, err)
	}
	var minor []string
	for _, v := range found {
		what := fmt.Sprintf("%s (%s): %s, at %s", v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "; "))
		if v.Impact == "serious" || v.Impact == "critical" {
			t.Errorf("axe-core on %s: %s", url, what)
		} else {
			minor = append(minor, what)
		}
	}
	if len(minor) > 0 {
		t.Logf("axe-core on %s, minor or moderate: %s", url, strings.Join(minor, " | "))
	}
}
