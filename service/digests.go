package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"google.golang.org/grpc/codes"

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
// MaxPapers.
func (s *Catalog) DigestPapers(sub *repository.Subscription, ref time.Time) ([]*repository.Paper, error) {
	period := 24 * time.Hour
	if sub.Frequency == "weekly" {
		period = 7 * 24 * time.Hour
	}
	from := ref.Add(-period)
	var matches map[string]bool
	if sub.Query != "" {
		if s.Search == nil {
			return nil, errorf(codes.Unavailable, "the search index is not ready")
		}
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
	}
	// One listing of the period per reference time, shared by every subscriber
	// due then (and cached as any listing); each subscriber's topics filter it.
	window := query.Filter{}.And(fmt.Sprintf("submitted in [%d, %d)", from.UnixNano(), ref.UnixNano()), func(p *repository.Paper) bool {
		return !p.SubmitTime.Before(from) && p.SubmitTime.Before(ref)
	})
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
	loc, err := time.LoadLocation(sub.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	return time.Date(day.Year(), day.Month(), day.Day(), sub.SendHour, 0, 0, 0, loc)
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

// parseEdition reads a YYYY-MM-DD edition, default today in UTC.
func parseEdition(v *violations, field, s string) time.Time {
	if s == "" {
		return time.Now().UTC().Truncate(24 * time.Hour)
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
	manage := s.manageToken(sub.ID, sub.ManageGeneration)
	m, err := digest.Render(day, papers, digest.Links{
		Paper:       func(p *repository.Paper) string { return s.PublicURL + "/v1/" + paperName(p.ID) },
		Manage:      s.link("/subscriptions/manage", manage),
		Unsubscribe: s.link("/unsubscribe", manage),
	})
	return m, papers, err
}

// SendDigests implements subscriptionv1.SubscriptionServiceServer.
func (s *Subscriptions) SendDigests(ctx context.Context, req *subscriptionv1.SendDigestsRequest) (*subscriptionv1.SendDigestsResponse, error) {
	if err := s.Admins.Check(ctx); err != nil {
		return nil, s.fail(ctx, "SendDigests", err)
	}
	var v violations
	day := parseEdition(&v, "edition", req.GetEdition())
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
	var subs []*repository.Subscription
	if err := s.Store.All(ctx, func(sub *repository.Subscription) error {
		switch {
		case sub.State != repository.SubscriptionActive:
		case dueOn(sub, day) && (due == nil || due(sub)):
			subs = append(subs, sub)
		default:
			resp.Skipped++ // not their day
		}
		return nil
	}); err != nil {
		return nil, err
	}
	for _, sub := range subs {
		if err := ctx.Err(); err != nil {
			return resp, err
		}
		if dryRun {
			m, _, err := s.render(sub, day)
			switch {
			case err != nil:
				resp.Failed++
			case m == nil:
				resp.Skipped++
			default:
				resp.Sent++
			}
			continue
		}
		switch err := s.deliver(ctx, sub, day, edition); {
		case errors.Is(err, errSkipped):
			resp.Skipped++
		case err != nil:
			resp.Failed++
			s.Log.WarnContext(ctx, "digest not sent", "subscription", sub.ID, "edition", edition, "err", err)
		default:
			resp.Sent++
		}
	}
	return resp, nil
}

var errSkipped = errors.New("skipped")

// Retry backoff of temporary mail failures.
const (
	firstRetry = time.Minute
	maxRetry   = time.Hour
)

// deliver sends one edition to one subscriber under a delivery record: claimed
// first, sent, then marked. A record another sender holds, or one already done,
// means skipped.
func (s *Subscriptions) deliver(ctx context.Context, sub *repository.Subscription, day time.Time, edition string) error {
	now := time.Now().UTC().Truncate(time.Millisecond)
	d, mine, err := s.Deliveries.Claim(ctx, sub.ID, edition, s.Owner, now, s.ClaimTimeout)
	if err != nil {
		return err
	}
	if !mine {
		return errSkipped
	}
	finish := func(state repository.DeliveryState, cause error) error {
		next := *d
		next.State, next.Version, next.DoneTime = state, d.Version+1, time.Now().UTC().Truncate(time.Millisecond)
		if cause != nil {
			next.LastError = cause.Error()
		}
		if state == repository.DeliveryRetry {
			next.Attempts++
			wait := min(firstRetry<<min(next.Attempts-1, 10), maxRetry)
			next.NextAttempt = next.DoneTime.Add(wait)
		}
		return s.Deliveries.Save(ctx, &next, d.Version)
	}
	m, _, err := s.render(sub, day)
	if err != nil {
		_ = finish(repository.DeliveryRetry, err)
		return err
	}
	if m == nil {
		if err := finish(repository.DeliveryEmpty, nil); err != nil {
			return err
		}
		return errSkipped
	}
	manage := s.manageToken(sub.ID, sub.ManageGeneration)
	err = s.Mailer.Send(ctx, &mailer.Message{From: s.From, To: sub.Email, Subject: m.Subject, Text: m.Text, HTML: m.HTML,
		MessageID: "digest." + edition + "." + sub.ID + "@" + s.host(), ListUnsubscribe: s.link("/unsubscribe", manage)})
	if err != nil {
		state := repository.DeliveryFailed
		if mailer.IsTemporary(err) {
			state = repository.DeliveryRetry
		}
		_ = finish(state, err)
		return err
	}
	return finish(repository.DeliverySent, nil)
}

// PreviewDigest implements subscriptionv1.SubscriptionServiceServer.
func (s *Subscriptions) PreviewDigest(ctx context.Context, req *subscriptionv1.PreviewDigestRequest) (*subscriptionv1.Digest, error) {
	sub, err := s.authorized(ctx, req.GetName(), req.GetManageToken())
	if err != nil {
		return nil, s.fail(ctx, "PreviewDigest", err)
	}
	var v violations
	day := parseEdition(&v, "edition", req.GetEdition())
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
	if err := s.Store.All(ctx, func(sub *repository.Subscription) error {
		if sub.State == repository.SubscriptionPending && now.After(sub.ConfirmExpires) {
			lapsed = append(lapsed, sub)
		}
		if sub.State != repository.SubscriptionActive {
			return nil
		}
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
	for _, sub := range due {
		if err := ctx.Err(); err != nil {
			return resp, err
		}
		day := localDay(sub, now)
		switch err := s.deliver(ctx, sub, day, day.Format(time.DateOnly)); {
		case errors.Is(err, errSkipped):
			resp.Skipped++
		case err != nil:
			resp.Failed++
			s.Log.WarnContext(ctx, "digest not sent", "subscription", sub.ID, "err", err)
		default:
			resp.Sent++
		}
	}
	return resp, nil
}

// localDay is the subscriber's calendar day at now, as midnight in their zone.
func localDay(sub *repository.Subscription, now time.Time) time.Time {
	loc, err := time.LoadLocation(sub.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	l := now.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
}

// RunScheduler sends due digests every interval while this replica holds the
// scheduler lease (acquire tries to take or renew it), until ctx ends.
func (s *Subscriptions) RunScheduler(ctx context.Context, interval time.Duration, acquire func(context.Context) (bool, error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if held, err := acquire(ctx); err != nil {
			s.Log.WarnContext(ctx, "digest scheduler lease", "err", err)
		} else if held {
			if r, err := s.SendDue(ctx, time.Now()); err != nil && ctx.Err() == nil {
				s.Log.WarnContext(ctx, "scheduled digests", "err", err)
			} else if r != nil && r.GetSent()+r.GetFailed() > 0 {
				s.Log.InfoContext(ctx, "scheduled digests", "sent", r.GetSent(), "failed", r.GetFailed(), "skipped", r.GetSkipped())
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
