package main

import (
	"context"
	"errors"
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
	"github.com/papercatalog/papers/paperpb"
)

// Limits of one message of the import stream: paperd refuses messages over 1 MiB
// and takes at most 1,000 records a message.
const (
	sendRecords = 500
	sendBytes   = 512 << 10
	maxRecord   = 1<<20 - 1024
)

func importCmd(ctx context.Context, std streams, c *options, pos []string) error {
	stdin, stdout, stderr := std.stdin, std.stdout, std.stderr
	if len(pos) != 1 {
		return fmt.Errorf("%w: import takes one FILE (or - for standard input)", errUsage)
	}
	f, err := ingest.ParseFormat(c.format)
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	mode := c.progress
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

	client, closeConn, err := catalogClient(c)
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
		prog.sent.Store(sent)
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
		r := item.Record
		rec := paperpb.ImportRecord(r.ID, r.Position, &r.Paper, r.Upvotes)
		n := proto.Size(rec)
		if n > maxRecord {
			unreadable++
			prog.printf("%s: position %d (%s): the record is larger than 1 MiB", name, item.Position, r.ID)
			continue
		}
		prog.read.Add(1)
		if len(batch) == sendRecords || batchBytes+n > sendBytes {
			sendErr = flush()
		}
		batch = append(batch, rec)
		batchBytes += n
	}
	if sendErr == nil {
		sendErr = flush()
	}
	readErr := reader.Err()
	// Everything is sent; paperd answers once it has stored the last batch.
	prog.inputDone()
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
	if resp.GetRejected() > 0 || unreadable > 0 || readErr != nil {
		var missed []string
		if n := resp.GetRejected(); n > 0 {
			missed = append(missed, plural(n, "record")+" rejected by paperd")
		}
		if unreadable > 0 {
			missed = append(missed, plural(unreadable, "record")+" unreadable")
		}
		if readErr != nil {
			missed = append(missed, "the input ended early")
		}
		return fmt.Errorf("%w of %s: %s", errPartial, name, strings.Join(missed, ", "))
	}
	return nil
}

func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
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

// waitNotice is how long a progress shown as lines waits, once the input is read,
// before it says that paperd is still storing what was sent.
const waitNotice = time.Second

// progressView shows an import's progress on standard error: a bar redrawn in
// place on a terminal, or a plain line every 10 seconds otherwise. Records are
// counted as read from the input and as sent to paperd; once the input is read
// (inputDone), it says it waits for paperd to finish storing them.
type progressView struct {
	out   io.Writer
	mode  string
	size  int64 // input bytes, -1 when unknown (standard input)
	bytes *atomic.Int64
	read  atomic.Int64 // records read from the input
	sent  atomic.Int64 // records sent to paperd
	began time.Time

	mu           sync.Mutex
	drawn        bool      // a bar is on the current line
	frame        int       // of the spinner shown when the size is unknown
	waitingSince time.Time // when the input was read; zero before
	done         chan struct{}
	ended        chan struct{} // closed by inputDone
	wg           sync.WaitGroup
}

func (p *progressView) start() {
	if p.mode == "none" {
		return
	}
	p.done, p.ended = make(chan struct{}), make(chan struct{})
	every := 200 * time.Millisecond
	if p.mode == "lines" {
		every = 10 * time.Second
	}
	p.wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		ended := p.ended
		var notice <-chan time.Time
		for {
			select {
			case <-p.done:
				return
			case <-ended:
				ended = nil
				if p.mode == "lines" {
					notice = time.After(waitNotice)
				}
			case <-notice:
				notice = nil
				p.draw()
			case <-t.C:
				p.draw()
			}
		}
	})
}

// inputDone marks the end of the input: what is left is paperd's work.
func (p *progressView) inputDone() {
	p.mu.Lock()
	p.waitingSince = time.Now()
	p.mu.Unlock()
	if p.ended != nil {
		close(p.ended)
	}
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
	read, recs, sent := p.bytes.Load(), p.read.Load(), p.sent.Load()
	eta, pct := "", ""
	frac := -1.0
	if p.size > 0 {
		frac = min(float64(read)/float64(p.size), 1)
		pct = fmt.Sprintf("%3.0f%% ", 100*frac)
		if frac > 0.001 && p.waitingSince.IsZero() {
			eta = "ETA " + (time.Duration(float64(elapsed)/frac) - elapsed).Round(time.Second).String()
		}
	}
	var stats string
	if !p.waitingSince.IsZero() {
		stats = fmt.Sprintf("%s%s read, %d records sent; waiting for paperd to finish storing them (%s)",
			pct, mib(read), sent, time.Since(p.waitingSince).Round(time.Second))
	} else {
		rate := float64(sent) / max(elapsed.Seconds(), 1e-3)
		stats = fmt.Sprintf("%s%s read, %d records read, %d sent, %.0f records/s %s", pct, mib(read), recs, sent, rate, eta)
	}
	if p.mode == "lines" {
		_, _ = fmt.Fprintf(p.out, "import: %s\n", strings.TrimSpace(stats))
		return
	}
	bar := ""
	if frac >= 0 {
		const width = 30
		full := int(frac * width)
		bar = "[" + strings.Repeat("=", full) + strings.Repeat(" ", width-full) + "] "
	} else {
		// No total to measure against: a spinner shows that records flow.
		bar = string(`|/-\`[p.frame%4]) + " "
		p.frame++
	}
	_, _ = fmt.Fprintf(p.out, "\r\033[K%s%s", bar, strings.TrimSpace(stats))
	p.drawn = true
}

func mib(n int64) string {
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
