package server_test

import (
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
)

// logLines returns the log lines that contain every one of words.
func logLines(logs *logBuffer, words ...string) []string {
	var out []string
	for l := range strings.SplitSeq(logs.String(), "\n") {
		all := true
		for _, w := range words {
			all = all && strings.Contains(l, w)
		}
		if all && l != "" {
			out = append(out, l)
		}
	}
	return out
}

// TestRequestIDsInLogsAndHeaders: each call's log lines carry its request id,
// the caller's own (X-Request-Id, x-request-id metadata) or a new one, and the
// id comes back in the response; an id that could forge log lines is replaced.
func TestRequestIDsInLogsAndHeaders(t *testing.T) {
	t.Parallel()
	logs := &logBuffer{}
	ts := startLogging(t, testConfig(t), slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	client := ts.client
	ctx := testCtx(t)

	// gRPC, with the caller's id and without.
	var header metadata.MD
	_, err := client.ListPapers(metadata.AppendToOutgoingContext(ctx, "x-request-id", "req-grpc-1"), &catalogv1.ListPapersRequest{}, grpc.Header(&header))
	if err != nil {
		t.Fatal(err)
	}
	if got := header.Get("x-request-id"); len(got) != 1 || got[0] != "req-grpc-1" {
		t.Errorf("gRPC response x-request-id %q, want the caller's", got)
	}
	if l := logLines(logs, "grpc call", "ListPapers", "request_id=req-grpc-1"); len(l) != 1 {
		t.Errorf("log lines of the call with request_id=req-grpc-1: %q\n%s", l, logs.String())
	}
	if _, err := client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: "papers/2401.99999"}, grpc.Header(&header)); err == nil {
		t.Fatal("a missing paper was found")
	}
	generated := header.Get("x-request-id")
	if len(generated) != 1 || !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(generated[0]) {
		t.Fatalf("generated id %q, want 16 hex digits", generated)
	}
	if l := logLines(logs, "grpc call", "GetPaper", "request_id="+generated[0]); len(l) != 1 {
		t.Errorf("log lines with the generated id: %q", l)
	}

	// REST: the streamed import goes over the loopback connection and logs
	// "import done" with the caller's id.
	post := func(id string) http.Header {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, ts.base+"/v1/papers:import",
			strings.NewReader(`{"records":[{"paper_id":"2401.00001","paper":{"title":"T","abstract":"A"}}]}`+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+adminToken)
		if id != "" {
			req.Header.Set("X-Request-Id", id)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("import: %d %s", resp.StatusCode, b)
		}
		return resp.Header
	}
	hdr := post("req-rest-1")
	if got := hdr.Get("X-Request-Id"); got != "req-rest-1" {
		t.Errorf("REST X-Request-Id %q, want the caller's", got)
	}
	if _, ok := hdr["Grpc-Metadata-X-Request-Id"]; ok {
		t.Errorf("the id came back twice: %v", hdr)
	}
	if l := logLines(logs, "import done", "request_id=req-rest-1"); len(l) != 1 {
		t.Errorf("import log lines with request_id=req-rest-1: %q\n%s", l, logs.String())
	}
	id := post("evil\" level=ERROR msg=forged").Get("X-Request-Id")
	if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(id) {
		t.Errorf("a hostile id came back as %q, want a new one", id)
	}
	if strings.Contains(logs.String(), "forged") {
		t.Errorf("the hostile id reached the log")
	}
	if l := logLines(logs, "import done", "request_id="+id); len(l) != 1 {
		t.Errorf("import log lines with the new id %s: %q", id, l)
	}
}
