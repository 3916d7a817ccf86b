package service

import (
	"context"
	"time"

	"github.com/papercatalog/papers/apierror"
	"github.com/papercatalog/papers/digest"
	subscriptionv1 "github.com/papercatalog/papers/gen/papers/subscription/v1"
	"github.com/papercatalog/papers/listing"
	"github.com/papercatalog/papers/paperpb"
	"github.com/papercatalog/papers/repository"
)

// DigestPapers selects a subscription's papers for the digest due at ref: the
// papers submitted in its period (digest.PeriodStart) that match its topics,
// by trending score (digest.Select).
func (s *Catalog) DigestPapers(sub *repository.Subscription, ref time.Time) ([]*repository.Paper, error) {
	var matches map[string]bool
	if sub.Query != "" {
		if err := s.searchReady(); err != nil {
			return nil, err
		}
		var err error
		if matches, err = s.Search.MatchingCached(sub.Query); err != nil {
			return nil, err
		}
	}
	// One listing of the period per reference time, shared by every subscriber
	// due then (and cached as any listing); each subscriber's topics filter it.
	window := listing.Filter{}.SubmittedIn(digest.PeriodStart(sub, ref), ref)
	chosen := digest.Select(s.Model.List(window, listing.TrendingOrder(ref)).Papers, sub, matches)
	out := make([]*repository.Paper, len(chosen)) // chosen may share the cached listing's array
	for i, p := range chosen {
		full, err := s.Model.Full(p) // a digest shows an excerpt of each abstract
		if err != nil {
			return nil, err
		}
		out[i] = full
	}
	return out, nil
}

// PaperURL is the link of a paper in mails: its page, /papers/{paper} under
// publicURL.
func PaperURL(publicURL string) func(*repository.Paper) string {
	return func(p *repository.Paper) string { return publicURL + "/" + paperpb.Name(p.ID) }
}

// parseEdition reads a YYYY-MM-DD edition, default today in UTC at now.
func parseEdition(v *apierror.Violations, field, s string, now time.Time) time.Time {
	if s == "" {
		return now.UTC().Truncate(24 * time.Hour)
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		v.Add(field, "must be a date, YYYY-MM-DD")
	}
	return d
}

// SendDigests implements subscriptionv1.SubscriptionServiceServer.
func (s *Subscriptions) SendDigests(ctx context.Context, req *subscriptionv1.SendDigestsRequest) (*subscriptionv1.SendDigestsResponse, error) {
	var v apierror.Violations
	day := parseEdition(&v, "edition", req.GetEdition(), s.now())
	if err := v.Err(); err != nil {
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
	var v apierror.Violations
	day := parseEdition(&v, "edition", req.GetEdition(), s.now())
	if err := v.Err(); err != nil {
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
		out.Papers = append(out.Papers, paperpb.From(p, 0))
	}
	return out, nil
}
