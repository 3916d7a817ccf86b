// Package service implements the gRPC services: each handler validates its request,
// calls an engine (or reads the read model), converts the answer into the API's
// types and its error into a status (apierror.Status, the one table).
package service

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/papercatalog/papers/apierror"
	"github.com/papercatalog/papers/auth"
	"github.com/papercatalog/papers/catalog"
	"github.com/papercatalog/papers/clock"
	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	"github.com/papercatalog/papers/importer"
	"github.com/papercatalog/papers/listing"
	"github.com/papercatalog/papers/memo"
	"github.com/papercatalog/papers/paperpb"
	"github.com/papercatalog/papers/readmodel"
	"github.com/papercatalog/papers/reason"
	"github.com/papercatalog/papers/repository"
	"github.com/papercatalog/papers/search"
	"github.com/papercatalog/papers/votes"
)

// Page sizes of ListPapers.
const (
	defaultPageSize = 50
	maxPageSize     = 1000
)

// Catalog implements catalogv1.CatalogServiceServer.
type Catalog struct {
	catalogv1.UnimplementedCatalogServiceServer

	Papers repository.Papers
	Votes  repository.Votes
	Model  *readmodel.Model
	// Search and Indexer serve SearchPapers and ListSimilarPapers; nil refuses
	// them with UNAVAILABLE.
	Search  *search.Index
	Indexer *search.Indexer
	Tokens  *listing.Tokens
	Log     *slog.Logger
	// Writer writes papers: CreatePaper, UpdatePaper, DeletePaper and imports.
	Writer *catalog.Writer
	// Upvotes records users' upvotes (UpvotePaper, RemovePaperUpvote).
	Upvotes *votes.Recorder
	// Stats counts imported records.
	Stats Stats
	// Clock gives the time of writes: versions, timestamps, the change log's
	// times and the reference minute of trending (nil: the system's clock).
	Clock clock.Clock

	protosOnce sync.Once
	protos     *paperpb.Cache
	queries    listing.Cache
	responses  memo.Responses

	importOnce sync.Once
	imports    *importer.Importer
}

var _ catalogv1.CatalogServiceServer = (*Catalog)(nil)

// cache returns the cache of the papers' messages.
func (s *Catalog) cache() *paperpb.Cache {
	s.protosOnce.Do(func() { s.protos = paperpb.NewCache(s.Model.Full) })
	return s.protos
}

// proto returns paper p in view, as the API shows it.
func (s *Catalog) proto(p *repository.Paper, view catalogv1.PaperView) (*catalogv1.Paper, error) {
	return s.cache().Get(p, view)
}

// protosOf returns papers in view, as the API shows them.
func (s *Catalog) protosOf(papers []*repository.Paper, view catalogv1.PaperView) ([]*catalogv1.Paper, error) {
	out := make([]*catalogv1.Paper, len(papers))
	for i, p := range papers {
		m, err := s.proto(p, view)
		if err != nil {
			return nil, err
		}
		out[i] = m
	}
	return out, nil
}

func (s *Catalog) fail(ctx context.Context, method string, err error) error {
	return apierror.Status(ctx, s.Log, method, err)
}

// answer is a handler that needs nothing around its work: handle's response to
// req, or handle's error as the status of method (see fail).
func answer[Req, Resp any](ctx context.Context, s *Catalog, method string, req Req, handle func(context.Context, Req) (Resp, error)) (Resp, error) {
	resp, err := handle(ctx, req)
	if err != nil {
		var none Resp
		return none, s.fail(ctx, method, err)
	}
	return resp, nil
}

// writeError maps the write path's own errors on paper id to the service's.
func writeError(id string, err error) error {
	var stale *catalog.StaleError
	switch {
	case errors.Is(err, catalog.ErrNotFound):
		return notFound(id)
	case errors.Is(err, repository.ErrAlreadyExists):
		return apierror.Errorf(codes.AlreadyExists, "paper %s already exists", paperpb.Name(id))
	case errors.As(err, &stale):
		return &apierror.Error{Code: codes.Aborted, Reason: reason.EtagMismatch, Message: stale.Error()}
	}
	return err
}

// CreatePaper implements catalogv1.CatalogServiceServer.
func (s *Catalog) CreatePaper(ctx context.Context, req *catalogv1.CreatePaperRequest) (*catalogv1.Paper, error) {
	return answer(ctx, s, "CreatePaper", req, s.createPaper)
}

func (s *Catalog) createPaper(ctx context.Context, req *catalogv1.CreatePaperRequest) (*catalogv1.Paper, error) {
	var v apierror.Violations
	id, problem := paperpb.ParseID(req.GetPaperId())
	if problem != "" {
		v.Add("paper_id", "%s", problem)
	}
	textLimit(&v, "request_id", req.GetRequestId(), maxRequestID)
	if req.GetPaper() == nil {
		v.Add("paper", "is required")
		return nil, v.Err()
	}
	paperpb.CheckTimestamps(&v, "paper.", req.GetPaper())
	t := s.Writer.Now()
	p := &repository.Paper{ID: id, RequestID: req.GetRequestId(), CreateTime: t, UpdateTime: t}
	paperpb.SetWritable(p, req.GetPaper())
	repository.CompleteNew(p, t)
	validatePaper(&v, "paper.", p)
	if err := v.Err(); err != nil {
		return nil, err
	}
	p, err := s.Writer.Create(ctx, p)
	return written(p, writeError(id, err))
}

// written is the response to a paper write: the paper as stored, in full; or
// err.
func written(p *repository.Paper, err error) (*catalogv1.Paper, error) {
	if err != nil {
		return nil, err
	}
	return paperpb.From(p, catalogv1.PaperView_PAPER_VIEW_FULL), nil
}

// GetPaper implements catalogv1.CatalogServiceServer.
func (s *Catalog) GetPaper(ctx context.Context, req *catalogv1.GetPaperRequest) (*catalogv1.Paper, error) {
	var v apierror.Violations
	view := resolveView(&v, req.GetView(), catalogv1.PaperView_PAPER_VIEW_FULL)
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, "GetPaper", err)
	}
	caller := auth.FromContext(ctx)
	p, err := s.get("name", req.GetName())
	if err != nil {
		return nil, s.fail(ctx, "GetPaper", err)
	}
	return s.forViewer(p, view, caller.User != "" && s.Model.HasVote(repository.Vote{PaperID: p.ID, User: caller.User}))
}

func (s *Catalog) get(field, name string) (*repository.Paper, error) {
	id, problem := paperpb.ParseName(name)
	if problem != "" {
		var v apierror.Violations
		v.Add(field, "%s", problem)
		return nil, v.Err()
	}
	p, ok := s.Model.Get(id)
	if !ok {
		return nil, notFound(id)
	}
	return p, nil
}

// notFound is the error of a paper that does not exist.
func notFound(id string) error {
	return &apierror.Error{Code: codes.NotFound, Reason: reason.PaperNotFound, Resource: paperpb.Name(id), Message: "paper " + paperpb.Name(id) + " not found"}
}

// BatchGetPapers implements catalogv1.CatalogServiceServer.
func (s *Catalog) BatchGetPapers(ctx context.Context, req *catalogv1.BatchGetPapersRequest) (*catalogv1.BatchGetPapersResponse, error) {
	names := req.GetNames()
	var v apierror.Violations
	view := resolveView(&v, req.GetView(), catalogv1.PaperView_PAPER_VIEW_FULL)
	switch {
	case len(names) == 0:
		v.Add("names", "at least one name is required")
	case len(names) > maxBatch:
		v.Add("names", "at most %d names are allowed, got %d", maxBatch, len(names))
	}
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, "BatchGetPapers", err)
	}
	resp := &catalogv1.BatchGetPapersResponse{Papers: make([]*catalogv1.Paper, 0, len(names))}
	for i, name := range names {
		if _, problem := paperpb.ParseName(name); problem != "" {
			v.Add("names["+strconv.Itoa(i)+"]", "%s", problem)
		}
	}
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, "BatchGetPapers", err)
	}
	for _, name := range names {
		p, err := s.get("names", name)
		if err != nil {
			return nil, s.fail(ctx, "BatchGetPapers", err)
		}
		m, err := s.proto(p, view)
		if err != nil {
			return nil, s.fail(ctx, "BatchGetPapers", err)
		}
		resp.Papers = append(resp.Papers, m)
	}
	return resp, nil
}

// ListPapers implements catalogv1.CatalogServiceServer.
func (s *Catalog) ListPapers(ctx context.Context, req *catalogv1.ListPapersRequest) (*catalogv1.ListPapersResponse, error) {
	resp, err := cachedResponse(s, memo.Key("list", req), func() (*catalogv1.ListPapersResponse, error) {
		return s.listPapers(req)
	})
	if err != nil {
		return nil, s.fail(ctx, "ListPapers", err)
	}
	return resp, nil
}

func (s *Catalog) listPapers(req *catalogv1.ListPapersRequest) (*catalogv1.ListPapersResponse, error) {
	var v apierror.Violations
	size := pageSize(&v, req.GetPageSize(), defaultPageSize, maxPageSize)
	view := resolveView(&v, req.GetView(), catalogv1.PaperView_PAPER_VIEW_BASIC)
	q := s.queries.Parse(req.GetFilter(), req.GetOrderBy())
	if q.FilterErr != nil {
		v.Add("filter", "%s", q.FilterErr.Error())
	}
	if q.OrderErr != nil {
		v.Add("order_by", "%s", q.OrderErr.Error())
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	tokenQuery := "papers\x00" + q.Filter.Text + "\x00" + q.Order.Text
	after, _, err := s.Tokens.Resume(tokenQuery, req.GetPageToken(), &q.Order)
	if err != nil {
		return nil, err
	}
	papers, next, total := s.page(q.Filter, q.Order, after, size, tokenQuery, 0)
	msgs, err := s.protosOf(papers, view)
	if err != nil {
		return nil, err
	}
	return &catalogv1.ListPapersResponse{Papers: msgs, NextPageToken: next, TotalSize: total}, nil
}

// pageSize applies the page size rules of the list methods: 0 means def, larger
// than most is lowered to most, negative is a violation.
func pageSize(v *apierror.Violations, size int32, def, most int) int {
	switch {
	case size < 0:
		v.Add("page_size", "must not be negative")
		return 0
	case size == 0:
		return def
	}
	return min(int(size), most)
}

// page lists the papers that f matches in order o and returns those after the
// key after (all from the start when nil), at most size of them, the token of
// the next page ("" after the last) and how many f matches in all.
func (s *Catalog) page(f listing.Filter, o listing.Order, after listing.Key, size int, tokenQuery string, extra int64) ([]*repository.Paper, string, int32) {
	res := s.Model.List(f, o)
	total := int32(min(len(res.Papers), 1<<31-1)) //nolint:gosec // clamped
	papers, last := res.Page(o, after, size)
	if last == nil {
		return papers, "", total
	}
	return papers, s.Tokens.EncodeExtra(tokenQuery, last, extra), total
}

// UpdatePaper implements catalogv1.CatalogServiceServer.
func (s *Catalog) UpdatePaper(ctx context.Context, req *catalogv1.UpdatePaperRequest) (*catalogv1.Paper, error) {
	return answer(ctx, s, "UpdatePaper", req, s.updatePaper)
}

func (s *Catalog) updatePaper(ctx context.Context, req *catalogv1.UpdatePaperRequest) (*catalogv1.Paper, error) {
	var v apierror.Violations
	if req.GetPaper() == nil {
		v.Add("paper", "is required")
		return nil, v.Err()
	}
	mask, err := paperpb.UpdateMask(req.GetPaper(), req.GetUpdateMask())
	if err != nil {
		return nil, err
	}
	paperpb.CheckTimestamps(&v, "paper.", req.GetPaper())
	cur, err := s.get("paper.name", req.GetPaper().GetName())
	if err != nil {
		return nil, err
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	p, err := s.Writer.Update(ctx, cur.ID, req.GetPaper().GetEtag(), func(cur *repository.Paper) (repository.Paper, error) {
		next := paperpb.ApplyMask(cur, req.GetPaper(), mask)
		validatePaper(&v, "paper.", &next)
		return next, v.Err()
	})
	return written(p, writeError(cur.ID, err))
}

// DeletePaper implements catalogv1.CatalogServiceServer.
func (s *Catalog) DeletePaper(ctx context.Context, req *catalogv1.DeletePaperRequest) (*emptypb.Empty, error) {
	if err := s.deletePaper(ctx, req); err != nil {
		return nil, s.fail(ctx, "DeletePaper", err)
	}
	return &emptypb.Empty{}, nil
}

func (s *Catalog) deletePaper(ctx context.Context, req *catalogv1.DeletePaperRequest) error {
	id, problem := paperpb.ParseName(req.GetName())
	if problem != "" {
		var v apierror.Violations
		v.Add("name", "%s", problem)
		return v.Err()
	}
	if err := s.Writer.Delete(ctx, id, req.GetEtag()); err != nil {
		return writeError(id, err)
	}
	s.cache().Forget(id)
	return nil
}

// resolveView returns the view to use for a request's view field, with def for
// PAPER_VIEW_UNSPECIFIED; an unknown value is a violation.
func resolveView(v *apierror.Violations, view, def catalogv1.PaperView) catalogv1.PaperView {
	switch view {
	case catalogv1.PaperView_PAPER_VIEW_UNSPECIFIED:
		return def
	case catalogv1.PaperView_PAPER_VIEW_BASIC, catalogv1.PaperView_PAPER_VIEW_FULL:
		return view
	}
	v.Add("view", "must be PAPER_VIEW_BASIC or PAPER_VIEW_FULL")
	return def
}

// Encoded returns the wire encoding of a response this service handed out from
// its cache, so the gRPC codec can send it without marshalling it again.
func (s *Catalog) Encoded(m any) ([]byte, bool) { return s.responses.Encoded(m) }

// cachedResponse returns the cached response to the request identified by key
// (see memo.Key), or makes it with build and caches it until the read model
// changes.
func cachedResponse[T proto.Message](s *Catalog, key string, build func() (T, error)) (T, error) {
	return memo.Do(&s.responses, key, s.Model.Generation(), build)
}
