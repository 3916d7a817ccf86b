package service

import (
	"context"
	"strings"

	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/grpc/metadata"

	"github.com/papercatalog/papers/apierror"
	"github.com/papercatalog/papers/cite"
	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	"github.com/papercatalog/papers/paperpb"
)

// gatewayAccept is the metadata key under which the REST gateway passes a
// request's Accept header (grpc-gateway's prefix for HTTP's own headers).
const gatewayAccept = "grpcgateway-accept"

// CitePaper implements catalogv1.CatalogServiceServer.
func (s *Catalog) CitePaper(ctx context.Context, req *catalogv1.CitePaperRequest) (*httpbody.HttpBody, error) {
	var v apierror.Violations
	id, problem := paperpb.ParseName(req.GetName())
	if problem != "" {
		v.Add("name", "%s", problem)
	}
	f, ok := cite.ParseFormat(req.GetFormat())
	switch {
	case req.GetFormat() == "":
		if f, ok = cite.FromAccept(strings.Join(metadata.ValueFromIncomingContext(ctx, gatewayAccept), ",")); !ok {
			f = cite.BibTeX
		}
	case !ok:
		v.Add("format", "must be one of %s", strings.Join(cite.Names(), ", "))
	}
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, "CitePaper", err)
	}
	p, found := s.Model.Get(id)
	if !found {
		return nil, s.fail(ctx, "CitePaper", notFound(id))
	}
	p, err := s.Model.Full(p)
	if err != nil {
		return nil, s.fail(ctx, "CitePaper", err)
	}
	return &httpbody.HttpBody{ContentType: f.ContentType(), Data: []byte(cite.Render(f, cite.Of(p)))}, nil
}
