package server_test

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/papercatalog/papers/auth"
	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
)

func mustLimit(t *testing.T, s string) auth.RateLimit {
	t.Helper()
	l, err := auth.ParseRateLimit(s)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestWritesAreRateLimitedPerClient: past its write limit a client gets
// RESOURCE_EXHAUSTED with the time to wait (gRPC retry-after and RetryInfo, REST
// 429 and Retry-After), before its token is even looked at; writes and REST
// calls share the client's bucket, and reads are not limited.
func TestWritesAreRateLimitedPerClient(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.WriteRateLimit = mustLimit(t, "3/1h")
	ts := startServer(t, cfg)
	ctx := testCtx(t)
	for i := range 3 {
		if _, err := ts.client.CreatePaper(admin(ctx), &catalogv1.CreatePaperRequest{PaperId: paperID(i), Paper: newPaper(i)}); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	var header metadata.MD
	_, err := ts.client.CreatePaper(admin(ctx), &catalogv1.CreatePaperRequest{PaperId: paperID(3), Paper: newPaper(3)}, grpc.Header(&header))
	st := status.Convert(err)
	if st.Code() != codes.ResourceExhausted {
		t.Fatalf("4th write: %v, want RESOURCE_EXHAUSTED", err)
	}
	secs, _ := strconv.Atoi(strings.Join(header.Get("retry-after"), ""))
	if secs < 60 || secs > 1201 {
		t.Errorf("retry-after %q: want the time to the next of 3 calls an hour (about 1200 s)", header.Get("retry-after"))
	}
	var info *errdetails.RetryInfo
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			info = ri
		}
	}
	if info == nil || info.GetRetryDelay().AsDuration() != time.Duration(secs)*time.Second {
		t.Errorf("RetryInfo %v, want %d s", info, secs)
	}
	// Not stored: the refused write is not there.
	if _, err := ts.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: "papers/" + paperID(3)}); status.Code(err) != codes.NotFound {
		t.Errorf("the refused paper: %v, want NOT_FOUND", err)
	}
	// A wrong token is refused the same way: guessing tokens is slowed down too.
	bad := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer not-the-token")
	if _, err := ts.client.DeletePaper(bad, &catalogv1.DeletePaperRequest{Name: "papers/" + paperID(0)}); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("delete with a wrong token past the limit: %v, want RESOURCE_EXHAUSTED", err)
	}
	// REST comes from the same address and shares the bucket.
	r := ts.rest(t, "POST", "/v1/papers?paper_id="+paperID(4), adminToken, map[string]any{"title": "T", "abstract": "A"})
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Errorf("REST write past the limit: %d, Retry-After %q, %s", r.Status, r.Header.Get("Retry-After"), r.Raw)
	}
	// Reads are not limited.
	for range 10 {
		if _, err := ts.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: "papers/" + paperID(0)}); err != nil {
			t.Fatalf("read: %v", err)
		}
	}
	if r := ts.rest(t, "GET", "/v1/papers/"+paperID(1), "", nil); r.Status != http.StatusOK {
		t.Errorf("REST read: %d %s", r.Status, r.Raw)
	}
}

// TestUpvotesAreRateLimitedPerUser: each user has an upvote budget of their
// own; one user's flood does not refuse another's.
func TestUpvotesAreRateLimitedPerUser(t *testing.T) {
	t.Parallel()
	cfg := userConfig(t)
	cfg.UpvoteRateLimit = mustLimit(t, "2/1h")
	ts := startServer(t, cfg)
	ctx := testCtx(t)
	for i := range 3 {
		if _, err := ts.client.CreatePaper(admin(ctx), &catalogv1.CreatePaperRequest{PaperId: paperID(i), Paper: newPaper(i)}); err != nil {
			t.Fatal(err)
		}
	}
	alice, bob := asUser(ctx, userToken(t, "alice")), asUser(ctx, userToken(t, "bob"))
	for i := range 2 {
		if _, err := ts.client.UpvotePaper(alice, &catalogv1.UpvotePaperRequest{Name: "papers/" + paperID(i)}); err != nil {
			t.Fatalf("alice's upvote %d: %v", i, err)
		}
	}
	if _, err := ts.client.UpvotePaper(alice, &catalogv1.UpvotePaperRequest{Name: "papers/" + paperID(2)}); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("alice's 3rd upvote: %v, want RESOURCE_EXHAUSTED", err)
	}
	p, err := ts.client.UpvotePaper(bob, &catalogv1.UpvotePaperRequest{Name: "papers/" + paperID(2)})
	if err != nil {
		t.Fatalf("bob's upvote: %v", err)
	}
	if p.GetUpvotes() != 1 {
		t.Errorf("paper 2 has %d upvotes, want only bob's", p.GetUpvotes())
	}
	r := ts.rest(t, "POST", "/v1/papers/"+paperID(2)+":upvote", userToken(t, "alice"), map[string]any{})
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Errorf("alice over REST: %d, Retry-After %q, %s", r.Status, r.Header.Get("Retry-After"), r.Raw)
	}
}

// TestSubscribeFormIsLimitedPerClientAddress: the home page's form counts each
// client address apart (127.0.0.1 and 127.0.0.2 here), as the API does.
func TestSubscribeFormIsLimitedPerClientAddress(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.SubscribeRateLimit = mustLimit(t, "2/1h")
	ts := startServer(t, cfg)
	from := func(ip string) *http.Client {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	}
	post := func(c *http.Client, i int) int {
		req, err := http.NewRequestWithContext(testCtx(t), http.MethodPost, ts.base+"/subscribe",
			strings.NewReader(url.Values{"email": {fmt.Sprintf("f%d@example.org", i)}}.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	one, two := from("127.0.0.1"), from("127.0.0.2")
	got := []int{post(one, 0), post(one, 1), post(one, 2), post(two, 3)}
	want := []int{200, 200, 429, 200}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("form posts: %v, want %v", got, want)
			break
		}
	}
}
