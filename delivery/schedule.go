package delivery

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/papercatalog/papers/clock"
	"github.com/papercatalog/papers/period"
	"github.com/papercatalog/papers/repository"
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

// SendDue sends every active subscriber whose send hour has come today, in their
// time zone, the edition of their day; delivery records keep it to once per
// edition. It also drops delivery records older than two weeks and pending
// subscriptions whose confirmation expired. It is what the scheduler runs
// every minute.
func (s *Sender) SendDue(ctx context.Context, now time.Time) (*Result, error) {
	resp := &Result{}
	var due, lapsed []*repository.Subscription
	active := map[string]*repository.Subscription{}
	if err := s.Subscriptions.All(ctx, func(sub *repository.Subscription) error {
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
		if err := s.Subscriptions.Delete(ctx, sub); err != nil {
			s.Log.WarnContext(ctx, "lapsed subscription not removed", "subscription", sub.ID, "err", err)
		}
	}
	if _, err := s.sendAll(ctx, resp, func(add func(job) error, _ func()) error {
		for _, sub := range due {
			day := localDay(sub, now)
			if err := add(job{sub: sub, day: day, edition: day.Format(time.DateOnly)}); err != nil {
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
func (s *Sender) retryEditions(ctx context.Context, now time.Time, active map[string]*repository.Subscription, resp *Result) (*Result, error) {
	editions, full := s.pending.due(now)
	if full {
		var err error
		if editions, err = s.Deliveries.Editions(ctx); err != nil {
			return resp, err
		}
	}
	var jobs []job
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
			day, err := time.ParseInLocation(time.DateOnly, edition, period.StoredZone(sub.TimeZone))
			if err != nil {
				continue // not an edition's name
			}
			jobs = append(jobs, job{sub: sub, day: day, edition: edition, latest: d})
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
	return s.sendAll(ctx, resp, func(add func(job) error, _ func()) error {
		for _, j := range jobs {
			if err := add(j); err != nil {
				return err
			}
		}
		return nil
	})
}

// RunScheduler sends due digests every interval (of real time) while this
// replica holds the scheduler lease (acquire tries to take or renew it), until
// ctx ends. What is due is decided at the time of s.Clock; Stats counts the
// rounds.
func (s *Sender) RunScheduler(ctx context.Context, interval time.Duration, acquire func(context.Context) (bool, error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if held, err := acquire(ctx); err != nil {
			s.Log.WarnContext(ctx, "digest scheduler lease", "err", err)
			s.Stats.SchedulerFollowing.Add(1)
		} else if held {
			if r, err := s.SendDue(ctx, clock.Or(s.Clock).Now()); err != nil && ctx.Err() == nil {
				s.Log.WarnContext(ctx, "scheduled digests", "err", err)
			} else if r != nil && r.Sent+r.Failed > 0 {
				s.Log.InfoContext(ctx, "scheduled digests", "sent", r.Sent, "failed", r.Failed, "skipped", r.Skipped)
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
