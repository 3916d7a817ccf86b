package service

import (
	"context"
	"strings"

	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/grpc/metadata"

	"github.com/papercatalog/papers/cite"
	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	"github.com/papercatalog/papers/repository"
)

// gatewayAccept is the metadata key under which the REST gateway passes a
// request's Accept header (grpc-gateway's prefix for HTTP's own headers).
const gatewayAccept = "grpcgateway-accept"

// CitePaper implements catalogv1.CatalogServiceServer.
func (s *Catalog) CitePaper(ctx context.Context, req *catalogv1.CitePaperRequest) (*httpbody.HttpBody, error) {
	var v violations
	id, problem := parsePaperName(req.GetName())
	if problem != "" {
		v.add("name", "%s", problem)
	}
	f, ok := cite.ParseFormat(req.GetFormat())
	switch {
	case req.GetFormat() == "":
		if f, ok = cite.FromAccept(strings.Join(metadata.ValueFromIncomingContext(ctx, gatewayAccept), ",")); !ok {
			f = cite.BibTeX
		}
	case !ok:
		v.add("format", "must be one of %s", strings.Join(cite.Names(), ", "))
	}
	if err := v.err(); err != nil {
		return nil, s.fail(ctx, "CitePaper", err)
	}
	p, found := s.Model.Get(id)
	if !found {
		return nil, s.fail(ctx, "CitePaper", notFound(id))
	}
	return &httpbody.HttpBody{ContentType: f.ContentType(), Data: []byte(cite.Render(f, citeWork(p)))}, nil
}

// citeWork is what a citation says of a paper.
func citeWork(p *repository.Paper) cite.Work {
	w := cite.Work{ArxivID: p.ID, Title: p.Title, Published: p.PublishedTime, PrimaryCategory: p.PrimaryCategory,
		DOI: p.DOI, JournalRef: p.JournalRef, Abstract: p.Abstract, Keywords: p.Keywords, PDFURL: p.PDFURL}
	for _, a := range p.Authors {
		w.Authors = append(w.Authors, cite.Author{Name: a.Name, Affiliation: a.Affiliation})
	}
	return w
}
