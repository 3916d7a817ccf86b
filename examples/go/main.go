// Command goclient is a Go client of paperd built from the generated module
// github.com/papercatalog/papers/gen, as an outside team would write it: it
// imports papers with a client stream, reads one back, lists them with a filter
// a page at a time, and reads the field violations of a refused request.
// .ci/consumers runs it against a live paperd, built with the oldest Go that
// gen/go.mod allows.
//
//	go run . -addr localhost:9090 -admin-token dev-admin-token
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
)

func main() {
	addr := flag.String("addr", "localhost:9090", "paperd's gRPC address")
	token := flag.String("admin-token", "dev-admin-token", "an admin token of paperd, for the import")
	flag.Parse()
	if err := run(*addr, *token); err != nil {
		fmt.Fprintln(os.Stderr, "goclient:", err)
		os.Exit(1)
	}
}

const (
	category = "consumers.go"
	count    = 25
)

func run(addr, token string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	client := catalogv1.NewCatalogServiceClient(conn)

	// A streamed import: three messages of at most 10 records.
	stream, err := client.ImportPapers(metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token))
	if err != nil {
		return err
	}
	var batch []*catalogv1.ImportRecord
	for i := 1; i <= count; i++ {
		batch = append(batch, &catalogv1.ImportRecord{
			PaperId: fmt.Sprintf("2503.%05d", i),
			Paper:   &catalogv1.Paper{Title: fmt.Sprintf("Go consumer paper %d", i), Categories: []string{category}},
		})
		if len(batch) == 10 || i == count {
			if err := stream.Send(&catalogv1.ImportPapersRequest{Records: batch}); err != nil {
				return err
			}
			batch = nil
		}
	}
	res, err := stream.CloseAndRecv()
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	if got := res.GetCreated() + res.GetUpdated() + res.GetUnchanged(); got != count || res.GetRejected() != 0 {
		return fmt.Errorf("import: %v, want %d papers imported", res, count)
	}
	fmt.Printf("import: %d created, %d unchanged\n", res.GetCreated(), res.GetUnchanged())

	paper, err := client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: "papers/2503.00007"})
	if err != nil {
		return fmt.Errorf("get: %w", err)
	}
	if paper.GetTitle() != "Go consumer paper 7" {
		return fmt.Errorf("get: title %q", paper.GetTitle())
	}
	fmt.Printf("get: %s %q, %d upvotes\n", paper.GetName(), paper.GetTitle(), paper.GetUpvotes())

	seen := map[string]bool{}
	pages := 0
	for token := ""; pages == 0 || token != ""; pages++ {
		page, err := client.ListPapers(ctx, &catalogv1.ListPapersRequest{
			Filter: fmt.Sprintf("categories:%q", category), PageSize: 10, PageToken: token,
		})
		if err != nil {
			return fmt.Errorf("list: %w", err)
		}
		for _, p := range page.GetPapers() {
			seen[p.GetName()] = true
		}
		token = page.GetNextPageToken()
	}
	if len(seen) != count || pages != 3 {
		return fmt.Errorf("list: %d papers in %d pages, want %d in 3", len(seen), pages, count)
	}
	fmt.Printf("list: %d papers in %d pages\n", len(seen), pages)

	_, err = client.ListPapers(ctx, &catalogv1.ListPapersRequest{Filter: "bogus = 1"})
	st, _ := status.FromError(err)
	var field, reason string
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			reason = d.GetReason()
			fmt.Printf("error: %s, reason %s (%s)\n", st.Code(), reason, d.GetDomain())
		case *errdetails.BadRequest:
			if len(d.GetFieldViolations()) > 0 {
				field = d.GetFieldViolations()[0].GetField()
				fmt.Printf("error: %s, field %s: %s\n", st.Code(), field, d.GetFieldViolations()[0].GetDescription())
			}
		}
	}
	if st.Code() != codes.InvalidArgument || field != "filter" || reason != "INVALID_FILTER" {
		return errors.Join(errors.New("a bad filter: want INVALID_ARGUMENT, reason INVALID_FILTER, with a violation of field filter"), err)
	}
	return nil
}
