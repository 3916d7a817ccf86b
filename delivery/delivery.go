// Package delivery sends subscribers their digests: it claims each delivery
// under a record only one sender can store, sends the mails on several
// workers, keeps their outcomes in a journal until the database has them,
// retries what the mail server could not take for now, and runs the scheduler
// that sends what is due while this replica holds the lease.
package delivery

import (
	"context"
	"errors"
	"iter"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/papercatalog/papers/clock"
	"github.com/papercatalog/papers/digest"
	"github.com/papercatalog/papers/mailer"
	"github.com/papercatalog/papers/repository"
)

// Sender sends digests. Set its fields before the first call; it is safe for
// concurrent use.
type Sender struct {
	Subscriptions repository.Subscriptions
	// Deliveries records each edition sent to each subscriber.
	Deliveries repository.Deliveries
	Mailer     mailer.Mailer
	Log        *slog.Logger
	// Links builds the manage and unsubscribe links of each digest.
	Links Links
	// From is the sender of mails.
	From string
	// Papers selects a subscription's papers for the digest due at a time.
	Papers func(sub *repository.Subscription, at time.Time) ([]*repository.Paper, error)
	// PaperURL is the link of a paper in digests.
	PaperURL func(p *repository.Paper) string
	// Owner names this sender in delivery records; ClaimTimeout is how long a
	// claim of a sender that went away blocks others.
	Owner        string
	ClaimTimeout time.Duration
	// RetryBackoff is the wait before the first retry of a digest the mail
	// server could not take for now (default a minute); it doubles with each
	// attempt, up to an hour.
	RetryBackoff time.Duration
	// Concurrency is how many digests are sent at once (at least one).
	Concurrency int
	// JournalPath is the file where the outcomes of digest deliveries are kept
	// until the database has them (see ReplayJournal); sending digests needs it.
	JournalPath string
	// Clock gives the time of editions due, claims and retries (nil: the
	// system's clock).
	Clock clock.Clock
	// Stats counts deliveries and scheduler rounds.
	Stats Stats

	rendererOnce sync.Once
	renderer     *digest.Renderer // renders each paper once for all digests
	pending      pendingEditions  // editions with deliveries to retry
	journalOnce  sync.Once
	journal      *journal // at JournalPath
}

// Stats counts what a Sender did since it started, for metrics.
type Stats struct {
	// Deliveries by outcome (skipped: nothing matched, or another sender had
	// it).
	Sent, Skipped, Failed atomic.Int64
	// Rounds of the scheduler: those this replica ran holding the lease, and
	// those it left to another replica (or could not ask for the lease). Each
	// is counted once the round is over.
	SchedulerLeading, SchedulerFollowing atomic.Int64
}

// Result counts the deliveries of one call by outcome (skipped: not due,
// nothing matched, or another sender had it).
type Result struct {
	Sent, Skipped, Failed int64
}

// now is the current time as stored: UTC, to the millisecond.
func (s *Sender) now() time.Time {
	return clock.Or(s.Clock).Now().UTC().Truncate(time.Millisecond)
}

// Render builds a subscription's digest of day, or nil when no paper matches,
// and returns the papers in it.
func (s *Sender) Render(sub *repository.Subscription, day time.Time) (*digest.Mail, []*repository.Paper, error) {
	papers, err := s.Papers(sub, EditionTime(sub, day))
	if err != nil || len(papers) == 0 {
		return nil, nil, err
	}
	s.rendererOnce.Do(func() { s.renderer = digest.NewRenderer(s.PaperURL) })
	manage := s.Links.ManageToken(sub.ID, sub.ManageGeneration)
	m, err := s.renderer.Render(day, papers, s.Links.URL("/subscriptions/manage", manage), s.Links.URL("/unsubscribe", manage))
	return m, papers, err
}

// Send sends the edition of day to every active subscriber due on that day (and,
// if due is set, for whom it returns true), at most once each whatever happens.
// A dry run renders the digests and counts them without sending.
func (s *Sender) Send(ctx context.Context, day time.Time, dryRun bool, due func(*repository.Subscription) bool) (*Result, error) {
	edition := day.Format(time.DateOnly)
	resp := &Result{}
	// The subscribers are read, claimed and sent to at the same time.
	list := func(add func(job) error, skip func()) error {
		return s.Subscriptions.All(ctx, func(sub *repository.Subscription) error {
			switch {
			case sub.State != repository.SubscriptionActive:
			case dueOn(sub, day) && (due == nil || due(sub)):
				return add(job{sub: sub, day: day, edition: edition})
			default:
				skip() // not their day
			}
			return nil
		})
	}
	if !dryRun {
		return s.sendAll(ctx, resp, list)
	}
	err := list(func(j job) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		m, _, err := s.Render(j.sub, day)
		switch {
		case err != nil:
			resp.Failed++
		case m == nil:
			resp.Skipped++
		default:
			resp.Sent++
		}
		return nil
	}, func() { resp.Skipped++ })
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// Retry backoff of temporary mail failures: the first retry after
// Sender.RetryBackoff (default defaultFirstRetry), doubling up to maxRetry.
const (
	defaultFirstRetry = time.Minute
	maxRetry          = time.Hour
)

// Deliveries are claimed up to claimBatch at a time, those listed within
// claimDelay of the first; outcomes are written together, up to outcomeBatch of
// them or those that came within outcomeDelay of the first.
const (
	claimBatch   = 100
	claimDelay   = 20 * time.Millisecond
	outcomeBatch = 200
	outcomeDelay = 50 * time.Millisecond
)

// outcome is a delivery's outcome on its way to the database.
type outcome struct {
	job       job
	d         *repository.Delivery
	journaled bool          // the journal has it
	stored    chan struct{} // closed once the database write is over
}

// counted adds a stored outcome to resp and the statistics.
func (s *Sender) counted(ctx context.Context, o outcome, resp *Result, count func(*int64, *atomic.Int64), skip func()) {
	switch o.d.State {
	case repository.DeliverySent:
		count(&resp.Sent, &s.Stats.Sent)
	case repository.DeliveryEmpty:
		skip()
	default:
		if o.d.State == repository.DeliveryRetry {
			s.pending.add(o.job.edition)
		}
		count(&resp.Failed, &s.Stats.Failed)
		s.Log.WarnContext(ctx, "digest not sent", "subscription", o.job.sub.ID, "edition", o.job.edition, "err", o.d.LastError)
	}
}

// job is one subscriber's edition to send.
type job struct {
	sub     *repository.Subscription
	day     time.Time
	edition string
	// latest is the delivery's latest record, when the lister read it already
	// (nil: claimAll reads the edition's records).
	latest *repository.Delivery
	claim  *repository.Delivery
}

// claimable reports whether a sender may take a delivery whose latest record is
// cur (nil: there is none yet) at now: a new one, one claimed by a sender that
// went away more than stale ago, or a retry that is due.
func claimable(cur *repository.Delivery, now time.Time, stale time.Duration) bool {
	return cur == nil || (cur.State == repository.DeliveryClaimed && now.Sub(cur.ClaimTime) > stale) ||
		(cur.State == repository.DeliveryRetry && !now.Before(cur.NextAttempt))
}

// sendAll delivers the jobs list adds (it calls skip for each subscriber not
// due) under delivery records, adding the outcomes to resp. A delivery is
// claimed (a new version of its record, which only one sender can store) before
// its mail goes out, and its outcome is stored once the mail server answered.
// Listing, claiming, sending on s.Concurrency workers and recording outcomes run
// at the same time, claims and outcomes written in batches. Whatever fails or
// dies in between, a delivery is sent at most once by its claim's holder, and a
// claim left behind is taken over after s.ClaimTimeout, so nobody is skipped.
func (s *Sender) sendAll(ctx context.Context, resp *Result, list func(add func(job) error, skip func()) error) (*Result, error) {
	var mu sync.Mutex
	count := func(n *int64, total *atomic.Int64) {
		mu.Lock()
		*n++
		mu.Unlock()
		total.Add(1)
	}
	skip := func() { count(&resp.Skipped, &s.Stats.Skipped) }

	// Outcomes are stored even when ctx ends: the mail has gone. A worker
	// appends each outcome to the journal before its next mail, so a crash at
	// any moment leaves at most one mail per worker (one per connection) that
	// the server took without its outcome recorded; that mail goes out again
	// once its claim is stale. The outcomes go to the database in batches (up to
	// outcomeBatch, or those within outcomeDelay of the first).
	if s.JournalPath == "" {
		return resp, errors.New("digests need a journal: Sender.JournalPath is not set")
	}
	s.journalOnce.Do(func() { s.journal = &journal{path: s.JournalPath} })
	recordCtx := context.WithoutCancel(ctx)
	outcomes := make(chan outcome, outcomeBatch)
	var recorder sync.WaitGroup
	recorder.Go(func() {
		for batch := range gather(outcomes, outcomeBatch, outcomeDelay) {
			ds := make([]*repository.Delivery, len(batch))
			journaled := 0
			for i, o := range batch {
				ds[i] = o.d
				if o.journaled {
					journaled++
				}
			}
			_, err := s.Deliveries.Insert(recordCtx, ds)
			if err != nil {
				// The journal keeps them for the next start.
				s.Log.ErrorContext(ctx, "digest outcomes not recorded", "deliveries", len(batch), "err", err)
			} else if err := s.journal.stored(journaled); err != nil {
				s.Log.WarnContext(ctx, "digest journal", "err", err)
			}
			for _, o := range batch {
				if err == nil || o.journaled {
					s.counted(ctx, o, resp, count, skip)
				}
				close(o.stored)
			}
		}
	})
	// Claimed deliveries wait here while the next batch is claimed.
	work := make(chan job, claimBatch)
	var workers sync.WaitGroup
	for range max(s.Concurrency, 1) {
		workers.Go(func() {
			for j := range work {
				o := outcome{job: j, d: s.deliver(ctx, j), stored: make(chan struct{})}
				if err := s.journal.append(o.d); err != nil {
					s.Log.ErrorContext(ctx, "digest journal", "err", err)
				} else {
					o.journaled = true
				}
				outcomes <- o
				if !o.journaled {
					<-o.stored // no journal to survive a crash: wait for the database
				}
			}
		})
	}
	jobs := make(chan job, claimBatch)
	listCtx, stopList := context.WithCancel(ctx)
	var listErr error
	var lister sync.WaitGroup
	lister.Go(func() {
		defer close(jobs)
		listErr = list(func(j job) error {
			select {
			case jobs <- j:
				return nil
			case <-listCtx.Done():
				return listCtx.Err()
			}
		}, skip)
	})
	err := s.claimAll(ctx, jobs, work, skip)
	stopList() // when claiming failed, listing stops too
	lister.Wait()
	close(work)
	workers.Wait()
	close(outcomes)
	recorder.Wait()
	if err == nil {
		err = listErr
	}
	return resp, err
}

// gather yields what arrives on ch in batches: each is the first item that
// comes and those that follow within delay, at most size.
func gather[T any](ch <-chan T, size int, delay time.Duration) iter.Seq[[]T] {
	return func(yield func([]T) bool) {
		for first := range ch {
			batch := []T{first}
			timer := time.NewTimer(delay)
		more:
			for len(batch) < size {
				select {
				case x, ok := <-ch:
					if !ok {
						break more
					}
					batch = append(batch, x)
				case <-timer.C:
					break more
				}
			}
			timer.Stop()
			if !yield(batch) {
				return
			}
		}
	}
}

// claimAll claims the deliveries of jobs in batches and hands each one claimed
// to work; skip is called for each delivery done or held by another sender.
func (s *Sender) claimAll(ctx context.Context, jobs <-chan job, work chan<- job, skip func()) error {
	current := map[string]map[string]*repository.Delivery{}
	for batch := range gather(jobs, claimBatch, claimDelay) {
		if err := ctx.Err(); err != nil {
			return err
		}
		now := s.now()
		var claims []*repository.Delivery
		var claimed []job
		for _, j := range batch {
			cur := j.latest
			if cur == nil {
				records, ok := current[j.edition]
				if !ok {
					var err error
					if records, err = s.Deliveries.Edition(ctx, j.edition); err != nil {
						return err
					}
					current[j.edition] = records
				}
				cur = records[j.sub.ID]
			}
			if !claimable(cur, now, s.ClaimTimeout) {
				skip()
				continue
			}
			j.claim = &repository.Delivery{SubscriptionID: j.sub.ID, Edition: j.edition, Version: 1}
			if cur != nil {
				*j.claim = *cur
				j.claim.Version++
			}
			j.claim.State, j.claim.Owner, j.claim.ClaimTime = repository.DeliveryClaimed, s.Owner, now
			claims = append(claims, j.claim)
			claimed = append(claimed, j)
		}
		stored, err := s.Deliveries.Insert(ctx, claims)
		if err != nil {
			return err
		}
		for i, j := range claimed {
			if !stored[i] {
				skip() // another sender claimed it first
				continue
			}
			select {
			case work <- j:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}

// deliver renders and sends one claimed delivery and returns the record of its
// outcome, the claim's next version.
func (s *Sender) deliver(ctx context.Context, j job) *repository.Delivery {
	next := *j.claim
	next.Version++
	m, _, err := s.Render(j.sub, j.day)
	if err == nil && m == nil {
		next.State = repository.DeliveryEmpty
	} else if err == nil {
		manage := s.Links.ManageToken(j.sub.ID, j.sub.ManageGeneration)
		err = s.Mailer.Send(ctx, &mailer.Message{From: s.From, To: j.sub.Email, Subject: m.Subject, Text: m.Text, HTML: m.HTML,
			MessageID: "digest." + j.edition + "." + j.sub.ID + "@" + s.Links.Host(), ListUnsubscribe: s.Links.URL("/unsubscribe", manage)})
		next.State = repository.DeliverySent
	}
	next.DoneTime = s.now()
	if err != nil {
		next.State, next.LastError = repository.DeliveryFailed, err.Error()
		if mailer.IsTemporary(err) {
			next.State = repository.DeliveryRetry
			next.Attempts++
			first := s.RetryBackoff
			if first <= 0 {
				first = defaultFirstRetry
			}
			next.NextAttempt = next.DoneTime.Add(min(first<<min(next.Attempts-1, 10), max(maxRetry, first)))
		}
	}
	return &next
}
