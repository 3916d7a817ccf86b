package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

// command is one of paperctl's commands: what its help says, the flags it takes
// and what it does.
type command struct {
	name     string
	args     string // the positional arguments in the usage line
	summary  string // one line, for the list of commands
	about    string // paragraphs after the usage line
	examples string
	flags    func(fs *flag.FlagSet, o *options)
	// complete is what a shell completes the positional arguments with: "files",
	// a list of words, or nothing.
	complete []string
	// exits adds the exit statuses to the help.
	exits bool
	run   func(ctx context.Context, std streams, o *options, pos []string) error
}

// commands are paperctl's commands, in the order the help lists them.
var commands []*command

func init() {
	// Set here rather than in the declaration: the commands' run functions
	// refer to the table (completion, help).
	commands = []*command{importCommand, getCommand, listCommand, searchCommand, dailyCommand, trendingCommand,
		userTokenCommand, completionCommand, versionCommand, helpCommand}
}

func readFlags(extra func(fs *flag.FlagSet, o *options)) func(fs *flag.FlagSet, o *options) {
	return func(fs *flag.FlagSet, o *options) {
		connFlags(fs, o)
		fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "deadline of the call")
		if extra != nil {
			extra(fs, o)
		}
	}
}

func filterFlag(fs *flag.FlagSet, o *options) {
	fs.StringVar(&o.filter, "filter", "", "AIP-160 `filter`, e.g. 'categories:\"cs.LG\" AND upvotes >= 10'")
}

func orderFlag(fs *flag.FlagSet, o *options) {
	fs.StringVar(&o.orderBy, "order-by", "", "`order`, e.g. 'upvotes desc, submit_time desc'")
}

func pageFlags(fs *flag.FlagSet, o *options) {
	fs.IntVar(&o.pageSize, "page-size", 20, "papers per page, at most 1000")
	fs.StringVar(&o.pageToken, "page-token", "", "`token` of the next page, as a previous call printed it")
}

var importCommand = &command{
	name:    "import",
	args:    "FILE|-",
	summary: "stream papers from a file (arXiv snapshot, arXiv API, daily-papers JSON) to paperd",
	about: `Reads FILE (or standard input for -), gzip-compressed or not, detects its
format from the content unless --format says, and streams the papers to paperd,
which creates new papers and updates known ones (importing the same input again
changes nothing). Formats: arxiv-oai (arXiv's metadata snapshot, one JSON object
a line), arxiv-atom (an arXiv API response), hf-daily (a daily-papers JSON array).

Needs an admin token (--token or PAPERCTL_TOKEN). Unreadable records are reported
with their line numbers and skipped; records paperd rejects are reported with
their position and reason. Progress goes to standard error: a bar on a terminal
(read and sent counts, and a percentage and ETA for a file), a line every 10
seconds otherwise; once the input is read, it says it waits for paperd to finish
storing what was sent. The summary goes to standard output (--json: paperd's
answer as JSON).`,
	examples: `  paperctl import testdata/sample-arxiv.jsonl --token dev-admin-token
  paperctl import arxiv-metadata-oai-snapshot.json.gz --progress lines
  curl -s 'https://export.arxiv.org/api/query?search_query=cat:cs.CL' | paperctl import - --format arxiv-atom
  paperctl import papers.jsonl.gz; [ $? = 3 ] && echo "some records were not imported"`,
	flags: func(fs *flag.FlagSet, o *options) {
		connFlags(fs, o)
		fs.StringVar(&o.token, "token", os.Getenv("PAPERCTL_TOKEN"), "admin `token`; env PAPERCTL_TOKEN")
		fs.StringVar(&o.format, "format", "", "input `format`: arxiv-oai, arxiv-atom or hf-daily (default: detected)")
		fs.StringVar(&o.progress, "progress", "auto", "progress `display`: auto (a bar on a terminal, lines otherwise), bar, lines or none")
	},
	complete: []string{"files"},
	exits:    true,
	run:      importCmd,
}

var getCommand = &command{
	name:    "get",
	args:    "PAPER",
	summary: "show one paper",
	about: `Shows the paper with arXiv id PAPER (0704.0001, hep-th/9901001) or resource
name (papers/0704.0001): its metadata and abstract.`,
	examples: `  paperctl get 0704.0001
  paperctl get hep-th/9901001 --json`,
	flags: readFlags(nil),
	run:   readCmd("get"),
}

var listCommand = &command{
	name:    "list",
	summary: "list papers with a filter and an order",
	about: `Lists papers, a page at a time, newest submission first unless --order-by
says otherwise. The filter is AIP-160 over organization, categories,
primary_category, authors, submitter, submit_time, published_time, upvotes and
github_repo; the order is over submit_time, published_time, upvotes,
create_time, update_time, title and name.`,
	examples: `  paperctl list --filter 'categories:"hep-ph"' --order-by 'published_time desc' --page-size 5
  paperctl list --filter 'upvotes >= 10 AND submit_time > "2024-03-01T00:00:00Z"'
  paperctl list --page-token TOKEN   # the next page, as the previous call printed`,
	flags: readFlags(func(fs *flag.FlagSet, o *options) { filterFlag(fs, o); orderFlag(fs, o); pageFlags(fs, o) }),
	run:   readCmd("list"),
}

var searchCommand = &command{
	name:    "search",
	args:    "QUERY...",
	summary: "search papers by relevance",
	about: `Searches title, abstract, authors, keywords and organization; the words of
QUERY are one query: words, "quoted phrases", -excluded terms, the prefixes
title:, abstract:, author:, keyword:, organization:, and a few wildcards
(quantiz*), regular expressions and fuzzy words (transformr~1).`,
	examples: `  paperctl search diphoton production
  paperctl search 'title:transformer -audio' --filter 'categories:"cs.CV"'`,
	flags: readFlags(func(fs *flag.FlagSet, o *options) { filterFlag(fs, o); pageFlags(fs, o) }),
	run:   readCmd("search"),
}

var dailyCommand = &command{
	name:    "daily",
	summary: "list the papers of a day, week or month",
	about: `Lists the papers submitted in one day (--date), ISO week (--week) or month
(--month), in a time zone (default UTC). Exactly one of --date, --week and
--month is needed.`,
	examples: `  paperctl daily --date 2024-03-05
  paperctl daily --week 2024-W10 --order-by 'upvotes desc'
  paperctl daily --month 2007-04 --time-zone Europe/Paris`,
	flags: readFlags(func(fs *flag.FlagSet, o *options) {
		fs.StringVar(&o.date, "date", "", "a `day`, YYYY-MM-DD")
		fs.StringVar(&o.week, "week", "", "an ISO `week`, YYYY-Www")
		fs.StringVar(&o.month, "month", "", "a `month`, YYYY-MM")
		fs.StringVar(&o.zone, "time-zone", "", "IANA time `zone`, e.g. Europe/Paris (default UTC)")
		filterFlag(fs, o)
		orderFlag(fs, o)
		pageFlags(fs, o)
	}),
	run: readCmd("daily"),
}

var trendingCommand = &command{
	name:    "trending",
	summary: "list trending papers",
	about: `Lists the papers submitted within --window, ranked by
upvotes / (age_hours + 2) ^ 1.8, with each paper's score.`,
	examples: `  paperctl trending
  paperctl trending --window 720h --filter 'categories:"cs.LG"' --json`,
	flags: readFlags(func(fs *flag.FlagSet, o *options) {
		fs.DurationVar(&o.window, "window", 0, "how far back, e.g. 72h (default 168h)")
		filterFlag(fs, o)
		pageFlags(fs, o)
	}),
	run: readCmd("trending"),
}

var completionCommand = &command{
	name:    "completion",
	args:    "bash|zsh|fish",
	summary: "print a shell completion script",
	about: `Prints a script that completes paperctl's commands, flags, formats and file
names in the shell named.`,
	examples: `  source <(paperctl completion bash)        # bash, now; or save it as
  paperctl completion bash > ~/.local/share/bash-completion/completions/paperctl
  source <(paperctl completion zsh)         # zsh, after compinit; or save it
  paperctl completion zsh > "${fpath[1]}/_paperctl"   # as _paperctl in a directory of $fpath
  paperctl completion fish > ~/.config/fish/completions/paperctl.fish`,
	flags:    func(*flag.FlagSet, *options) {},
	complete: []string{"bash", "zsh", "fish"},
	run:      completionCmd,
}

var versionCommand = &command{
	name:    "version",
	summary: "print paperctl's version, VCS revision and Go version (also --version)",
	about: `Prints the module version paperctl was built as (or the one set with
-ldflags "-X main.version=..."), the VCS revision and time it was built from, and
the Go toolchain. A binary built with go build in a checkout has the revision;
go run has none.`,
	examples: `  paperctl --version
  go build -ldflags "-X main.version=$(git describe --tags --always)" ./cmd/paperctl`,
	flags: func(*flag.FlagSet, *options) {},
	run: func(_ context.Context, std streams, _ *options, pos []string) error {
		if len(pos) != 0 {
			return fmt.Errorf("%w: version takes no arguments", errUsage)
		}
		_, _ = fmt.Fprint(std.stdout, versionText())
		return nil
	},
}

var helpCommand = &command{
	name:     "help",
	args:     "[COMMAND]",
	summary:  "show this list, or a command's help (also COMMAND --help)",
	examples: `  paperctl help import`,
	flags:    func(*flag.FlagSet, *options) {},
	// run handles `help` itself; this is for completion and the list.
	run: func(context.Context, streams, *options, []string) error { return nil },
}

func (c *command) flagSet() (*flag.FlagSet, *options) {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	o := &options{}
	c.flags(fs, o)
	return fs, o
}

func (c *command) usageLine() string {
	line := "paperctl " + c.name
	if c.args != "" {
		line += " " + c.args
	}
	fs, _ := c.flagSet()
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		line += " [flags]"
	}
	return line
}

// help is what `paperctl COMMAND --help` prints.
func (c *command) help() string {
	var b strings.Builder
	fmt.Fprintf(&b, "paperctl %s: %s\n\nUsage:\n  %s\n", c.name, c.summary, c.usageLine())
	if c.about != "" {
		fmt.Fprintf(&b, "\n%s\n", c.about)
	}
	fs, _ := c.flagSet()
	if flags := flagTable(fs); flags != "" {
		fmt.Fprintf(&b, "\nFlags:\n%s", flags)
	}
	if c.examples != "" {
		fmt.Fprintf(&b, "\nExamples:\n%s\n", c.examples)
	}
	if c.exits {
		fmt.Fprintf(&b, "\n%s", exitStatuses)
	}
	return b.String()
}

// flagTable lists a flag set's flags with their value names, defaults and usage.
func flagTable(fs *flag.FlagSet) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 3, ' ', 0)
	fs.VisitAll(func(f *flag.Flag) {
		value, usage := flag.UnquoteUsage(f)
		name := "--" + f.Name
		if value != "" {
			name += " " + strings.ToUpper(value)
		}
		switch f.DefValue {
		case "", "false", "0", "0s":
		default:
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		_, _ = fmt.Fprintf(tw, "  %s\t%s\n", name, usage)
	})
	_ = tw.Flush()
	return b.String()
}

// globalHelp is what `paperctl help` prints.
func globalHelp() string {
	var b strings.Builder
	b.WriteString(`paperctl is paperd's command-line client: it imports papers and shows them,
talking to paperd over gRPC.

Usage:
  paperctl COMMAND [ARGUMENTS] [flags]
  paperctl COMMAND --help     the command's flags and examples

Commands:
`)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, c := range commands {
		_, _ = fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
	}
	_ = tw.Flush()
	b.WriteString(`
Flags of the commands that talk to paperd (flags go before or after arguments):
  --server ADDRESS   paperd's gRPC address (env PAPERCTL_SERVER, default localhost:9090)
  --tls              connect with TLS (system roots, or --tls-ca)
  --tls-ca FILE      PEM file of the CA that signed paperd's certificate (implies --tls)
  --json             print the response as JSON instead of a table
  --token TOKEN      import: the admin token (env PAPERCTL_TOKEN)
  --timeout D        get, list, search, daily, trending: deadline of the call (default 30s)

`)
	b.WriteString(exitStatuses)
	b.WriteString(`
Examples:
  paperctl import testdata/sample-arxiv.jsonl --token dev-admin-token
  paperctl search diphoton production
  paperctl user-token --user alice     # with PAPERD_JWT_SECRET set as for paperd
  source <(paperctl completion bash)
`)
	return b.String()
}
