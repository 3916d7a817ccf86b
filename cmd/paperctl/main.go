// Command paperctl is the command-line client of paperd for operators: it imports
// papers from arXiv's metadata snapshot, arXiv API responses and daily-papers JSON,
// and shows papers, listings, searches, daily and trending papers, talking to
// paperd over gRPC. It also makes user tokens for trying upvotes, and prints
// shell completion scripts. `paperctl help` lists the commands, `paperctl
// COMMAND --help` explains one.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
)

// Exit statuses, as `paperctl help` documents them.
const (
	exitOK      = 0
	exitFailed  = 1
	exitUsage   = 2
	exitPartial = 3
)

const exitStatuses = `Exit status:
  0  success (import: every record was imported)
  1  failure: paperd unreachable or refused the call, or nothing could be imported
  2  a mistake in the command line
  3  import only: a partial import; some records were imported, others were
     rejected by paperd or unreadable, or the input ended early (a truncated .gz)
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// streams are a command's standard input and outputs.
type streams struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

// errUsage marks a mistake in the command line (exit status 2).
var errUsage = errors.New("usage")

// errPartial marks an import that stored some records but not all (exit status 3);
// what was missed has been reported already.
var errPartial = errors.New("partial import")

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	std := streams{stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		_, _ = fmt.Fprint(stderr, globalHelp())
		return exitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(rest) == 0 || name != "help" || strings.HasPrefix(rest[0], "-") {
			_, _ = fmt.Fprint(stdout, globalHelp())
			return exitOK
		}
		cmd := lookup(rest[0])
		if cmd == nil {
			_, _ = fmt.Fprintf(stderr, "paperctl: unknown command %q; `paperctl help` lists them\n", rest[0])
			return exitUsage
		}
		_, _ = fmt.Fprint(stdout, cmd.help())
		return exitOK
	case "-version", "--version", "-v":
		name = "version"
	}
	cmd := lookup(name)
	if cmd == nil {
		_, _ = fmt.Fprintf(stderr, "paperctl: unknown command %q\n\n%s", name, globalHelp())
		return exitUsage
	}
	fs, o := cmd.flagSet()
	pos, err := parse(fs, rest)
	if err == nil {
		err = cmd.run(ctx, std, o, pos)
	}
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		_, _ = fmt.Fprint(stdout, cmd.help())
		return exitOK
	case errors.Is(err, errUsage):
		_, _ = fmt.Fprintf(stderr, "paperctl %s: %s\n\nUsage:\n  %s\n\nRun 'paperctl %s --help' for its flags and examples.\n",
			cmd.name, strings.TrimPrefix(err.Error(), errUsage.Error()+": "), cmd.usageLine(), cmd.name)
		return exitUsage
	case errors.Is(err, errPartial):
		_, _ = fmt.Fprintln(stderr, "paperctl:", err)
		return exitPartial
	}
	_, _ = fmt.Fprintln(stderr, "paperctl:", err)
	return exitFailed
}

// options holds the flags of every command; each command registers its own.
type options struct {
	server   string
	token    string
	useTLS   bool
	tlsCA    string
	json     bool
	timeout  time.Duration
	format   string
	progress string

	filter, orderBy, pageToken string
	pageSize                   int
	date, week, month, zone    string
	window                     time.Duration

	user, secret, audience, issuer string
	ttl                            time.Duration
}

// connFlags registers the flags of the commands that talk to paperd.
func connFlags(fs *flag.FlagSet, o *options) {
	server := os.Getenv("PAPERCTL_SERVER")
	if server == "" {
		server = "localhost:9090"
	}
	fs.StringVar(&o.server, "server", server, "paperd's gRPC `address`; env PAPERCTL_SERVER")
	fs.BoolVar(&o.useTLS, "tls", false, "connect with TLS (system roots, or --tls-ca)")
	fs.StringVar(&o.tlsCA, "tls-ca", "", "PEM `file` of the CA that signed paperd's certificate (implies --tls)")
	fs.BoolVar(&o.json, "json", false, "print the response as JSON instead of a table")
}

func (o *options) dial() (*grpc.ClientConn, error) {
	creds := insecure.NewCredentials()
	if o.useTLS || o.tlsCA != "" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if o.tlsCA != "" {
			pem, err := os.ReadFile(o.tlsCA)
			if err != nil {
				return nil, fmt.Errorf("read --tls-ca: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("--tls-ca %s holds no PEM certificate", o.tlsCA)
			}
			cfg.RootCAs = pool
		}
		creds = credentials.NewTLS(cfg)
	}
	conn, err := grpc.NewClient(o.server, grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", o.server, err)
	}
	return conn, nil
}

func (o *options) authorize(ctx context.Context) context.Context {
	if o.token == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+o.token)
}

// catalogClient connects and returns a client and a function that closes it.
func catalogClient(o *options) (catalogv1.CatalogServiceClient, func(), error) {
	conn, err := o.dial()
	if err != nil {
		return nil, nil, err
	}
	return catalogv1.NewCatalogServiceClient(conn), func() { _ = conn.Close() }, nil
}

// parse parses flags that may come before, between or after the positional
// arguments, and returns the positional ones.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %s", errUsage, err.Error())
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// describe turns a gRPC error into a message for operators: the status code and
// message, then every field violation of a google.rpc.BadRequest, one a line,
// and what google.rpc.ErrorInfo and RetryInfo say.
func describe(server string, err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	msg := st.Message()
	if st.Code() == codes.Unavailable && (strings.Contains(msg, "connection refused") || strings.Contains(msg, "no such host") ||
		strings.Contains(msg, "connection error") || strings.Contains(msg, "name resolver")) {
		return fmt.Errorf("cannot reach paperd at %s: %w", server, err)
	}
	var b strings.Builder
	b.WriteString(st.Code().String() + ": " + msg)
	var violations []*errdetails.BadRequest_FieldViolation
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.BadRequest:
			violations = append(violations, d.GetFieldViolations()...)
		case *errdetails.ErrorInfo:
			if d.GetReason() != "" {
				b.WriteString(" (reason " + d.GetReason() + ")")
			}
		case *errdetails.RetryInfo:
			fmt.Fprintf(&b, " (retry after %s)", d.GetRetryDelay().AsDuration())
		}
	}
	if len(violations) == 1 && msg == violations[0].GetField()+": "+violations[0].GetDescription() {
		violations = nil // the message says it all
	}
	for _, v := range violations {
		b.WriteString("\n  " + v.GetField() + ": " + v.GetDescription())
	}
	return errors.New(b.String())
}

// lookup returns the command called name, or nil.
func lookup(name string) *command {
	i := slices.IndexFunc(commands, func(c *command) bool { return c.name == name })
	if i < 0 {
		return nil
	}
	return commands[i]
}
