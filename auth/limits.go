package auth

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

// RateLimit is a per-client rate: a bucket of Burst calls, refilled evenly over
// Per. The zero value is unset (the server fills in its default); Off lets every
// call through.
type RateLimit struct {
	Burst int
	Per   time.Duration
	Off   bool
}

// ParseRateLimit reads "N/PERIOD" (a bucket of N calls refilled evenly over
// PERIOD, such as 600/1m) or "off".
func ParseRateLimit(s string) (RateLimit, error) {
	if strings.TrimSpace(s) == "off" {
		return RateLimit{Off: true}, nil
	}
	n, per, ok := strings.Cut(strings.TrimSpace(s), "/")
	burst, err := strconv.Atoi(n)
	if !ok || err != nil || burst < 1 {
		return RateLimit{}, fmt.Errorf("%q is neither off nor N/PERIOD with N ≥ 1, such as 600/1m", s)
	}
	d, err := time.ParseDuration(per)
	if err != nil || d <= 0 {
		return RateLimit{}, fmt.Errorf("%q is neither off nor N/PERIOD with a positive PERIOD, such as 600/1m", s)
	}
	return RateLimit{Burst: burst, Per: d}, nil
}

func (l RateLimit) String() string {
	if l.Off {
		return "off"
	}
	return fmt.Sprintf("%d/%s", l.Burst, l.Per)
}

// clientLimiter keeps a token bucket per client.
type clientLimiter struct {
	Limit RateLimit

	mu      sync.Mutex
	clients map[string]*rate.Limiter
}

// maxLimitedClients bounds the limiter's memory: past it, every bucket starts
// afresh (full), which errs on the side of letting calls through.
const maxLimitedClients = 100000

// allow spends one of client's calls, or says how long until it has one.
func (l *clientLimiter) allow(client string, now time.Time) (time.Duration, bool) {
	if l.Limit.Off || l.Limit.Burst <= 0 {
		return 0, true
	}
	l.mu.Lock()
	if l.clients == nil || len(l.clients) > maxLimitedClients {
		l.clients = map[string]*rate.Limiter{}
	}
	lim := l.clients[client]
	if lim == nil {
		lim = rate.NewLimiter(rate.Every(l.Limit.Per/time.Duration(l.Limit.Burst)), l.Limit.Burst)
		l.clients[client] = lim
	}
	l.mu.Unlock()
	r := lim.ReserveN(now, 1)
	if wait := r.DelayFrom(now); wait > 0 {
		r.CancelAt(now)
		return wait, false
	}
	return 0, true
}

// check spends one of client's calls, or returns a *LimitError with the time
// to wait.
func (l *clientLimiter) check(client string) error {
	if wait, ok := l.allow(client, time.Now()); !ok {
		return &LimitError{Wait: wait}
	}
	return nil
}

// clientKey identifies the caller for rate limits: its address as the gRPC
// server saw it, or, for calls through the REST gateway (in-process, without a
// peer), the address the gateway appended to x-forwarded-for last.
func clientKey(ctx context.Context) string {
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		if host, _, err := net.SplitHostPort(p.Addr.String()); err == nil {
			return host
		}
		return p.Addr.String()
	}
	if xff := metadata.ValueFromIncomingContext(ctx, "x-forwarded-for"); len(xff) > 0 {
		parts := strings.Split(xff[len(xff)-1], ",")
		return strings.TrimSpace(parts[len(parts)-1])
	}
	return "unknown"
}

// Limiters hold the per-client rate limits of both services. A nil *Limiters
// lets every call through.
type Limiters struct {
	writes, upvotes, subscribes clientLimiter
}

// NewLimiters returns limiters for writes (by client address: paper writes,
// imports, sending digests, and every call that presents a subscription token),
// upvotes (by user: adding and removing one) and subscribes (by client address:
// the calls that mail an address).
func NewLimiters(writes, upvotes, subscribes RateLimit) *Limiters {
	return &Limiters{writes: clientLimiter{Limit: writes}, upvotes: clientLimiter{Limit: upvotes},
		subscribes: clientLimiter{Limit: subscribes}}
}

// Spend spends one call of limit for key (a client address, or a user for
// Upvotes), or returns a *LimitError when key has none left.
func (l *Limiters) Spend(limit Limit, key string) error {
	if l == nil {
		return nil
	}
	switch limit {
	case Writes:
		return l.writes.check(key)
	case Upvotes:
		return l.upvotes.check(key)
	case Subscribes:
		return l.subscribes.check(key)
	}
	return nil
}
