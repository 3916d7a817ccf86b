package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSmallestSections runs the digest and the mixed-load sections end to end at
// their smallest sizes, as `go run ./cmd/paperbench -only …` does (paperd built
// and started as a process, the built-in vocabulary), and reads the JSON line
// each prints last: every figure is there, the counts add up, and the section
// passed its own checks. The catalog section is not run: it installs ghz and hey
// from the module proxy.
func TestSmallestSections(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		fields []string // in the section's object, besides those check reads
		check  func(t *testing.T, s map[string]any)
	}{
		{
			name: "digest",
			args: []string{"-digest-subscribers", "40", "-digest-papers", "200"},
			fields: []string{"digest_s", "bare_loop_s", "rerun_s", "paperd_cpu_us_per_mail", "sink_and_db_cpu_us_per_mail",
				"bare_loop_cpu_us_per_mail"},
			check: func(t *testing.T, d map[string]any) {
				sent, skipped := num(t, d, "sent"), num(t, d, "skipped")
				if num(t, d, "subscribers") != 40 || num(t, d, "papers") != 200 || sent+skipped != 40 || sent < 20 ||
					num(t, d, "failed") != 0 || num(t, d, "rerun_sent") != 0 {
					t.Errorf("counts: %v", d)
				}
				rate, bare := num(t, d, "digest_msgs_per_s"), num(t, d, "bare_loop_msgs_per_s")
				if rate <= 0 || bare <= 0 || !near(num(t, d, "digest_vs_bare_loop"), rate/bare) || num(t, d, "mean_message_bytes") < 1000 {
					t.Errorf("rates: %v", d)
				}
			},
		},
		{
			name:   "mixed",
			args:   []string{"-papers", "300", "-votes", "1000", "-mixed-duration", "6s", "-mixed-workers", "2", "-mixed-import", "50"},
			fields: []string{"warmup_s", "rest_share_of_reads", "expected_outcomes", "subscribed", "outbox_mails", "growth", "writes"},
			check: func(t *testing.T, m map[string]any) {
				if num(t, m, "papers") != 300 || num(t, m, "votes") != 1000 || num(t, m, "workers") != 2 || num(t, m, "duration_s") != 6 {
					t.Errorf("settings: %v", m)
				}
				if num(t, m, "requests") < 10 || num(t, m, "rps") <= 0 || num(t, m, "errors") != 0 || m["failures"] != nil {
					t.Errorf("outcome: %v", m)
				}
				var total float64
				var names []string
				for _, c := range m["calls"].([]any) {
					c := c.(map[string]any)
					names = append(names, c["name"].(string))
					total += num(t, c, "requests")
					if num(t, c, "requests") > 0 && (num(t, c, "p50_ms") <= 0 || num(t, c, "p99_ms") < num(t, c, "p50_ms")) {
						t.Errorf("latencies of %v", c)
					}
				}
				if total != num(t, m, "requests") {
					t.Errorf("the calls add up to %v requests, the section says %v", total, m["requests"])
				}
				for _, want := range []string{"GetPaper", "ListPapers", "ListDailyPapers", "ListTrendingPapers", "SearchPapers", "UpvotePaper", "CreateSubscription"} {
					if !slices.Contains(names, want) {
						t.Errorf("no %s among the calls %v", want, names)
					}
				}
				imp := m["import"].(map[string]any)
				if num(t, imp, "records") != 50 || num(t, imp, "created") != 50 || num(t, imp, "searchable_s") <= 0 || imp["error"] != nil {
					t.Errorf("import: %v", imp)
				}
				if g := m["growth"].(map[string]any); num(t, g, "samples") < 2 || num(t, g, "goroutines_first") <= 0 || num(t, g, "live_heap_bytes_first") <= 0 {
					t.Errorf("growth: %v", g)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			var out bytes.Buffer
			args := append([]string{"-only", tc.name, "-sample", filepath.Join(t.TempDir(), "absent.jsonl")}, tc.args...)
			if err := run(ctx, args, &out); err != nil {
				t.Fatalf("paperbench %s: %v\n%s", strings.Join(args, " "), err, out.String())
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			var line map[string]map[string]any
			if err := json.Unmarshal([]byte(lines[len(lines)-1]), &line); err != nil || line[tc.name] == nil {
				t.Fatalf("the last line is not the section's JSON (%v):\n%s", err, out.String())
			}
			s := line[tc.name]
			for _, f := range tc.fields {
				if _, ok := s[f]; !ok {
					t.Errorf("the JSON line lacks %s.%s", tc.name, f)
				}
			}
			tc.check(t, s)
			if t.Failed() {
				t.Logf("output:\n%s", out.String())
			}
		})
	}
}

// num is the number field of o, failing the test if it is absent.
func num(t *testing.T, o map[string]any, field string) float64 {
	t.Helper()
	v, ok := o[field].(float64)
	if !ok {
		t.Errorf("no number %s in %v", field, o)
	}
	return v
}

func near(a, b float64) bool { return a > 0.99*b && a < 1.01*b }

// TestScale runs the scale section (make bench-scale) end to end at 300 records
// with one-second runs: paperd and paperctl built and started as processes, the
// built-in vocabulary. Its JSON line has every figure, each sane, and every
// target of issue 16 with a verdict; missed targets do not fail the command.
func TestScale(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out bytes.Buffer
	args := []string{"-scale", "300", "-duration", "1s", "-concurrency", "4", "-idle-wait", "1s", "-sample", filepath.Join(t.TempDir(), "absent.jsonl")}
	if err := run(ctx, args, &out); err != nil {
		t.Fatalf("paperbench %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var line map[string]map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &line); err != nil || line["scale"] == nil {
		t.Fatalf("the last line is not the scale JSON (%v):\n%s", err, out.String())
	}
	s := line["scale"]
	if num(t, s, "papers") != 300 || !strings.HasPrefix(s["import_result"].(string), "300 created") {
		t.Errorf("papers: %v, import: %v", s["papers"], s["import_result"])
	}
	for _, f := range []string{"snapshot_bytes", "import_s", "import_papers_per_s", "paperctl_peak_rss_bytes", "empty_rss_bytes",
		"votes", "votes_per_s", "settled_rss_bytes", "settled_go_heap_inuse_bytes", "idle_wait_s", "idle_rss_bytes", "rss_after_calls_bytes", "go_heap_inuse_bytes", "go_live_heap_bytes", "idle_rss_bytes_per_paper", "ready_after_clean_stop_s",
		"ready_after_kill_s", "data_dir_bytes", "data_dir_vs_input"} {
		if num(t, s, f) <= 0 {
			t.Errorf("%s = %v, want > 0", f, s[f])
		}
	}
	if anon, file := num(t, s, "idle_rss_anon_bytes"), num(t, s, "idle_rss_file_bytes"); anon <= 0 || file <= 0 ||
		anon+file > 1.01*num(t, s, "idle_rss_bytes") || anon+file < 0.9*num(t, s, "idle_rss_bytes") {
		t.Errorf("RssAnon %v + RssFile %v do not make up the RSS %v", anon, file, s["idle_rss_bytes"])
	}
	if num(t, s, "data_dir_bytes") < num(t, s, "snapshot_bytes")/10 {
		t.Errorf("the data directory (%v bytes) is far smaller than the input (%v bytes)", s["data_dir_bytes"], s["snapshot_bytes"])
	}
	if first, _ := s["list_first_calls_ms"].([]any); len(first) != 20 {
		t.Errorf("list_first_calls_ms has %d calls, want one for each of the 20 filters: %v", len(first), s["list_first_calls_ms"])
	} else if !strings.Contains(out.String(), "the first call of each of its 20 filters") {
		t.Error("the first calls' times are not printed")
	}
	calls := s["calls"].(map[string]any)
	for _, k := range []string{"baseline", "get", "list", "search_new"} {
		c, ok := calls[k].(map[string]any)
		if !ok {
			t.Errorf("no call %s in %v", k, calls)
			continue
		}
		if num(t, c, "rps") <= 0 || num(t, c, "requests") < 1 || num(t, c, "errors") != 0 ||
			num(t, c, "p50_ms") <= 0 || num(t, c, "p99_ms") < num(t, c, "p50_ms") {
			t.Errorf("call %s: %v", k, c)
		}
	}
	targets := s["targets"].([]any)
	if len(targets) != 15 {
		t.Errorf("%d targets, want 15: %v", len(targets), targets)
	}
	for _, tg := range targets {
		tg := tg.(map[string]any)
		if v := tg["verdict"]; v != "met" && v != "missed" {
			t.Errorf("target %v has verdict %v", tg["name"], v)
		}
		if !strings.Contains(out.String(), tg["name"].(string)) {
			t.Errorf("the table does not print the target %q", tg["name"])
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out.String())
	}
}
