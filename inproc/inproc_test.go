package inproc_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	"github.com/papercatalog/papers/inproc"
)

// echo answers GetPaper with what it saw of the call: the paper's title is the
// caller's x-test metadata, its abstract whether the caller's outgoing
// metadata leaked into the handler's; it sets a header and a trailer, and
// fails for some names.
type echo struct {
	catalogv1.UnimplementedCatalogServiceServer
}

type ctxKey struct{}

func (echo) GetPaper(ctx context.Context, req *catalogv1.GetPaperRequest) (*catalogv1.Paper, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	_ = grpc.SetHeader(ctx, metadata.Pairs("x-echo", strings.Join(md.Get("x-test"), ",")))
	method, _ := grpc.Method(ctx)
	_ = grpc.SetTrailer(ctx, metadata.Pairs("x-trailer", method))
	switch req.GetName() {
	case "papers/missing":
		return nil, status.Error(codes.NotFound, "no such paper")
	case "papers/plain":
		return nil, errors.New("a plain error")
	}
	out, _ := metadata.FromOutgoingContext(ctx)
	p := &catalogv1.Paper{Name: req.GetName(), Title: strings.Join(md.Get("x-test"), ","), Authors: []*catalogv1.Author{{Name: "Ada"}}}
	if len(out) > 0 {
		p.Abstract = "the caller's outgoing metadata reached the handler"
	}
	if v, ok := ctx.Value(ctxKey{}).(string); ok {
		p.Comment = v
	}
	if _, ok := ctx.Deadline(); ok {
		p.Keywords = []string{"deadline"}
	}
	return p, nil
}

// tag is an interceptor that adds its name to the x-test metadata it passes on.
func tag(name string) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		md = md.Copy()
		md.Append("x-test", name+"@"+info.FullMethod[strings.LastIndexByte(info.FullMethod, '/')+1:])
		return next(metadata.NewIncomingContext(ctx, md), req)
	}
}

// overGRPC is a client of the same service and interceptors through a gRPC
// server on an in-memory listener.
func overGRPC(t *testing.T, interceptors ...grpc.UnaryServerInterceptor) catalogv1.CatalogServiceClient {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(interceptors...))
	catalogv1.RegisterCatalogServiceServer(srv, echo{})
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///echo", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return catalogv1.NewCatalogServiceClient(conn)
}

func inProcess(interceptors ...grpc.UnaryServerInterceptor) catalogv1.CatalogServiceClient {
	ch := inproc.New(interceptors...)
	catalogv1.RegisterCatalogServiceServer(ch, echo{})
	return catalogv1.NewCatalogServiceClient(ch)
}

// TestCallsSeeWhatAGRPCServerShows: the same calls in-process and through a
// gRPC server get the same answers, errors, headers and trailers, and the
// interceptors run in the same order.
func TestCallsSeeWhatAGRPCServerShows(t *testing.T) {
	t.Parallel()
	interceptors := []grpc.UnaryServerInterceptor{tag("first"), tag("second")}
	clients := map[string]catalogv1.CatalogServiceClient{"gRPC": overGRPC(t, interceptors...), "in-process": inProcess(interceptors...)}
	type answer struct {
		paper           *catalogv1.Paper
		code            codes.Code
		message         string
		header, trailer string
	}
	for _, name := range []string{"papers/2401.00001", "papers/missing", "papers/plain"} {
		got := map[string]answer{}
		for via, c := range clients {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			ctx = metadata.AppendToOutgoingContext(ctx, "x-test", "caller")
			var header, trailer metadata.MD
			p, err := c.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: name}, grpc.Header(&header), grpc.Trailer(&trailer))
			cancel()
			st := status.Convert(err)
			got[via] = answer{p, st.Code(), st.Message(), strings.Join(header.Get("x-echo"), ","), strings.Join(trailer.Get("x-trailer"), ",")}
		}
		g, ip := got["gRPC"], got["in-process"]
		if !proto.Equal(g.paper, ip.paper) || g.code != ip.code || g.message != ip.message || g.header != ip.header || g.trailer != ip.trailer {
			t.Errorf("%s:\n gRPC       %+v\n in-process %+v", name, g, ip)
		}
		if g.header != "caller,first@GetPaper,second@GetPaper" || g.trailer != "/papers.catalog.v1.CatalogService/GetPaper" {
			t.Errorf("%s: header %q, trailer %q: the test's own expectations do not hold over gRPC", name, g.header, g.trailer)
		}
	}
	if a := getOne(t, clients["in-process"]).GetAbstract(); a != "" {
		t.Errorf("in-process: %s", a)
	}
}

func getOne(t *testing.T, c catalogv1.CatalogServiceClient) *catalogv1.Paper {
	t.Helper()
	ctx := metadata.AppendToOutgoingContext(context.Background(), "x-test", "caller")
	p, err := c.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: "papers/2401.00001"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTheCallersContextComesAlong: the handler runs in the caller's context,
// with its values and deadline; a canceled context reaches it as canceled.
func TestTheCallersContextComesAlong(t *testing.T) {
	t.Parallel()
	c := inProcess()
	ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), ctxKey{}, "from the caller"), time.Minute)
	defer cancel()
	p, err := c.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: "papers/2401.00001"})
	if err != nil {
		t.Fatal(err)
	}
	if p.GetComment() != "from the caller" || len(p.GetKeywords()) != 1 {
		t.Errorf("the handler saw value %q and deadline %v", p.GetComment(), p.GetKeywords())
	}
	if p.GetAuthors()[0].GetName() != "Ada" {
		t.Errorf("nested fields: %v", p.GetAuthors())
	}
}

// TestWhatCannotBeCalled: unknown methods and streams are UNIMPLEMENTED, and a
// service is registered only with an implementation of it.
func TestWhatCannotBeCalled(t *testing.T) {
	t.Parallel()
	ch := inproc.New()
	c := catalogv1.NewCatalogServiceClient(ch)
	if _, err := c.GetPaper(context.Background(), &catalogv1.GetPaperRequest{}); status.Code(err) != codes.Unimplemented {
		t.Errorf("a method of no registered service: %v", err)
	}
	catalogv1.RegisterCatalogServiceServer(ch, echo{})
	if _, err := c.ImportPapers(context.Background()); status.Code(err) != codes.Unimplemented {
		t.Errorf("a streaming call: %v", err)
	}
	if _, err := c.ListPapers(context.Background(), &catalogv1.ListPapersRequest{}); status.Code(err) != codes.Unimplemented {
		t.Errorf("a method the implementation leaves unimplemented: %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("registering a service twice did not panic")
		}
	}()
	catalogv1.RegisterCatalogServiceServer(ch, echo{})
}
