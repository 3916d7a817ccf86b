package listing

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/papercatalog/papers/repository"
)

// Parameters of the trending score.
const (
	// Gravity is the exponent of the score's denominator: how fast papers fall.
	Gravity = 1.8
	// AgeOffsetHours is added to a paper's age so that brand-new papers do not
	// divide by zero and do not outrank everything with one vote.
	AgeOffsetHours = 2.0
)

// Trending windows: the period before the reference time whose papers trend.
const (
	DefaultWindow = 7 * 24 * time.Hour
	MaxWindow     = 365 * 24 * time.Hour
)

// ReferenceTime is the time trending scores are computed at: the one a page
// token carries (Unix seconds; 0 when there is none), or else minute, the
// current minute.
func ReferenceTime(fromToken int64, minute time.Time) time.Time {
	if fromToken != 0 {
		return time.Unix(fromToken, 0).UTC()
	}
	return minute
}

// dailyOrders are the orders of the daily listing, by the text a caller sends
// (its spaces normalised).
var dailyOrders = map[string]string{
	"":                               "upvotes desc, submit_time desc",
	"upvotes desc, submit_time desc": "upvotes desc, submit_time desc",
	"submit_time desc":               "submit_time desc",
	"trending":                       "trending",
}

// DailyOrder returns the order of the daily listing that text asks for: an
// order ParseOrder reads, or "trending" (TrendingOrder); false when the daily
// listing has no such order.
func DailyOrder(text string) (string, bool) {
	o, ok := dailyOrders[strings.Join(strings.Fields(text), " ")]
	return o, ok
}

// TrendingScore is upvotes / (age_hours + AgeOffsetHours) ^ Gravity, where age_hours
// is the time from p's submit time to ref in hours, at least 0.
func TrendingScore(p *repository.Paper, ref time.Time) float64 {
	age := max(ref.Sub(p.SubmitTime).Hours(), 0)
	return float64(p.Upvotes) / math.Pow(age+AgeOffsetHours, Gravity)
}

// TrendingOrder orders papers by trending score at ref, highest first, then by
// newer submit time, then by name.
func TrendingOrder(ref time.Time) Order {
	score := orderField{get: func(p *repository.Paper) KeyPart {
		// Scores are never negative, and the bits of non-negative floats order
		// like the floats.
		return KeyPart{I: int64(math.Float64bits(TrendingScore(p, ref)))} //nolint:gosec // order-preserving for non-negative floats
	}}
	return Order{
		Text:   "trending@" + strconv.FormatInt(ref.Unix(), 10),
		fields: []orderField{score, orderFields["submit_time"]},
		desc:   []bool{true, true},
	}
}

// And returns a filter that also requires pred. desc names pred in the filter's
// Text, which keys cached results, so it must identify pred exactly.
func (f Filter) And(desc string, pred func(*repository.Paper) bool) Filter {
	inner := f
	return Filter{
		Text: f.Text + "\x00" + desc,
		match: func(p *repository.Paper) value {
			return value{kind: kindBool, b: pred(p) && inner.Match(p)}
		},
		from:  f.from,
		to:    f.to,
		terms: f.terms,
	}
}
