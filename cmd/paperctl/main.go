// Command paperctl is the command-line client of paperd for operators: it imports
// papers from arXiv's metadata snapshot, arXiv API responses and daily-papers JSON,
// and shows papers, listings, searches, daily and trending papers, talking to
// paperd over gRPC.
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
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
)

const usage = `paperctl talks to paperd over gRPC.

Usage:
  paperctl import FILE|- [--format arxiv-oai|arxiv-atom|hf-daily] [flags]
  paperctl get PAPER [flags]
  paperctl list [--filter F] [--order-by O] [--page-size N] [--page-token T] [flags]
  paperctl search QUERY [--filter F] [--page-size N] [flags]
  paperctl daily (--date YYYY-MM-DD | --week YYYY-Www | --month YYYY-MM) [--time-zone Z] [flags]
  paperctl trending [--window 168h] [--filter F] [flags]

Flags of every command:
  --server ADDR     paperd's gRPC address (env PAPERCTL_SERVER, default localhost:9090)
  --token TOKEN     admin token for import (env PAPERCTL_TOKEN)
  --tls             connect with TLS (system roots, or --tls-ca)
  --tls-ca FILE     PEM file of the CA that signed paperd's certificate (implies --tls)
  --json            print the response as JSON instead of a table
  --timeout D       deadline of a call other than import (default 30s)

import reads FILE (or standard input for -), gzip-compressed or not, detects the
format from the content unless --format is given, and streams the papers to
paperd. Unreadable records are reported with their line numbers and skipped. It
exits with status 1 only if nothing could be imported or paperd is unreachable.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// common holds the flags every command has.
type common struct {
	server  string
	token   string
	useTLS  bool
	tlsCA   string
	json    bool
	timeout time.Duration
}

func (c *common) register(fs *flag.FlagSet) {
	server := os.Getenv("PAPERCTL_SERVER")
	if server == "" {
		server = "localhost:9090"
	}
	fs.StringVar(&c.server, "server", server, "paperd's gRPC address")
	fs.StringVar(&c.token, "token", os.Getenv("PAPERCTL_TOKEN"), "admin token")
	fs.BoolVar(&c.useTLS, "tls", false, "connect with TLS")
	fs.StringVar(&c.tlsCA, "tls-ca", "", "PEM file of the CA of paperd's certificate")
	fs.BoolVar(&c.json, "json", false, "print JSON")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "deadline of a call")
}

func (c *common) dial() (*grpc.ClientConn, error) {
	creds := insecure.NewCredentials()
	if c.useTLS || c.tlsCA != "" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if c.tlsCA != "" {
			pem, err := os.ReadFile(c.tlsCA)
			if err != nil {
				return nil, fmt.Errorf("read --tls-ca: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("--tls-ca %s holds no PEM certificate", c.tlsCA)
			}
			cfg.RootCAs = pool
		}
		creds = credentials.NewTLS(cfg)
	}
	conn, err := grpc.NewClient(c.server, grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", c.server, err)
	}
	return conn, nil
}

func (c *common) authorize(ctx context.Context) context.Context {
	if c.token == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+c.token)
}

// errUsage marks a mistake in the command line (exit status 2).
var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		_, _ = fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "import":
		err = importCmd(ctx, rest, stdin, stdout, stderr)
	case "get", "list", "search", "daily", "trending":
		err = readCmd(ctx, cmd, rest, stdout)
	default:
		err = fmt.Errorf("%w: unknown command %q", errUsage, cmd)
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		_, _ = fmt.Fprint(stdout, usage)
		return 0
	case errors.Is(err, errUsage):
		_, _ = fmt.Fprintf(stderr, "paperctl: %v\n\n%s", err, usage)
		return 2
	}
	_, _ = fmt.Fprintln(stderr, "paperctl:", err)
	return 1
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

// catalogClient connects and returns a client and a function that closes it.
func catalogClient(c *common) (catalogv1.CatalogServiceClient, func(), error) {
	conn, err := c.dial()
	if err != nil {
		return nil, nil, err
	}
	return catalogv1.NewCatalogServiceClient(conn), func() { _ = conn.Close() }, nil
}

// describe turns a gRPC error into a message for operators.
func describe(server string, err error) error {
	msg := err.Error()
	if strings.Contains(msg, "connection refused") || strings.Contains(msg, "no such host") ||
		strings.Contains(msg, "connection error") {
		return fmt.Errorf("cannot reach paperd at %s: %w", server, err)
	}
	return err
}
