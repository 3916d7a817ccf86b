package service

import (
	"context"
	"errors"
	"iter"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/papercatalog/papers/clock"
	"github.com/papercatalog/papers/digest"
	subscriptionv1 "github.com/papercatalog/papers/gen/papers/subscription/v1"
	"github.com/papercatalog/papers/mailer"
	"github.com/papercatalog/papers/query"
	"github.com/papercatalog/papers/repository"
	"github.com/papercatalog/papers/search"
)

// DigestPapers selects a subscription's papers for the digest due at ref: the
// papers submitted in the period before it (a day, or a week for weekly
// digests) that match the subscription's topics, by trending score, at most
// MaxPapers. The period starts at the same hour of the day on the calendar in
// the subscriber's time zone, so that across a daylight-saving change (a day
// of 23 or 25 hours) each paper is in exactly one edition.
func (s *Catalog) DigestPapers(sub *repository.Subscription, ref time.Time) ([]*repository.Paper, error) {
	days := 1
	if sub.Frequency == "weekly" {
		days = 7
	}
	from := ref.In(subscriberZone(sub.TimeZone)).AddDate(0, 0, -days)
	var matches map[string]bool
	if sub.Query != "" {
		if err := s.searchReady(); err != nil {
			return nil, err
		}
		// Subscribers share topics: each distinct query is run once per index
		// generation.
		key, gen := "digest\x00"+sub.Query, s.Search.Generation()
		if c, ok := s.searches.get(key, gen); ok {
			matches = c.ids
		} else {
			q, err := search.Parse(sub.Query)
			if err != nil {
				return nil, err
			}
			hits, _, err := s.Search.Search(q)
			if err != nil {
				return nil, err
			}
			matches = make(map[string]bool, len(hits))
			for _, h := range hits {
				matches[h.ID] = true
			}
			s.searches.put(key, gen, &cachedSearch{ids: matches})
		}
	}
	// One listing of the period per reference time, shared by every subscriber
	// due then (and cached as any listing); each subscriber's topics filter it.
	window := query.Filter{}.SubmittedIn(from, ref)
	var out []*repository.Paper
	for _, p := range s.Model.List(window, query.TrendingOrder(ref)).Papers {
		if len(out) == max(sub.MaxPapers, 1) {
			break
		}
		if p.Upvotes < sub.MinUpvotes || (matches != nil && !matches[p.ID]) {
			continue
		}
		if len(sub.Categories) > 0 && !slices.ContainsFunc(p.Categories, func(c string) bool { return slices.Contains(sub.Categories, c) }) {
			continue
		}
		if len(sub.Organizations) > 0 && !slices.Contains(sub.Organizations, p.Organization.ID) {
			continue
		}
		out = append(out, p)
	}
	return out, nil
}

// editionTime is when a subscription's edition of day is due: its send hour on
// that day in its time zone.
func editionTime(sub *repository.Subscription, day time.Time) time.Time {
	return time.Date(day.Year(), day.Month(), day.Day(), sub.SendHour, 0, 0, 0, subscriberZone(sub.TimeZone))
}

// dueOn reports whether a subscription gets an edition on day's weekday.
func dueOn(sub *repository.Subscription, day time.Time) bool {
	days := sub.Weekdays
	if len(days) == 0 {
		days = []time.Weekday{time.Monday}
	}
	if sub.Frequency == "weekly" {
		return day.Weekday() == days[0]
	}
	return slices.Contains(days, day.Weekday())
}

// parseEdition reads a YYYY-MM-DD edition, default today in UTC at now.
func parseEdition(v *violations, field, s string, now time.Time) time.Time {
	if s == "" {
		return now.UTC().Truncate(24 * time.Hour)
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		v.add(field, "must be a date, YYYY-MM-DD")
	}
	return d
}

// render builds a subscription's digest of day, or nil when no paper matches.
func (s *Subscriptions) render(sub *repository.Subscription, day time.Time) (*digest.Mail, []*repository.Paper, error) {
	papers, err := s.Papers(sub, editionTime(sub, day))
	if err != nil || len(papers) == 0 {
		return nil, nil, err
	}
	s.rendererOnce.Do(func() {
		s.renderer = digest.NewRenderer(func(p *repository.Paper) string { return s.PublicURL + "/v1/" + paperName(p.ID) })
	})
	manage := s.manageToken(sub.ID, sub.ManageGeneration)
	m, err := s.renderer.Render(day, papers, s.link("/subscriptions/manage", manage), s.link("/unsubscribe", manage))
	return m, papers, err
}

// SendDigests implements subscriptionv1.SubscriptionServiceServer.
func (s *Subscriptions) SendDigests(ctx context.Context, req *subscriptionv1.SendDigestsRequest) (*subscriptionv1.SendDigestsResponse, error) {
	var v violations
	day := parseEdition(&v, "edition", req.GetEdition(), s.now())
	if err := v.err(); err != nil {
		return nil, s.fail(ctx, "SendDigests", err)
	}
	resp, err := s.Send(ctx, day, req.GetDryRun(), nil)
	if err != nil {
		return nil, s.fail(ctx, "SendDigests", err)
	}
	return resp, nil
}

// Send sends the edition of day to every active subscriber due on that day (and,
// if due is set, for whom it returns true), at most once each whatever happens.
func (s *Subscriptions) Send(ctx context.Context, day time.Time, dryRun bool, due func(*repository.Subscription) bool) (*subscriptionv1.SendDigestsResponse, error) {
	edition := day.Format(time.DateOnly)
	resp := &subscriptionv1.SendDigestsResponse{}
	// The subscribers are read, claimed and sent to at the same time.
	list := func(add func(digestJob) error, skip func()) error {
		return s.Store.All(ctx, func(sub *repository.Subscription) error {
			switch {
			case sub.State != repository.SubscriptionActive:
			case dueOn(sub, day) && (due == nil || due(sub)):
				return add(digestJob{sub: sub, day: day, edition: edition})
			default:
				skip() // not their day
			}
			return nil
		})
	}
	if !dryRun {
		return s.sendAll(ctx, resp, list)
	}
	err := list(func(j digestJob) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		m, _, err := s.render(j.sub, day)
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
// Subscriptions.RetryBackoff (default defaultFirstRetry), doubling up to maxRetry.
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

// fullRetryScan is how often the scheduler reads every edition's records for
// deliveries to retry, besides the editions this process saw fail: those that
// another replica failed, or that a process which died left.
const fullRetryScan = time.Hour

// pendingEditions are the editions that may have deliveries to retry.
type pendingEditions struct {
	mu       sync.Mutex
	set      map[string]bool
	lastFull time.Time
}

func (p *pendingEditions) add(edition string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.set == nil {
		p.set = map[string]bool{}
	}
	p.set[edition] = true
}

func (p *pendingEditions) remove(edition string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.set, edition)
}

// due returns the editions to look at now, or full when every edition should be
// read (at the first call, then every fullRetryScan).
func (p *pendingEditions) due(now time.Time) (editions []string, full bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lastFull.IsZero() || now.Sub(p.lastFull) >= fullRetryScan {
		p.lastFull = now
		return nil, true
	}
	for e := range p.set {
		editions = append(editions, e)
	}
	slices.Sort(editions)
	return editions, false
}

// outcome is a delivery's outcome on its way to the database; done receives
// the write's error.
type outcome struct {
	job       digestJob
	d         *repository.Delivery
	journaled bool          // the journal has it
	stored    chan struct{} // closed once the database write is over
}

// counted adds a stored outcome to resp and the statistics.
func (s *Subscriptions) counted(ctx context.Context, o outcome, resp *subscriptionv1.SendDigestsResponse, count func(*int64, *atomic.Int64), skip func()) {
	switch o.d.State {
	case repository.DeliverySent:
		count(&resp.Sent, &s.Stats.DigestsSent)
	case repository.DeliveryEmpty:
		skip()
	default:
		if o.d.State == repository.DeliveryRetry {
			s.pending.add(o.job.edition)
		}
		count(&resp.Failed, &s.Stats.DigestsFailed)
		s.Log.WarnContext(ctx, "digest not sent", "subscription", o.job.sub.ID, "edition", o.job.edition, "err", o.d.LastError)
	}
}

// digestJob is one subscriber's edition to send.
type digestJob struct {
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
func (s *Subscriptions) sendAll(ctx context.Context, resp *subscriptionv1.SendDigestsResponse, list func(add func(digestJob) error, skip func()) error) (*subscriptionv1.SendDigestsResponse, error) {
	var mu sync.Mutex
	count := func(n *int64, total *atomic.Int64) {
		mu.Lock()
		*n++
		mu.Unlock()
		total.Add(1)
	}
	skip := func() { count(&resp.Skipped, &s.Stats.DigestsSkipped) }

	// Outcomes are stored even when ctx ends: the mail has gone. A worker
	// appends each outcome to the journal before its next mail, so a crash at
	// any moment leaves at most one mail per worker (one per connection) that
	// the server took without its outcome recorded; that mail goes out again
	// once its claim is stale. The outcomes go to the database in batches (up to
	// outcomeBatch, or those within outcomeDelay of the first).
	if s.JournalPath == "" {
		return resp, errors.New("digests need a journal: Subscriptions.JournalPath is not set")
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
	work := make(chan digestJob, claimBatch)
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
	jobs := make(chan digestJob, claimBatch)
	listCtx, stopList := context.WithCancel(ctx)
	var listErr error
	var lister sync.WaitGroup
	lister.Go(func() {
		defer close(jobs)
		listErr = list(func(j digestJob) error {
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
func (s *Subscriptions) claimAll(ctx context.Context, jobs <-chan digestJob, work chan<- digestJob, skip func()) error {
	current := map[string]map[string]*repository.Delivery{}
	for batch := range gather(jobs, claimBatch, claimDelay) {
		if err := ctx.Err(); err != nil {
			return err
		}
		now := s.now()
		var claims []*repository.Delivery
		var claimed []digestJob
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
func (s *Subscriptions) deliver(ctx context.Context, j digestJob) *repository.Delivery {
	next := *j.claim
	next.Version++
	m, _, err := s.render(j.sub, j.day)
	if err == nil && m == nil {
		next.State = repository.DeliveryEmpty
	} else if err == nil {
		manage := s.manageToken(j.sub.ID, j.sub.ManageGeneration)
		err = s.Mailer.Send(ctx, &mailer.Message{From: s.From, To: j.sub.Email, Subject: m.Subject, Text: m.Text, HTML: m.HTML,
			MessageID: "digest." + j.edition + "." + j.sub.ID + "@" + s.host(), ListUnsubscribe: s.link("/unsubscribe", manage)})
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

// PreviewDigest implements subscriptionv1.SubscriptionServiceServer.
func (s *Subscriptions) PreviewDigest(ctx context.Context, req *subscriptionv1.PreviewDigestRequest) (*subscriptionv1.Digest, error) {
	sub, err := s.authorized(ctx, req.GetName(), req.GetManageToken())
	if err != nil {
		return nil, s.fail(ctx, "PreviewDigest", err)
	}
	var v violations
	day := parseEdition(&v, "edition", req.GetEdition(), s.now())
	if err := v.err(); err != nil {
		return nil, s.fail(ctx, "PreviewDigest", err)
	}
	m, papers, err := s.render(sub, day)
	if err != nil {
		return nil, s.fail(ctx, "PreviewDigest", err)
	}
	out := &subscriptionv1.Digest{Edition: day.Format(time.DateOnly)}
	if m != nil {
		out.Subject, out.Text, out.Html = m.Subject, m.Text, m.HTML
	}
	for _, p := range papers {
		out.Papers = append(out.Papers, toProto(p, 0))
	}
	return out, nil
}

// SendDue sends every active subscriber whose send hour has come today, in their
// time zone, the edition of their day; delivery records keep it to once per
// edition. It is what the scheduler runs every minute.
func (s *Subscriptions) SendDue(ctx context.Context, now time.Time) (*subscriptionv1.SendDigestsResponse, error) {
	resp := &subscriptionv1.SendDigestsResponse{}
	var due, lapsed []*repository.Subscription
	active := map[string]*repository.Subscription{}
	if err := s.Store.All(ctx, func(sub *repository.Subscription) error {
		if sub.State == repository.SubscriptionPending && now.After(sub.ConfirmExpires) {
			lapsed = append(lapsed, sub)
		}
		if sub.State != repository.SubscriptionActive {
			return nil
		}
		active[sub.ID] = sub
		local := localDay(sub, now)
		if dueOn(sub, local) && now.In(local.Location()).Hour() >= sub.SendHour {
			due = append(due, sub)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	// Delivery records are kept for two weeks.
	if err := s.Deliveries.DropEditionsBefore(ctx, now.AddDate(0, 0, -14).Format(time.DateOnly)); err != nil {
		s.Log.WarnContext(ctx, "old delivery records not removed", "err", err)
	}
	// Pending subscriptions lapse when their confirmation expires: nothing is kept
	// of an address that never confirmed.
	for _, sub := range lapsed {
		if err := s.Store.Delete(ctx, sub); err != nil {
			s.Log.WarnContext(ctx, "lapsed subscription not removed", "subscription", sub.ID, "err", err)
		}
	}
	if _, err := s.sendAll(ctx, resp, func(add func(digestJob) error, _ func()) error {
		for _, sub := range due {
			day := localDay(sub, now)
			if err := add(digestJob{sub: sub, day: day, edition: day.Format(time.DateOnly)}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return resp, err
	}
	return s.retryEditions(ctx, now, active, resp)
}

// retryEditions sends again the deliveries of any edition that failed for now
// and are due again, and those a sender that went away left claimed. It reads
// the editions this process saw fail, and every edition at times (see
// pendingEditions.due).
func (s *Subscriptions) retryEditions(ctx context.Context, now time.Time, active map[string]*repository.Subscription, resp *subscriptionv1.SendDigestsResponse) (*subscriptionv1.SendDigestsResponse, error) {
	editions, full := s.pending.due(now)
	if full {
		var err error
		if editions, err = s.Deliveries.Editions(ctx); err != nil {
			return resp, err
		}
	}
	var jobs []digestJob
	for _, edition := range editions {
		records, err := s.Deliveries.Edition(ctx, edition)
		if err != nil {
			return resp, err
		}
		outstanding := false
		for id, d := range records {
			if d.State != repository.DeliveryRetry && d.State != repository.DeliveryClaimed {
				continue
			}
			sub, ok := active[id]
			if !ok {
				continue // unsubscribed meanwhile
			}
			outstanding = true
			if !claimable(d, now, s.ClaimTimeout) {
				continue
			}
			day, err := time.ParseInLocation(time.DateOnly, edition, subscriberZone(sub.TimeZone))
			if err != nil {
				continue // not an edition's name
			}
			jobs = append(jobs, digestJob{sub: sub, day: day, edition: edition, latest: d})
		}
		if outstanding {
			s.pending.add(edition)
		} else {
			s.pending.remove(edition)
		}
	}
	if len(jobs) == 0 {
		return resp, nil
	}
	return s.sendAll(ctx, resp, func(add func(digestJob) error, _ func()) error {
		for _, j := range jobs {
			if err := add(j); err != nil {
				return err
			}
		}
		return nil
	})
}

// localDay is the subscriber's calendar day at now, as midnight in their zone.
func localDay(sub *repository.Subscription, now time.Time) time.Time {
	l := now.In(subscriberZone(sub.TimeZone))
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, l.Location())
}

// RunScheduler sends due digests every interval (of real time) while this
// replica holds the scheduler lease (acquire tries to take or renew it), until
// ctx ends. What is due is decided at the time of s.Clock; Stats counts the
// rounds.
func (s *Subscriptions) RunScheduler(ctx context.Context, interval time.Duration, acquire func(context.Context) (bool, error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if held, err := acquire(ctx); err != nil {
			s.Log.WarnContext(ctx, "digest scheduler lease", "err", err)
			s.Stats.SchedulerFollowing.Add(1)
		} else if held {
			if r, err := s.SendDue(ctx, clock.Or(s.Clock).Now()); err != nil && ctx.Err() == nil {
				s.Log.WarnContext(ctx, "scheduled digests", "err", err)
			} else if r != nil && r.GetSent()+r.GetFailed() > 0 {
				s.Log.InfoContext(ctx, "scheduled digests", "sent", r.GetSent(), "failed", r.GetFailed(), "skipped", r.GetSkipped())
			}
			s.Stats.SchedulerLeading.Add(1)
		} else {
			s.Stats.SchedulerFollowing.Add(1)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
