package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// snapshotBench generates an arXiv metadata snapshot of n lines, imports it twice
// with the real paperctl into a fresh paperd, and reports both processes' memory
// over each import: paperctl's must stay flat whatever the input size; paperd's
// grows with the catalog it keeps in memory, and must not grow when the same
// input is imported again (nothing new to keep).
func snapshotBench(ctx context.Context, o options, bin, tmp string, voc *vocabulary, out io.Writer, logf func(string, ...any)) error {
	logf("building paperctl")
	if err := sh(ctx, "", nil, "go", "build", "-o", filepath.Join(bin, "paperctl"), "./cmd/paperctl"); err != nil {
		return err
	}
	file := filepath.Join(tmp, "snapshot.jsonl")
	began := time.Now()
	size, err := writeSnapshot(file, voc, o.snapshotLines)
	if err != nil {
		return err
	}
	logf("wrote %d lines (%.0f MiB) in %v", o.snapshotLines, float64(size)/(1<<20), time.Since(began).Round(time.Second))

	data := filepath.Join(tmp, "snapshot-paperd")
	pd, err := startPaperd(ctx, bin, data, 30*time.Minute, "PAPERD_ADMIN_TOKENS="+importToken)
	if err != nil {
		return err
	}
	defer func() { pd.stop() }()

	var passes []importPass
	for pass := 1; pass <= 2; pass++ {
		logf("import %d of the snapshot with paperctl", pass)
		p, err := runPaperctlImport(ctx, bin, pd.grpcAddr, file, pd.pid())
		if err != nil {
			return err
		}
		passes = append(passes, p)
	}
	pd.stop()
	if pd, err = startPaperd(ctx, bin, data, 30*time.Minute, "PAPERD_ADMIN_TOKENS="+importToken); err != nil {
		return err
	}
	ready := pd.ready
	settle(ctx, pd.pid(), time.Minute)
	restarted, _ := currentRSS(pd.pid())

	_, _ = fmt.Fprintf(out, "snapshot import: %d generated arXiv metadata lines (%.0f MiB), imported twice with paperctl into a fresh paperd on the embedded database\n",
		o.snapshotLines, float64(size)/(1<<20))
	tw := newTable(out)
	_, _ = fmt.Fprintln(tw, "pass\ttook\tpapers/s\tresult\tpaperctl RSS MiB (10/50/90% of the time, peak)\tpaperd RSS MiB (10/50/90%, peak)\t")
	for i, p := range passes {
		_, _ = fmt.Fprintf(tw, "%d\t%v\t%.0f\t%s\t%s\t%s\t\n", i+1, p.took.Round(time.Second), float64(o.snapshotLines)/p.took.Seconds(),
			p.result, p.client.summary(), p.server.summary())
	}
	_ = tw.Flush()
	_, _ = fmt.Fprintf(out, "paperd restarted on the imported catalog: ready in %v (indexing what it had not indexed at the stop), RSS %.0f MiB once idle\n",
		ready.Round(100*time.Millisecond), float64(restarted)/(1<<20))
	summary := map[string]any{"snapshot_lines": o.snapshotLines, "snapshot_bytes": size, "passes": passes,
		"restart_ready_s": ready.Seconds(), "restart_rss_bytes": restarted}
	line, err := json.Marshal(summary)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(out, string(line))
	return err
}

// importPass is one paperctl import of the snapshot.
type importPass struct {
	took   time.Duration
	result string
	client rssSeries
	server rssSeries
	// clientMaxRSS is paperctl's peak RSS as the kernel counted it (getrusage),
	// which no sampling interval misses.
	clientMaxRSS int64
}

func (p importPass) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]any{"took_s": p.took.Seconds(), "result": p.result,
		"paperctl_rss_bytes": p.client.samples, "paperctl_peak_rss_bytes": p.client.peak(),
		"paperd_rss_bytes": p.server.samples, "paperd_peak_rss_bytes": p.server.peak()})
}

var paperctlResult = regexp.MustCompile(`(\d+) created, (\d+) updated, (\d+) unchanged, (\d+) rejected by paperd, (\d+) unreadable`)

func runPaperctlImport(ctx context.Context, bin, addr, file string, paperdPid int) (importPass, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "paperctl"), "import", file, "--server", addr, "--token", importToken, "--progress", "lines")
	var stdout strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, os.Stderr
	began := time.Now()
	if err := cmd.Start(); err != nil {
		return importPass{}, err
	}
	var p importPass
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() {
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			if v, err := currentRSS(cmd.Process.Pid); err == nil {
				p.client.samples = append(p.client.samples, v)
			}
			if v, err := currentRSS(paperdPid); err == nil {
				p.server.samples = append(p.server.samples, v)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	err := cmd.Wait()
	close(done)
	wg.Wait()
	p.took = time.Since(began)
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		p.clientMaxRSS = ru.Maxrss << 10 // kB on Linux
	}
	if err != nil {
		return p, fmt.Errorf("paperctl: %w\n%s", err, stdout.String())
	}
	m := paperctlResult.FindStringSubmatch(stdout.String())
	if m == nil {
		return p, fmt.Errorf("cannot read paperctl's result: %s", stdout.String())
	}
	p.result = fmt.Sprintf("%s created, %s updated, %s unchanged, %s rejected, %s unreadable", m[1], m[2], m[3], m[4], m[5])
	return p, nil
}

// rssSeries is a process's resident set size sampled over a run.
type rssSeries struct{ samples []int64 }

func (s rssSeries) peak() int64 {
	var m int64
	for _, v := range s.samples {
		m = max(m, v)
	}
	return m
}

func (s rssSeries) summary() string {
	if len(s.samples) == 0 {
		return "-"
	}
	at := func(f float64) float64 { return float64(s.samples[int(f*float64(len(s.samples)-1))]) / (1 << 20) }
	return fmt.Sprintf("%.0f / %.0f / %.0f, %.0f", at(0.1), at(0.5), at(0.9), float64(s.peak())/(1<<20))
}

// snapshotID is the arXiv id of the i-th line of a generated snapshot: 100,000
// papers a month from January 2015, as new-style ids.
func snapshotID(i int) string {
	return fmt.Sprintf("%02d%02d.%05d", 15+i/1200000, 1+(i/100000)%12, i%100000)
}

// writeSnapshot writes n lines in the format of arXiv's metadata snapshot, with
// text drawn from the vocabulary, hard-wrapped as arXiv's is.
func writeSnapshot(path string, v *vocabulary, n int) (int64, error) {
	f, err := os.Create(path) //nolint:gosec // the benchmark's own temporary file
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	r := rand.New(rand.NewPCG(11, 12)) //nolint:gosec // benchmark data
	wrap := func(s string) string {
		var b strings.Builder
		col := 0
		for i, word := range strings.Fields(s) {
			if i > 0 && col+len(word) > 78 {
				b.WriteString("\n")
				col = 0
			} else if i > 0 {
				b.WriteByte(' ')
				col++
			}
			b.WriteString(word)
			col += len(word)
		}
		return b.String()
	}
	enc := json.NewEncoder(w)
	base := time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		created := base.Add(time.Duration(r.Int64N(int64(10 * 365 * 24 * time.Hour))))
		var parsed [][]string
		var names []string
		for range 1 + r.IntN(6) {
			name := v.names[r.IntN(len(v.names))]
			first, last, _ := strings.Cut(name, " ")
			if last == "" {
				first, last = "", first
			}
			parsed = append(parsed, []string{last, first, ""})
			names = append(names, name)
		}
		c1, c2 := v.category(r), v.category(r)
		rec := map[string]any{
			"id":        snapshotID(i),
			"submitter": names[0], "authors": strings.Join(names, ", "),
			"title":    wrap(v.text(r, 6+r.IntN(8))),
			"comments": fmt.Sprintf("%d pages, %d figures", 5+r.IntN(30), r.IntN(12)), "journal-ref": nil, "doi": nil,
			"report-no": nil, "categories": c1 + " " + c2, "license": nil,
			"abstract":       "  " + wrap(v.text(r, 120+r.IntN(130))) + "\n",
			"versions":       []map[string]string{{"version": "v1", "created": created.Format("Mon, 2 Jan 2006 15:04:05 GMT")}},
			"update_date":    created.Format(time.DateOnly),
			"authors_parsed": parsed,
		}
		if err := enc.Encode(rec); err != nil {
			_ = f.Close()
			return 0, err
		}
	}
	if err := w.Flush(); err != nil {
		_ = f.Close()
		return 0, err
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return 0, err
	}
	return st.Size(), f.Close()
}
