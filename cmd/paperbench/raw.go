package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
)

// rawCodec sends requests that are already encoded and hands responses back as
// bytes, so the load it generates costs little CPU beside paperd's: ghz decodes
// every response with dynamic messages, which on two cores makes large answers
// measure ghz rather than paperd. It keeps the name "proto": the bytes are.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *v.(*[]byte), nil }

func (rawCodec) Unmarshal(data []byte, v any) error {
	*v.(*[]byte) = append((*v.(*[]byte))[:0], data...)
	return nil
}

func (rawCodec) Name() string { return "proto" }

// rawCall is what the raw load generator sends: a method and the requests it
// cycles through, each sent as often as the others.
type rawCall struct {
	method string
	reqs   []proto.Message
	md     metadata.MD
}

// rawResult is one raw run's outcome.
type rawResult struct {
	RPS    float64          `json:"rps"`
	P50ms  float64          `json:"p50_ms"`
	P99ms  float64          `json:"p99_ms"`
	Count  int64            `json:"requests"`
	Errors int64            `json:"errors"`
	Codes  map[string]int64 `json:"error_codes,omitempty"`
	// ServerCPUus is paperd's CPU time per request during the run, in µs.
	ServerCPUus float64 `json:"server_cpu_us_per_request"`
}

// runRaw loads paperd with call from o.concurrency workers over o.concurrency/4
// connections for o.duration, after a two-second warm-up, and counts every
// answer that is not OK as an error. Each connection is set up by one health
// check first.
func runRaw(ctx context.Context, addr string, call rawCall, o options) (rawResult, error) {
	if len(call.reqs) == 0 {
		return rawResult{}, errors.New("no requests")
	}
	bodies := make([][]byte, len(call.reqs))
	for i, r := range call.reqs {
		b, err := proto.Marshal(r)
		if err != nil {
			return rawResult{}, err
		}
		bodies[i] = b
	}
	conns := make([]*grpc.ClientConn, max(1, o.concurrency/4))
	for i := range conns {
		c, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})))
		if err != nil {
			return rawResult{}, err
		}
		defer func() { _ = c.Close() }()
		conns[i] = c
	}
	if call.md != nil {
		ctx = metadata.NewOutgoingContext(ctx, call.md)
	}
	for _, c := range conns {
		if err := c.Invoke(ctx, "/grpc.health.v1.Health/Check", new([]byte), new([]byte)); err != nil {
			return rawResult{}, fmt.Errorf("connect: %w", err)
		}
	}
	// A warm-up, as ghz and h2load have: the calls that begin before start are
	// not measured.
	start := time.Now().Add(2 * time.Second)
	end := start.Add(o.duration)
	var from, next atomic.Int64
	from.Store(start.UnixNano())
	recs := make([]*recorder, o.concurrency)
	var wg sync.WaitGroup
	for w := range recs {
		recs[w] = newRecorder(&from)
		wg.Go(func() {
			conn := conns[w%len(conns)]
			var resp []byte
			for time.Now().Before(end) && ctx.Err() == nil {
				body := bodies[int(next.Add(1)-1)%len(bodies)]
				began := time.Now()
				cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				err := conn.Invoke(cctx, call.method, &body, &resp)
				cancel()
				recs[w].addErr(call.method, began, grpcCode(err), "OK", err)
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	if ctx.Err() != nil {
		return rawResult{}, ctx.Err()
	}
	c := merged(recs).stats(call.method).figures(call.method, took)
	res := rawResult{RPS: c.RPS, P50ms: c.P50ms, P99ms: c.P99ms, Count: c.Count, Errors: c.Errors, Codes: c.Codes}
	if res.Errors > 0 {
		return res, fmt.Errorf("%d of %d calls failed: %v", res.Errors, res.Count, res.Codes)
	}
	return res, nil
}
