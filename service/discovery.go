package service

import (
	"context"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/papercatalog/papers/apierror"
	"github.com/papercatalog/papers/clock"
	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	"github.com/papercatalog/papers/listing"
	"github.com/papercatalog/papers/memo"
)

// ListDailyPapers implements catalogv1.CatalogServiceServer.
func (s *Catalog) ListDailyPapers(ctx context.Context, req *catalogv1.ListDailyPapersRequest) (*catalogv1.ListDailyPapersResponse, error) {
	// Ordered by trending score, the answer depends on the minute.
	return perMinute(ctx, s, "ListDailyPapers", "daily", req, s.listDaily)
}

// perMinute answers a list whose answer depends on the current minute, which it
// passes to list: the response cached under name, req and the minute (see
// memo.Key), or else the one list makes; list's error is returned as method's
// status (see fail).
func perMinute[Req, Resp proto.Message](ctx context.Context, s *Catalog, method, name string, req Req, list func(Req, time.Time) (Resp, error)) (Resp, error) {
	minute := clock.Or(s.Clock).Now().UTC().Truncate(time.Minute)
	return answer(ctx, s, method, req, func(_ context.Context, req Req) (Resp, error) {
		return cachedResponse(s, memo.Key(name, req, strconv.FormatInt(minute.Unix(), 10)), func() (Resp, error) {
			return list(req, minute)
		})
	})
}

func (s *Catalog) listDaily(req *catalogv1.ListDailyPapersRequest, minute time.Time) (*catalogv1.ListDailyPapersResponse, error) {
	var v apierror.Violations
	size := pageSize(&v, req.GetPageSize(), defaultPageSize, maxPageSize)
	view := resolveView(&v, req.GetView(), catalogv1.PaperView_PAPER_VIEW_BASIC)
	loc := loadZone(&v, "time_zone", req.GetTimeZone())
	start, end := resolvePeriod(&v, req.GetDate(), req.GetWeek(), req.GetMonth(), loc)
	q := s.queries.Parse(req.GetFilter(), "")
	if q.FilterErr != nil {
		v.Add("filter", "%s", q.FilterErr.Error())
	}
	orderText, ok := listing.DailyOrder(req.GetOrderBy())
	if !ok {
		v.Add("order_by", "must be one of \"upvotes desc, submit_time desc\" (the default), \"submit_time desc\" or \"trending\"")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	f := q.Filter.SubmittedIn(start, end)
	tokenQuery := "daily\x00" + f.Text + "\x00" + orderText
	after, extra, err := s.Tokens.Resume(tokenQuery, req.GetPageToken(), nil)
	if err != nil {
		return nil, err
	}
	var o listing.Order
	if orderText == "trending" {
		ref := listing.ReferenceTime(extra, minute)
		o, extra = listing.TrendingOrder(ref), ref.Unix()
	} else {
		o = s.queries.Parse("", orderText).Order
	}
	if after != nil && !o.Valid(after) {
		return nil, listing.ErrInvalidToken
	}
	papers, next, total := s.page(f, o, after, size, tokenQuery, extra)
	msgs, err := s.protosOf(papers, view)
	if err != nil {
		return nil, err
	}
	resp := &catalogv1.ListDailyPapersResponse{
		Papers:        msgs,
		NextPageToken: next,
		TotalSize:     total,
		PeriodStart:   timestamppb.New(start),
		PeriodEnd:     timestamppb.New(end),
		TimeZone:      loc.String(),
	}
	return resp, nil
}

// ListTrendingPapers implements catalogv1.CatalogServiceServer.
func (s *Catalog) ListTrendingPapers(ctx context.Context, req *catalogv1.ListTrendingPapersRequest) (*catalogv1.ListTrendingPapersResponse, error) {
	// The answer depends on the minute: first pages take it as reference time.
	return perMinute(ctx, s, "ListTrendingPapers", "trending", req, s.listTrending)
}

func (s *Catalog) listTrending(req *catalogv1.ListTrendingPapersRequest, minute time.Time) (*catalogv1.ListTrendingPapersResponse, error) {
	var v apierror.Violations
	size := pageSize(&v, req.GetPageSize(), defaultPageSize, maxPageSize)
	view := resolveView(&v, req.GetView(), catalogv1.PaperView_PAPER_VIEW_BASIC)
	window := listing.DefaultWindow
	if w := req.GetWindow(); w != nil {
		if err := w.CheckValid(); err != nil || w.AsDuration() <= 0 || w.AsDuration() > listing.MaxWindow {
			v.Add("window", "must be a positive duration of at most 365 days (8760h)")
		} else {
			window = w.AsDuration()
		}
	}
	q := s.queries.Parse(req.GetFilter(), "")
	if q.FilterErr != nil {
		v.Add("filter", "%s", q.FilterErr.Error())
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	tokenQuery := "trending\x00" + q.Filter.Text + "\x00" + strconv.FormatInt(int64(window), 10)
	after, extra, err := s.Tokens.Resume(tokenQuery, req.GetPageToken(), nil)
	if err != nil {
		return nil, err
	}
	ref := listing.ReferenceTime(extra, minute)
	o := listing.TrendingOrder(ref)
	if after != nil && !o.Valid(after) {
		return nil, listing.ErrInvalidToken
	}
	// Papers submitted after the reference time (within its minute, or while a
	// caller pages) count with age 0.
	from := ref.Add(-window)
	f := q.Filter.SubmittedFrom(from)
	papers, next, total := s.page(f, o, after, size, tokenQuery, ref.Unix())
	resp := &catalogv1.ListTrendingPapersResponse{
		Papers:         make([]*catalogv1.TrendingPaper, len(papers)),
		NextPageToken:  next,
		TotalSize:      total,
		ReferenceTime:  timestamppb.New(ref),
		Window:         durationpb.New(window),
		Gravity:        listing.Gravity,
		AgeOffsetHours: listing.AgeOffsetHours,
	}
	for i, p := range papers {
		m, err := s.proto(p, view)
		if err != nil {
			return nil, err
		}
		resp.Papers[i] = &catalogv1.TrendingPaper{Paper: m, TrendingScore: listing.TrendingScore(p, ref)}
	}
	return resp, nil
}
