// Command paperbench is the benchmark behind `make bench`. It seeds an embedded
// catalog with generated papers, starts paperd on it as a separate process, loads it
// with ghz (gRPC) and hey (REST) from other processes, and prints a table and, as
// its last line, one JSON object with requests per second and p50/p99 latency of
// each call plus paperd's peak RSS. Speeds are reported as ratios against the
// grpc.health.v1 Check baseline measured in the same run.
package main

import (
	"context"
	crand "crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/papercatalog/papers/embedded"
	"github.com/papercatalog/papers/repository"
	"github.com/papercatalog/papers/repository/mongo"
)

// benchSecret signs the benchmark's user token (HS256); a new one every run.
var benchSecret = crand.Text() + crand.Text()

const (
	ghzModule = "github.com/bojand/ghz/cmd/ghz@v0.93.0"
	heyModule = "github.com/rakyll/hey@v0.1.5"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "paperbench:", err)
		os.Exit(1)
	}
}

type options struct {
	pid           int // paperd's process id
	papers        int
	votes         int
	importPapers  int
	snapshotLines int
	scale         int
	idleWait      time.Duration
	keepData      string
	duration      time.Duration
	concurrency   int
	sample        string
	digestSubs    int
	digestPapers  int
	only          string
	calls         string
	mixedDuration time.Duration
	mixedWorkers  int
	mixedImport   int
	advClients    int
	advDuration   time.Duration
}

// module is the module whose commands paperbench builds.
const module = "github.com/papercatalog/papers"

// report is a section's outcome: printed as figures, and put in the JSON line.
type report interface {
	print(out io.Writer)
	// err is the section's verdict: nil when it passed its checks.
	err() error
}

// sectionFunc runs one section of the benchmark with paperd's binary in bin and
// its files under tmp.
type sectionFunc func(ctx context.Context, o options, bin, tmp string, voc *vocabulary, logf func(string, ...any)) (report, error)

// section adapts a section's run function to a sectionFunc.
func section[R report](run func(context.Context, options, string, string, *vocabulary, func(string, ...any)) (R, error)) sectionFunc {
	return func(ctx context.Context, o options, bin, tmp string, voc *vocabulary, logf func(string, ...any)) (report, error) {
		return run(ctx, o, bin, tmp, voc, logf)
	}
}

// namedSection is a section -only can name.
type namedSection struct {
	name string
	run  sectionFunc
}

// sections are those -only runs alone, by name; a whole run runs them after the
// catalog and import sections, in this order.
var sections = []namedSection{
	{"digest", section(runDigestBench)},
	{"mixed", section(runMixedBench)},
	{"adversarial", section(runAdversarialBench)},
}

func run(ctx context.Context, args []string, out io.Writer) error {
	var o options
	fs := flag.NewFlagSet("paperbench", flag.ContinueOnError)
	fs.IntVar(&o.papers, "papers", 50000, "number of generated papers")
	fs.IntVar(&o.votes, "votes", 500000, "number of generated upvotes")
	fs.IntVar(&o.importPapers, "import-papers", 20000, "number of generated papers to import")
	fs.IntVar(&o.snapshotLines, "snapshot-lines", 0, "instead of everything else, import a generated arXiv snapshot of this many lines twice with paperctl and report memory (make bench-import)")
	fs.IntVar(&o.scale, "scale", 0, "instead of everything else, import a generated arXiv-shaped snapshot of this many records with paperctl and measure memory, restarts, disk and calls against issue 16's targets (make bench-scale)")
	fs.DurationVar(&o.idleWait, "idle-wait", 20*time.Second, "with -scale: how long paperd stays idle, after it first is, before its RSS once idle is read (it returns the memory a burst of work freed once the burst is over, checking every 5 s)")
	fs.StringVar(&o.keepData, "keep-data", "", "with -scale: move paperd's data directory here at the end (it must not exist), to look into it or start a paperd on it later")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "duration of each measured run")
	fs.IntVar(&o.concurrency, "concurrency", 16, "concurrent clients")
	fs.StringVar(&o.sample, "sample", sampleFile, "arXiv metadata sample to take the vocabulary from")
	fs.IntVar(&o.digestSubs, "digest-subscribers", 10000, "confirmed subscribers of the digest run")
	fs.IntVar(&o.digestPapers, "digest-papers", 5000, "papers submitted over the week of the digest run")
	fs.StringVar(&o.calls, "calls", "", "run the catalog section alone, with only the calls whose name matches this regular expression (and the baseline, GetPaper and ListPapers the ratios need)")
	fs.StringVar(&o.only, "only", "", `run one section alone: "import", "digest", "mixed" or "adversarial"`)
	fs.DurationVar(&o.mixedDuration, "mixed-duration", 60*time.Second, "duration of the mixed-load run")
	fs.IntVar(&o.mixedWorkers, "mixed-workers", 16, "concurrent workers of the mixed-load run")
	fs.IntVar(&o.mixedImport, "mixed-import", 3000, "generated papers imported through one ImportPapers stream during the mixed-load run")
	fs.IntVar(&o.advClients, "adversarial-clients", 8, "clients sending expensive searches in the adversarial-search run")
	fs.DurationVar(&o.advDuration, "adversarial-duration", 20*time.Second, "how long the adversarial clients send searches")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logf := func(format string, a ...any) { _, _ = fmt.Fprintf(out, "# "+format+"\n", a...) }
	var only sectionFunc
	if o.only != "" {
		var names []string
		// The import section also runs alone; a whole run runs it beside the
		// catalog section, whose figures it shares.
		for _, s := range append([]namedSection{{"import", section(runImportBench)}}, sections...) {
			names = append(names, s.name)
			if s.name == o.only {
				only = s.run
			}
		}
		if only == nil {
			return fmt.Errorf("-only %q: the sections are: %s", o.only, strings.Join(names, ", "))
		}
	}

	tmp, err := os.MkdirTemp("", "paperbench-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(tmp) }()

	logf("building paperd")
	bin := filepath.Join(tmp, "bin")
	if err := sh(ctx, "", nil, "go", "build", "-o", filepath.Join(bin, "paperd"), module+"/cmd/paperd"); err != nil {
		return err
	}
	voc, about := loadVocabulary(o.sample)
	if o.scale > 0 {
		return scaleBench(ctx, o, bin, tmp, voc, out, logf)
	}
	if o.snapshotLines > 0 {
		return snapshotBench(ctx, o, bin, tmp, voc, out, logf)
	}
	if only != nil {
		rep, err := only(ctx, o, bin, tmp, voc, logf)
		if err != nil {
			return err
		}
		line, err := json.Marshal(map[string]any{o.only: rep})
		if err != nil {
			return err
		}
		rep.print(out)
		if _, err := fmt.Fprintln(out, string(line)); err != nil {
			return err
		}
		return rep.err()
	}

	logf("building the load tools (ghz, hey)")
	for _, m := range []string{ghzModule, heyModule} {
		if err := sh(ctx, "", []string{"GOBIN=" + bin}, "go", "install", m); err != nil {
			return err
		}
	}
	cat, err := runCatalogBench(ctx, o, bin, tmp, voc, about, logf)
	if err != nil {
		return err
	}
	if o.calls != "" {
		line, err := json.Marshal(map[string]any{"calls": cat.calls, "ratios": cat.print(out, importResult{})})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(out, string(line))
		return err
	}
	logf("importing %d generated papers through ImportPapers and with raw InsertMany", o.importPapers)
	imp, err := importBench(ctx, bin, tmp, voc, o.importPapers, logf)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	summary := map[string]any{
		"papers": o.papers, "concurrency": o.concurrency, "duration_s": o.duration.Seconds(),
		"startup_ready_s": cat.startup.Seconds(), "first_start_ready_s": cat.firstStart.Seconds(),
		"index_deleted_ready_s": cat.rebuildStart.Seconds(), "votes": o.votes, "import": imp,
		"peak_rss_bytes": cat.rss, "calls": cat.calls,
	}
	reports := make([]report, len(sections))
	for i, s := range sections {
		if reports[i], err = s.run(ctx, o, bin, tmp, voc, logf); err != nil {
			return err
		}
		summary[s.name] = reports[i]
	}
	summary["ratios"] = cat.print(out, imp)
	var verdicts []error
	for _, r := range reports {
		r.print(out)
		verdicts = append(verdicts, r.err())
	}
	line, err := json.Marshal(summary)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(out, string(line)); err != nil {
		return err
	}
	// After the JSON line, so a failed run still reports everything.
	return errors.Join(verdicts...)
}

// seed writes papers and votes into a fresh embedded database in dir, in batches,
// as an import would, without going through paperd.
func seed(ctx context.Context, dir string, papers []*repository.Paper, votes []repository.Vote) error {
	db, _, stop, err := startDB(ctx, dir)
	if err != nil {
		return err
	}
	defer stop()
	if err := insertPapers(ctx, db, papers); err != nil {
		return err
	}
	vstore := mongo.NewVotes(db)
	for i := 0; i < len(votes); i += 5000 {
		var batch []repository.VoteRecord
		for _, v := range votes[i:min(i+5000, len(votes))] {
			batch = append(batch, repository.VoteRecord{PaperID: v.PaperID, User: v.User, Added: true, Version: 1})
		}
		if _, err := vstore.RecordVotes(ctx, batch); err != nil {
			return err
		}
	}
	return nil
}

// startDB starts an embedded database with its files in dir, and opens it with
// the catalog's collections and indexes made; it returns the database, its URI
// and the function that closes both.
func startDB(ctx context.Context, dir string) (*mongo.DB, string, func(), error) {
	edb, err := embedded.Start(ctx, dir, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, "", nil, err
	}
	db, err := mongo.Open(edb.URI, "papers")
	if err == nil {
		err = db.Migrate(ctx)
	}
	stop := func() {
		if db != nil {
			_ = db.Close(context.WithoutCancel(ctx))
		}
		edb.Close()
	}
	if err != nil {
		stop()
		return nil, "", nil, err
	}
	return db, edb.URI, stop, nil
}

// insertPapers stores papers with InsertMany, importBatchSize at a time.
func insertPapers(ctx context.Context, db *mongo.DB, papers []*repository.Paper) error {
	store := mongo.NewPapers(db)
	for i := 0; i < len(papers); i += importBatchSize {
		if _, err := store.InsertMany(ctx, papers[i:min(i+importBatchSize, len(papers))]); err != nil {
			return err
		}
	}
	return nil
}

func getRequests(n, count int) []map[string]string {
	out := make([]map[string]string, count)
	for i := range out {
		out[i] = map[string]string{"name": "papers/" + benchID((i*7919)%n)}
	}
	return out
}

// listRequests are the ListPapers requests of the benchmark: a filter over
// category and upvotes with a two-field order, in 20 variants, with the default
// view (BASIC: no abstracts) or the given one.
func listRequests(view string) []map[string]any {
	cats := []string{"cs.LG", "cs.CV", "cs.CL", "cs.AI", "stat.ML"}
	var out []map[string]any
	for _, c := range cats {
		for _, min := range []int{0, 1, 5, 20} {
			req := map[string]any{
				"filter":    fmt.Sprintf(`categories:"%s" AND upvotes >= %d`, c, min),
				"order_by":  "upvotes desc, submit_time desc",
				"page_size": 50,
			}
			if view != "" {
				req["view"] = view
			}
			out = append(out, req)
		}
	}
	return out
}

func writeJSON(dir, name string, v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	return path, os.WriteFile(path, b, 0o600)
}

func sh(ctx context.Context, dir string, env []string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return nil
}

func output(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w\n%s", filepath.Base(name), strings.Join(args, " "), err, b)
	}
	return b, nil
}

// dailyRequests asks for the ISO weeks of the last 20 weeks.
func dailyRequests() []map[string]string {
	var out []map[string]string
	for i := range 20 {
		y, w := time.Now().UTC().AddDate(0, 0, -7*i).ISOWeek()
		out = append(out, map[string]string{"week": fmt.Sprintf("%d-W%02d", y, w)})
	}
	return out
}

// trendingRequests ask for the last 7 days, overall and per category.
func trendingRequests() []map[string]any {
	out := []map[string]any{{}}
	for _, c := range []string{"cs.LG", "cs.CV", "cs.CL", "cs.AI"} {
		out = append(out, map[string]any{"filter": fmt.Sprintf(`categories:"%s"`, c)})
	}
	return out
}

// searchRequests are n two-word queries drawn from the vocabulary's longer words.
// Search pages are cached until the index changes, so the number of distinct
// queries decides how many calls miss that cache.
func searchRequests(v *vocabulary, n int) []map[string]any {
	return searchQueries(v, n, func(words []string, i int) string {
		return words[(i*7)%len(words)] + " " + words[(i*13+5)%len(words)]
	})
}

// newSearchRequests are n two-word queries, no two alike and none among
// searchRequests' 2,000, so that no call is answered from a cache.
func newSearchRequests(v *vocabulary, n int) []map[string]any {
	seen := map[string]bool{}
	for _, q := range searchRequests(v, 2000) {
		seen[q["query"].(string)] = true
	}
	r := rand.New(rand.NewPCG(3, 4)) //nolint:gosec // benchmark data
	return searchQueries(v, n, func(words []string, _ int) string {
		for {
			q := words[r.IntN(len(words))] + " " + words[r.IntN(len(words))]
			if !seen[q] {
				seen[q] = true
				return q
			}
		}
	})
}

func searchQueries(v *vocabulary, n int, pick func(words []string, i int) string) []map[string]any {
	var words []string
	seen := map[string]bool{}
	for _, w := range v.words {
		w = strings.ToLower(strings.Trim(w, ".,;:()[]{}\"'$"))
		if len(w) >= 6 && !seen[w] && strings.IndexFunc(w, func(r rune) bool { return r < 'a' || r > 'z' }) < 0 {
			seen[w] = true
			words = append(words, w)
		}
	}
	out := make([]map[string]any, n)
	for i := range out {
		out[i] = map[string]any{"query": pick(words, i), "page_size": 20}
	}
	return out
}

// userJWT returns a day-long user token for sub, signed with the benchmark's secret.
func userJWT(sub string) (string, error) {
	return jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": sub, "exp": time.Now().Add(24 * time.Hour).Unix(),
	}).SignedString([]byte(benchSecret))
}

func newTable(out io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
}

// percentileMs is the latency under which percent of the sorted latencies lie
// (100: the largest), in milliseconds; 0 for none.
func percentileMs(sorted []time.Duration, percent int) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return float64(sorted[min(len(sorted)*percent/100, len(sorted)-1)]) / float64(time.Millisecond)
}
