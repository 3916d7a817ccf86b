package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
)

// row is one line of a table of papers.
type row struct {
	paper *catalogv1.Paper
	extra string // score, trending score
}

// readCmd returns the run function of a command that reads from paperd.
func readCmd(cmd string) func(ctx context.Context, std streams, o *options, pos []string) error {
	return func(ctx context.Context, std streams, o *options, pos []string) error {
		return read(ctx, cmd, std.stdout, o, pos)
	}
}

func read(ctx context.Context, cmd string, stdout io.Writer, c *options, pos []string) error {
	want := map[string]int{"get": 1, "search": 1}[cmd]
	if cmd == "search" && len(pos) > 1 {
		pos = []string{strings.Join(pos, " ")}
	}
	if len(pos) != want {
		return fmt.Errorf("%w: %s takes %d argument(s), got %d", errUsage, cmd, want, len(pos))
	}
	client, closeConn, err := catalogClient(c)
	if err != nil {
		return err
	}
	defer closeConn()
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	var resp proto.Message
	var rows []row
	next := ""
	size := int32(min(max(c.pageSize, 0), 1000)) //nolint:gosec // clamped
	switch cmd {
	case "get":
		name := pos[0]
		if !strings.HasPrefix(name, "papers/") {
			name = "papers/" + strings.Replace(name, "/", "-", 1)
		}
		p, err := client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: name})
		if err != nil {
			return describe(c.server, err)
		}
		if !c.json {
			printPaper(stdout, p)
			return nil
		}
		resp = p
	case "list":
		r, err := client.ListPapers(ctx, &catalogv1.ListPapersRequest{Filter: c.filter, OrderBy: c.orderBy, PageSize: size, PageToken: c.pageToken})
		if err != nil {
			return describe(c.server, err)
		}
		resp, next, rows = listed(r, r.GetPapers(), paperRow)
	case "search":
		r, err := client.SearchPapers(ctx, &catalogv1.SearchPapersRequest{Query: pos[0], Filter: c.filter, PageSize: size, PageToken: c.pageToken})
		if err != nil {
			return describe(c.server, err)
		}
		resp, next, rows = listed(r, r.GetResults(), func(res *catalogv1.SearchResult) row {
			return row{paper: res.GetPaper(), extra: strconv.FormatFloat(res.GetScore(), 'f', 2, 64)}
		})
	case "daily":
		r, err := client.ListDailyPapers(ctx, &catalogv1.ListDailyPapersRequest{Date: c.date, Week: c.week, Month: c.month,
			TimeZone: c.zone, Filter: c.filter, OrderBy: c.orderBy, PageSize: size, PageToken: c.pageToken})
		if err != nil {
			return describe(c.server, err)
		}
		resp, next, rows = listed(r, r.GetPapers(), paperRow)
	case "trending":
		req := &catalogv1.ListTrendingPapersRequest{Filter: c.filter, PageSize: size, PageToken: c.pageToken}
		if c.window != 0 {
			req.Window = durationpb.New(c.window)
		}
		r, err := client.ListTrendingPapers(ctx, req)
		if err != nil {
			return describe(c.server, err)
		}
		resp, next, rows = listed(r, r.GetPapers(), func(t *catalogv1.TrendingPaper) row {
			return row{paper: t.GetPaper(), extra: strconv.FormatFloat(t.GetTrendingScore(), 'f', 3, 64)}
		})
	}
	if c.json {
		b, err := protojson.MarshalOptions{Multiline: true, UseProtoNames: true}.Marshal(resp)
		if err != nil {
			return err
		}
		_, _ = fmt.Fprintln(stdout, string(b))
		return nil
	}
	extra := map[string]string{"search": "SCORE", "trending": "TRENDING"}[cmd]
	printTable(stdout, rows, extra)
	if next != "" {
		_, _ = fmt.Fprintf(stdout, "next page: --page-token %s\n", next)
	}
	return nil
}

// page is a list call's response: it has a next page token.
type page interface {
	proto.Message
	GetNextPageToken() string
}

// listed returns what read shows of a list call's response r: r itself, the
// token of its next page, and its items, each made a row by toRow.
func listed[E any](r page, items []E, toRow func(E) row) (proto.Message, string, []row) {
	rows := make([]row, 0, len(items))
	for _, it := range items {
		rows = append(rows, toRow(it))
	}
	return r, r.GetNextPageToken(), rows
}

// paperRow is the row of a listed paper, with nothing beside it.
func paperRow(p *catalogv1.Paper) row { return row{paper: p} }

func printTable(out io.Writer, rows []row, extra string) {
	if len(rows) == 0 {
		_, _ = fmt.Fprintln(out, "no papers")
		return
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	head := "ID\tSUBMITTED\tUPVOTES\t"
	if extra != "" {
		head += extra + "\t"
	}
	_, _ = fmt.Fprintln(tw, head+"TITLE")
	for _, r := range rows {
		p := r.paper
		line := fmt.Sprintf("%s\t%s\t%d\t", p.GetArxivId(), day(p.GetSubmitTime().AsTime()), p.GetUpvotes())
		if extra != "" {
			line += r.extra + "\t"
		}
		_, _ = fmt.Fprintln(tw, line+clip(p.GetTitle(), 80))
	}
	_ = tw.Flush()
}

func printPaper(out io.Writer, p *catalogv1.Paper) {
	var authors []string
	for _, a := range p.GetAuthors() {
		authors = append(authors, a.GetName())
	}
	id := p.GetArxivId()
	if p.GetArxivVersion() > 0 {
		id += fmt.Sprintf(" (v%d)", p.GetArxivVersion())
	}
	lines := [][2]string{
		{"id", id},
		{"title", p.GetTitle()},
		{"authors", strings.Join(authors, ", ")},
		{"organization", p.GetOrganization().GetDisplayName()},
		{"categories", strings.Join(p.GetCategories(), " ")},
		{"published", day(p.GetPublishedTime().AsTime())},
		{"submitted", day(p.GetSubmitTime().AsTime())},
		{"upvotes", strconv.FormatInt(p.GetUpvotes(), 10)},
		{"github", p.GetGithubRepo()},
		{"pdf", p.GetPdfUrl()},
		{"doi", p.GetDoi()},
		{"journal", p.GetJournalRef()},
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, l := range lines {
		if strings.TrimSpace(l[1]) != "" && l[1] != "-" {
			_, _ = fmt.Fprintf(tw, "%s\t%s\n", l[0], l[1])
		}
	}
	_ = tw.Flush()
	if p.GetAbstract() != "" {
		_, _ = fmt.Fprintf(out, "\n%s\n", p.GetAbstract())
	}
}

func day(t time.Time) string {
	if t.IsZero() || t.Unix() == 0 {
		return "-"
	}
	return t.UTC().Format(time.DateOnly)
}

func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
