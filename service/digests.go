package service

import (
	"context"
	"slices"
	"time"

	subscriptionv1 "github.com/papercatalog/papers/gen/papers/subscription/v1"
	"github.com/papercatalog/papers/listing"
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
	window := listing.Filter{}.SubmittedIn(from, ref)
	var out []*repository.Paper
	for _, p := range s.Model.List(window, listing.TrendingOrder(ref)).Papers {
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

// PaperURL is the link of a paper in mails: its REST resource under publicURL.
func PaperURL(publicURL string) func(*repository.Paper) string {
	return func(p *repository.Paper) string { return publicURL + "/v1/" + paperName(p.ID) }
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

// SendDigests implements subscriptionv1.SubscriptionServiceServer.
func (s *Subscriptions) SendDigests(ctx context.Context, req *subscriptionv1.SendDigestsRequest) (*subscriptionv1.SendDigestsResponse, error) {
	var v violations
	day := parseEdition(&v, "edition", req.GetEdition(), s.now())
	if err := v.err(); err != nil {
		return nil, s.fail(ctx, "SendDigests", err)
	}
	r, err := s.Digests.Send(ctx, day, req.GetDryRun(), nil)
	if err != nil {
		return nil, s.fail(ctx, "SendDigests", err)
	}
	return &subscriptionv1.SendDigestsResponse{Sent: r.Sent, Skipped: r.Skipped, Failed: r.Failed}, nil
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
	m, papers, err := s.Digests.Render(sub, day)
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
