package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/smtp"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	subscriptionv1 "github.com/papercatalog/papers/gen/papers/subscription/v1"
	"github.com/papercatalog/papers/mailer/smtptest"
	"github.com/papercatalog/papers/repository"
	"github.com/papercatalog/papers/repository/mongo"
)

// digestResult is the digest section of the benchmark.
type digestResult struct {
	Subscribers int     `json:"subscribers"`
	Papers      int     `json:"papers"`
	Sent        int64   `json:"sent"`
	Skipped     int64   `json:"skipped"`
	Failed      int64   `json:"failed"`
	DigestSecs  float64 `json:"digest_s"`
	DigestRate  float64 `json:"digest_msgs_per_s"`
	BareSecs    float64 `json:"bare_loop_s"`
	BareRate    float64 `json:"bare_loop_msgs_per_s"`
	Ratio       float64 `json:"digest_vs_bare_loop"`
	MeanBytes   int     `json:"mean_message_bytes"`
	RerunSent   int64   `json:"rerun_sent"`
	RerunSecs   float64 `json:"rerun_s"`
	// CPU time per mail: paperd's, and this process's (the SMTP sink and the
	// embedded FerretDB) during the digest run; this process's (sink and client)
	// during the bare loop.
	PaperdCPUus   float64 `json:"paperd_cpu_us_per_mail"`
	SinkDBCPUus   float64 `json:"sink_and_db_cpu_us_per_mail"`
	BareLoopCPUus float64 `json:"bare_loop_cpu_us_per_mail"`
}

// digestBench sends one edition to subs confirmed subscribers with varied topics
// through paperd's SendDigests, to an SMTP sink on loopback, then sends the very
// messages the sink received again with a bare loop (net/smtp, one connection,
// nothing else) to the same sink, and compares the rates.
func digestBench(ctx context.Context, bin, tmp string, voc *vocabulary, subs, nPapers int, logf func(string, ...any)) (digestResult, error) {
	res := digestResult{Subscribers: subs, Papers: nPapers}
	db, uri, stop, err := startDB(ctx, filepath.Join(tmp, "digest-db"))
	if err != nil {
		return res, err
	}
	defer stop()
	now := time.Now().UTC()
	edition := now.Truncate(24 * time.Hour)
	if err := seedDigest(ctx, db, voc, subs, nPapers, edition); err != nil {
		return res, err
	}
	sink, err := smtptest.Start("", "")
	if err != nil {
		return res, err
	}
	defer sink.Close()

	proc, err := startPaperd(ctx, bin, filepath.Join(tmp, "digest-paperd"), 5*time.Minute, "MONGODB_URI="+uri,
		"PAPERD_ADMIN_TOKENS="+importToken, "SMTP_URL=smtp://"+sink.Addr+"?tls=none",
		"PAPERD_PUBLIC_URL=https://papers.example", "PAPERD_MAIL_FROM=Paper Catalog <papers@papers.example>",
		// The scheduler's lease is cut into slots of 3 intervals: with 8h, its
		// slots are the 24h ones seedDigest holds, so paperd's scheduler stays out.
		"PAPERD_DIGEST_INTERVAL=8h")
	if err != nil {
		return res, err
	}
	defer proc.stop()
	settle(ctx, proc.pid(), time.Minute)
	conn := proc.conn
	client := subscriptionv1.NewSubscriptionServiceClient(conn)
	actx := admin(ctx)
	req := &subscriptionv1.SendDigestsRequest{Edition: edition.Format(time.DateOnly)}

	pd, me := cpuTime(proc.pid()), cpuTime(os.Getpid())
	began := time.Now()
	resp, err := client.SendDigests(actx, req)
	took := time.Since(began)
	pd, me = cpuTime(proc.pid())-pd, cpuTime(os.Getpid())-me
	if err != nil {
		return res, fmt.Errorf("SendDigests: %w", err)
	}
	msgs := sink.Messages()
	res.Sent, res.Skipped, res.Failed = resp.GetSent(), resp.GetSkipped(), resp.GetFailed()
	if res.Failed != 0 || int(res.Sent) != len(msgs) || int(res.Sent+res.Skipped) != subs || res.Sent < int64(subs)/2 {
		return res, fmt.Errorf("SendDigests answered sent %d, skipped %d, failed %d for %d subscribers; the sink holds %d messages",
			res.Sent, res.Skipped, res.Failed, subs, len(msgs))
	}
	// A rerun of the same edition sends nothing.
	began = time.Now()
	again, err := client.SendDigests(actx, req)
	if err != nil {
		return res, fmt.Errorf("SendDigests, again: %w", err)
	}
	res.RerunSecs, res.RerunSent = time.Since(began).Seconds(), again.GetSent()
	if again.GetSent() != 0 || len(sink.Messages()) != len(msgs) {
		return res, fmt.Errorf("the rerun of the edition sent %d more", len(sink.Messages())-len(msgs))
	}
	logf("paperd sent %d digests (%d subscribers without matching papers skipped) in %v; a rerun sent none in %v",
		res.Sent, res.Skipped, took.Round(time.Millisecond), time.Duration(res.RerunSecs*float64(time.Second)).Round(time.Millisecond))

	bareCPU := cpuTime(os.Getpid())
	bare, err := bareSendLoop(sink.Addr, msgs)
	if err != nil {
		return res, fmt.Errorf("bare send loop: %w", err)
	}
	bareCPU = cpuTime(os.Getpid()) - bareCPU
	if got := len(sink.Messages()); got != 2*len(msgs) {
		return res, fmt.Errorf("the bare loop delivered %d of %d messages", got-len(msgs), len(msgs))
	}
	total := 0
	for _, m := range msgs {
		total += len(m.Data)
	}
	res.MeanBytes = total / max(len(msgs), 1)
	res.DigestSecs, res.BareSecs = took.Seconds(), bare.Seconds()
	res.DigestRate, res.BareRate = float64(res.Sent)/took.Seconds(), float64(len(msgs))/bare.Seconds()
	res.Ratio = res.DigestRate / res.BareRate
	res.PaperdCPUus, res.SinkDBCPUus = perRequest(pd, res.Sent), perRequest(me, res.Sent)
	res.BareLoopCPUus = perRequest(bareCPU, int64(len(msgs)))
	logf("a bare send loop of the same %d messages took %v", len(msgs), bare.Round(time.Millisecond))
	return res, nil
}

func runDigestBench(ctx context.Context, o options, bin, tmp string, voc *vocabulary, logf func(string, ...any)) (digestResult, error) {
	logf("sending a digest edition to %d subscribers through SendDigests, and the same messages with a bare SMTP loop", o.digestSubs)
	dig, err := digestBench(ctx, bin, tmp, voc, o.digestSubs, o.digestPapers, logf)
	if err != nil {
		return dig, fmt.Errorf("digest: %w", err)
	}
	return dig, nil
}

// err is nil: the section's checks fail the run as they happen.
func (digestResult) err() error { return nil }

func (d digestResult) print(out io.Writer) {
	_, _ = fmt.Fprintf(out, "digest: %d subscribers, %d mails sent (%d without matching papers skipped, %d failed), mean %d bytes, in %.1fs: %.0f mails/s; a bare SMTP loop of the same mails to the same sink: %.0f mails/s; %.2fx (target >= 0.5); a rerun of the edition sent %d in %.1fs; CPU per mail: paperd %.0f µs + sink and FerretDB %.0f µs, bare loop and sink %.0f µs\n",
		d.Subscribers, d.Sent, d.Skipped, d.Failed, d.MeanBytes, d.DigestSecs, d.DigestRate, d.BareRate, d.Ratio, d.RerunSent, d.RerunSecs,
		d.PaperdCPUus, d.SinkDBCPUus, d.BareLoopCPUus)
}

// bareSendLoop sends each message as it is, over one SMTP connection: MAIL, RCPT,
// DATA and nothing else. It is the cost of the mail itself.
func bareSendLoop(addr string, msgs []smtptest.Message) (time.Duration, error) {
	began := time.Now()
	c, err := smtp.Dial(addr)
	if err != nil {
		return 0, err
	}
	defer func() { _ = c.Close() }()
	if err := c.Hello("localhost"); err != nil {
		return 0, err
	}
	for _, m := range msgs {
		if err := c.Mail(m.From); err != nil {
			return 0, err
		}
		for _, to := range m.To {
			if err := c.Rcpt(to); err != nil {
				return 0, err
			}
		}
		w, err := c.Data()
		if err != nil {
			return 0, err
		}
		if _, err := w.Write(m.Data); err != nil {
			return 0, err
		}
		if err := w.Close(); err != nil {
			return 0, err
		}
	}
	if err := c.Quit(); err != nil {
		return 0, err
	}
	return time.Since(began), nil
}

// seedDigest stores papers submitted over the week before the edition and subs
// confirmed subscriptions with varied topics, all due on the edition's day.
func seedDigest(ctx context.Context, db *mongo.DB, voc *vocabulary, subs, nPapers int, edition time.Time) error {
	r := rand.New(rand.NewPCG(11, 12)) //nolint:gosec // benchmark data
	papers := generate(voc, nPapers, 11)
	week := int64(7 * 24 * time.Hour)
	for _, p := range papers {
		p.SubmitTime = edition.Add(23 * time.Hour).Add(-time.Duration(r.Int64N(week))).Truncate(time.Millisecond)
		p.PublishedTime, p.CreateTime, p.UpdateTime = p.SubmitTime, p.SubmitTime, p.SubmitTime
	}
	if err := insertPapers(ctx, db, papers); err != nil {
		return err
	}
	// Topics: a few hundred distinct words as queries (subscribers share popular
	// topics), categories, organizations, upvote thresholds, or nothing.
	var words []string
	for len(words) < 300 {
		if w := voc.words[r.IntN(len(voc.words))]; len(w) >= 6 && strings.IndexFunc(w, func(c rune) bool { return c < 'a' || c > 'z' }) < 0 {
			words = append(words, w)
		}
	}
	zones := []string{"UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "Asia/Kolkata", "America/Los_Angeles"}
	sstore := mongo.NewSubscriptions(db)
	for i := range subs {
		s := &repository.Subscription{
			ID: "bench" + strconv.Itoa(i), Email: fmt.Sprintf("reader%d@example.org", i), State: repository.SubscriptionActive,
			Frequency: "daily", Weekdays: []time.Weekday{0, 1, 2, 3, 4, 5, 6}, SendHour: 23, TimeZone: zones[i%len(zones)],
			MaxPapers: 5 + r.IntN(16), CreateTime: edition, ConfirmTime: edition, UpdateTime: edition,
			ManageHash: fmt.Sprintf("benchhash%d", i), ManageGeneration: 1, Version: 2,
		}
		if i%4 == 0 {
			s.Frequency, s.Weekdays = "weekly", []time.Weekday{edition.Weekday()}
		}
		switch i % 5 {
		case 0, 1:
			s.Query = words[r.IntN(len(words))]
		case 2:
			s.Categories = []string{mlCategories[r.IntN(len(mlCategories))].name}
		case 3:
			s.Organizations = []string{orgs[r.IntN(len(orgs))].ID, orgs[r.IntN(len(orgs))].ID}
		}
		if r.IntN(3) == 0 {
			s.MinUpvotes = int64(r.IntN(20))
		}
		if err := sstore.Create(ctx, s); err != nil {
			return err
		}
	}
	// paperd's scheduler would send the same edition by itself when the send
	// hours come (23:00 in New York is 04:00 UTC); holding its lease keeps it
	// out of the measurement. The lease is held in slots of 24h, which paperd
	// uses when its digest interval is 8h (see digestBench).
	held, err := db.AcquireLease(ctx, "digest_scheduler", "paperbench", time.Now(), 24*time.Hour)
	if err != nil || !held {
		return fmt.Errorf("take the digest scheduler's lease: held %v, %w", held, err)
	}
	return nil
}
