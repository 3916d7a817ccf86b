package server_test

import (
	"bytes"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
)

// otlpReceiver is an OTLP/HTTP trace receiver: it keeps every span sent to it.
type otlpReceiver struct {
	mu    sync.Mutex
	spans []*tracepb.Span
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	var req coltrace.ExportTraceServiceRequest
	if err != nil || r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
		http.Error(w, "bad export", http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			o.spans = append(o.spans, ss.GetSpans()...)
		}
	}
	o.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
	_, _ = w.Write(out)
}

// trace returns the spans of one trace.
func (o *otlpReceiver) trace(id []byte) []*tracepb.Span {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []*tracepb.Span
	for _, s := range o.spans {
		if bytes.Equal(s.GetTraceId(), id) {
			out = append(out, s)
		}
	}
	return out
}

func (o *otlpReceiver) named(name string) []*tracepb.Span {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []*tracepb.Span
	for _, s := range o.spans {
		if s.GetName() == name {
			out = append(out, s)
		}
	}
	return out
}

func attr(s *tracepb.Span, key string) string {
	for _, a := range s.GetAttributes() {
		if a.GetKey() == key {
			return a.GetValue().GetStringValue()
		}
	}
	return ""
}

// descends reports whether span s has ancestor a within the spans of its trace.
func descends(s, a *tracepb.Span, all []*tracepb.Span) bool {
	byID := map[string]*tracepb.Span{}
	for _, x := range all {
		byID[string(x.GetSpanId())] = x
	}
	for cur := s; cur != nil; cur = byID[string(cur.GetParentSpanId())] {
		if bytes.Equal(cur.GetParentSpanId(), a.GetSpanId()) {
			return true
		}
	}
	return false
}

// TestTracingSpansGatewayRPCAndMongoDB: with an OTLP endpoint set, a REST write
// is one trace: the HTTP request, the RPC the gateway calls, and the MongoDB
// commands it runs, each a child of the one before; the caller's traceparent is
// kept. A gRPC call is traced the same way.
func TestTracingSpansGatewayRPCAndMongoDB(t *testing.T) {
	t.Parallel()
	rcv := &otlpReceiver{}
	collector := httptest.NewServer(rcv)
	defer collector.Close()
	cfg := testConfig(t)
	cfg.OTLPEndpoint, cfg.OTLPProtocol = collector.URL, "http/protobuf"
	ts := startServer(t, cfg)

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	req, err := http.NewRequestWithContext(testCtx(t), http.MethodPost, ts.base+"/v1/papers?paper_id="+paperID(1),
		strings.NewReader(`{"title":"Traced","abstract":"A paper written through the gateway."}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("REST create: %d", resp.StatusCode)
	}
	if _, err := ts.client.CreatePaper(admin(testCtx(t)), &catalogv1.CreatePaperRequest{PaperId: paperID(2), Paper: newPaper(2)}); err != nil {
		t.Fatal(err)
	}

	id, err := hex.DecodeString(traceID)
	if err != nil {
		t.Fatal(err)
	}
	var spans []*tracepb.Span
	var httpSpan, rpcSpan *tracepb.Span
	var mongoSpans []*tracepb.Span
	deadline := time.Now().Add(20 * time.Second) // the batcher sends every 5 s
	for {
		spans = rcv.trace(id)
		httpSpan, rpcSpan, mongoSpans = nil, nil, nil
		for _, s := range spans {
			switch {
			case s.GetName() == "POST /v1/papers" && s.GetKind() == tracepb.Span_SPAN_KIND_SERVER:
				httpSpan = s
			case s.GetName() == "papers.catalog.v1.CatalogService/CreatePaper":
				rpcSpan = s
			case attr(s, "db.system.name") == "mongodb" && s.GetKind() == tracepb.Span_SPAN_KIND_CLIENT:
				mongoSpans = append(mongoSpans, s)
			}
		}
		if httpSpan != nil && rpcSpan != nil && len(mongoSpans) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if httpSpan == nil || rpcSpan == nil || len(mongoSpans) == 0 {
		names := []string{}
		for _, s := range spans {
			names = append(names, s.GetName())
		}
		t.Fatalf("trace %s: spans %q; want the HTTP request, the RPC and MongoDB commands", traceID, names)
	}
	if !bytes.Equal(rpcSpan.GetParentSpanId(), httpSpan.GetSpanId()) {
		t.Errorf("the RPC span's parent is not the HTTP span")
	}
	if attr(rpcSpan, "rpc.system") != "grpc" || attr(rpcSpan, "rpc.method") != "CreatePaper" {
		t.Errorf("RPC span attributes: %v", rpcSpan.GetAttributes())
	}
	inserts := 0
	for _, m := range mongoSpans {
		if !descends(m, rpcSpan, spans) {
			t.Errorf("MongoDB span %q is not under the RPC span", m.GetName())
		}
		if attr(m, "db.operation.name") == "insert" {
			inserts++
		}
	}
	if inserts == 0 {
		t.Errorf("no insert among the MongoDB spans of the create")
	}

	// The gRPC call: a server span from the gRPC server, with MongoDB commands under it.
	var grpcSpan *tracepb.Span
	for _, s := range rcv.named("papers.catalog.v1.CatalogService/CreatePaper") {
		if s.GetKind() == tracepb.Span_SPAN_KIND_SERVER {
			grpcSpan = s
		}
	}
	if grpcSpan == nil {
		t.Fatal("no server span for the gRPC CreatePaper")
	}
	found := false
	for _, s := range rcv.trace(grpcSpan.GetTraceId()) {
		found = found || (attr(s, "db.system.name") == "mongodb" && descends(s, grpcSpan, rcv.trace(grpcSpan.GetTraceId())))
	}
	if !found {
		t.Error("no MongoDB span under the gRPC server span")
	}

	// A streamed REST import goes to the gRPC server over a loopback
	// connection: the trace goes on through it.
	const importTrace = "0af7651916cd43dd8448eb211c80319c"
	req, err = http.NewRequestWithContext(testCtx(t), http.MethodPost, ts.base+"/v1/papers:import",
		strings.NewReader(`{"records":[{"paper_id":"2401.00077","paper":{"title":"T","abstract":"A"}}]}`+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Traceparent", "00-"+importTrace+"-b7ad6b7169203331-01")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("REST import: %d", resp.StatusCode)
	}
	importID, _ := hex.DecodeString(importTrace)
	var kinds []string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		kinds = kinds[:0]
		for _, s := range rcv.trace(importID) {
			kinds = append(kinds, s.GetKind().String()+" "+s.GetName())
		}
		if slices.Contains(kinds, "SPAN_KIND_SERVER papers.catalog.v1.CatalogService/ImportPapers") &&
			slices.Contains(kinds, "SPAN_KIND_SERVER POST /v1/papers:import") {
			return
		}
	}
	t.Errorf("the import's trace has %q; want the HTTP request and the gRPC server's ImportPapers", kinds)
}
