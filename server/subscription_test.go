package server_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSubscribeWithoutSMTPWritesTheOutbox is the README's promise: with no
// SMTP_URL, a curl subscribe leaves the confirmation mail as an .eml file.
func TestSubscribeWithoutSMTPWritesTheOutbox(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	ts := startServer(t, cfg)
	r := ts.rest(t, "POST", "/v1/subscriptions", "", map[string]any{"email": "ada@example.org", "query": "diffusion"})
	if r.Status != 200 || !strings.Contains(string(r.Raw), "confirmation link") {
		t.Fatalf("subscribe: %d %s", r.Status, r.Raw)
	}
	var files []string
	eventually(t, "an .eml in the outbox", func() bool {
		files, _ = filepath.Glob(filepath.Join(cfg.DataDir, "outbox", "*.eml"))
		return len(files) == 1
	})
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	mail := string(b)
	for _, want := range []string{"To: <ada@example.org>", "Subject: Confirm your trending-papers subscription",
		ts.base + "/subscriptions/confirm?token=3D"} {
		if !strings.Contains(strings.ReplaceAll(mail, "=\r\n", ""), want) {
			t.Errorf("the mail lacks %q:\n%s", want, mail)
		}
	}
	// The same answer for a known address, and no second mail within 10 minutes.
	r2 := ts.rest(t, "POST", "/v1/subscriptions", "", map[string]any{"email": "ada@example.org"})
	time.Sleep(100 * time.Millisecond)
	files2, _ := filepath.Glob(filepath.Join(cfg.DataDir, "outbox", "*.eml"))
	if r2.Status != 200 || string(r2.Raw) != string(r.Raw) || len(files2) != 1 {
		t.Errorf("again: %d %s, %d files", r2.Status, r2.Raw, len(files2))
	}
}
