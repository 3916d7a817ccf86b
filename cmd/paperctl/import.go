package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/term"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	"github.com/papercatalog/papers/ingest"
)

// Limits of one message of the import stream: paperd refuses messages over 1 MiB
// and takes at most 1,000 records a message.
const (
	sendRecords = 500
	sendBytes   = 512 << 10
	maxRecord   = 1<<20 - 1024
)

func importCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	var c common
	c.register(fs)
	format := fs.String("format", "", "input format: arxiv-oai, arxiv-atom or hf-daily (default: detected)")
	progress := fs.String("progress", "auto", "progress display: auto (a bar on a terminal, lines otherwise), bar, lines or none")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: import takes one FILE (or - for standard input)", errUsage)
	}
	f, err := ingest.ParseFormat(*format)
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	mode := *progress
	switch mode {
	case "auto":
		mode = "lines"
		if file, ok := stderr.(*os.File); ok && term.IsTerminal(int(file.Fd())) { //nolint:gosec // a file descriptor
			mode = "bar"
		}
	case "bar", "lines", "none":
	default:
		return fmt.Errorf("%w: --progress must be auto, bar, lines or none", errUsage)
	}

	in := stdin
	size := int64(-1)
	name := "standard input"
	if pos[0] != "-" {
		file, err := os.Open(pos[0]) //nolint:gosec // the file the operator named
		if err != nil {
			return err
		}
		defer func() { _ = file.Close() }()
		if st, err := file.Stat(); err == nil && st.Mode().IsRegular() {
			size = st.Size()
		}
		in, name = file, pos[0]
	}
	counted := &countingReader{r: in}
	reader, err := ingest.Open(counted, f)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}

	client, closeConn, err := catalogClient(&c)
	if err != nil {
		return err
	}
	defer closeConn()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := client.ImportPapers(c.authorize(ctx))
	if err != nil {
		return describe(c.server, err)
	}

	prog := &progressView{out: stderr, mode: mode, size: size, bytes: &counted.n, began: time.Now()}
	prog.start()
	var unreadable int64
	var sent int64
	var batch []*catalogv1.ImportRecord
	batchBytes := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := stream.Send(&catalogv1.ImportPapersRequest{Records: batch})
		sent += int64(len(batch))
		prog.records.Store(sent)
		batch, batchBytes = nil, 0
		return err
	}
	var sendErr error
	for sendErr == nil {
		item, ok := reader.Next()
		if !ok {
			break
		}
		if item.Err != nil {
			unreadable++
			prog.printf("%s: %v", name, item.Err)
			continue
		}
		n := proto.Size(item.Record)
		if n > maxRecord {
			unreadable++
			prog.printf("%s: position %d (%s): the record is larger than 1 MiB", name, item.Position, item.Record.GetPaperId())
			continue
		}
		if len(batch) == sendRecords || batchBytes+n > sendBytes {
			sendErr = flush()
		}
		batch = append(batch, item.Record)
		batchBytes += n
	}
	if sendErr == nil {
		sendErr = flush()
	}
	readErr := reader.Err()
	resp, err := stream.CloseAndRecv()
	prog.stop()
	if err != nil {
		// A failed Send shows as io.EOF; the stream's status says why.
		return describe(c.server, err)
	}
	if sendErr != nil && !errors.Is(sendErr, io.EOF) {
		return describe(c.server, sendErr)
	}
	if c.json {
		b, err := protojson.MarshalOptions{Multiline: true, UseProtoNames: true}.Marshal(resp)
		if err != nil {
			return err
		}
		_, _ = fmt.Fprintln(stdout, string(b))
	} else {
		for _, r := range resp.GetRejections() {
			_, _ = fmt.Fprintf(stderr, "%s: position %d (%s): rejected: %s\n", name, r.GetPosition(), r.GetPaperId(), r.GetReason())
		}
		if more := resp.GetRejected() - int64(len(resp.GetRejections())); more > 0 {
			_, _ = fmt.Fprintf(stderr, "%s: %d more rejections not listed\n", name, more)
		}
		took := time.Since(prog.began)
		_, _ = fmt.Fprintf(stdout, "%s: %d records sent in %s (%.0f/s): %d created, %d updated, %d unchanged, %d rejected by paperd, %d unreadable\n",
			name, sent, took.Round(time.Millisecond), float64(sent)/max(took.Seconds(), 1e-3),
			resp.GetCreated(), resp.GetUpdated(), resp.GetUnchanged(), resp.GetRejected(), unreadable)
	}
	if readErr != nil {
		_, _ = fmt.Fprintf(stderr, "%s: reading stopped early: %v\n", name, readErr)
	}
	if resp.GetCreated()+resp.GetUpdated()+resp.GetUnchanged() == 0 {
		if readErr != nil {
			return fmt.Errorf("nothing imported from %s: %w", name, readErr)
		}
		return fmt.Errorf("nothing imported from %s", name)
	}
	return nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// progressView shows an import's progress on standard error: a bar redrawn in
// place on a terminal, or a plain line every 10 seconds otherwise.
type progressView struct {
	out     io.Writer
	mode    string
	size    int64 // input bytes, -1 when unknown
	bytes   *atomic.Int64
	records atomic.Int64
	began   time.Time

	mu    sync.Mutex
	drawn bool // a bar is on the current line
	done  chan struct{}
	wg    sync.WaitGroup
}

func (p *progressView) start() {
	if p.mode == "none" {
		return
	}
	p.done = make(chan struct{})
	every := 200 * time.Millisecond
	if p.mode == "lines" {
		every = 10 * time.Second
	}
	p.wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				return
			case <-t.C:
				p.draw()
			}
		}
	})
}

func (p *progressView) stop() {
	if p.done == nil {
		return
	}
	close(p.done)
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		_, _ = fmt.Fprint(p.out, "\r\033[K")
		p.drawn = false
	}
}

// printf prints a message line, above the bar when there is one.
func (p *progressView) printf(format string, a ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		_, _ = fmt.Fprint(p.out, "\r\033[K")
		p.drawn = false
	}
	_, _ = fmt.Fprintf(p.out, format+"\n", a...)
}

func (p *progressView) draw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	elapsed := time.Since(p.began)
	read, recs := p.bytes.Load(), p.records.Load()
	rate := float64(recs) / max(elapsed.Seconds(), 1e-3)
	eta, pct := "", ""
	frac := -1.0
	if p.size > 0 {
		frac = min(float64(read)/float64(p.size), 1)
		pct = fmt.Sprintf("%3.0f%% ", 100*frac)
		if frac > 0.001 {
			eta = "ETA " + (time.Duration(float64(elapsed)/frac) - elapsed).Round(time.Second).String()
		}
	}
	stats := fmt.Sprintf("%s%s read, %d records, %.0f records/s %s", pct, mib(read), recs, rate, eta)
	if p.mode == "lines" {
		_, _ = fmt.Fprintf(p.out, "import: %s\n", strings.TrimSpace(stats))
		return
	}
	bar := ""
	if frac >= 0 {
		const width = 30
		full := int(frac * width)
		bar = "[" + strings.Repeat("=", full) + strings.Repeat(" ", width-full) + "] "
	}
	_, _ = fmt.Fprintf(p.out, "\r\033[K%s%s", bar, strings.TrimSpace(stats))
	p.drawn = true
}

func mib(n int64) string {
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
