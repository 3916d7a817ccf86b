package repository

import (
	"context"
	"strings"
	"time"
)

// SubscriptionState is where a subscription stands.
type SubscriptionState int

// Subscription states.
const (
	SubscriptionPending SubscriptionState = iota + 1
	SubscriptionActive
	SubscriptionUnsubscribed
)

// Subscription is an address's request for digests, with its preferences.
type Subscription struct {
	ID    string
	Email string // as given; EmailKey is the lookup key
	State SubscriptionState
	// Frequency is "daily" or "weekly".
	Frequency     string
	Weekdays      []time.Weekday
	SendHour      int
	TimeZone      string
	Query         string
	Categories    []string
	Organizations []string
	MinUpvotes    int64
	MaxPapers     int
	CreateTime    time.Time
	ConfirmTime   time.Time
	UpdateTime    time.Time
	// ConfirmHash and ManageHash are SHA-256 hashes of the tokens (the tokens
	// themselves are only ever in mails). ConfirmExpires ends the confirm token.
	ConfirmHash    string
	ConfirmExpires time.Time
	ManageHash     string
	// ManageGeneration is what the manage token is derived from. It no longer
	// changes (subscriptions stored by earlier versions may hold one above 0).
	ManageGeneration int
	// LastConfirmMail is when a confirmation or manage-link mail last went to
	// the address (or is going: it is stamped before the mail and taken back if
	// the mail fails).
	LastConfirmMail time.Time
	// Version increases on every write; updates are conditional on it.
	Version int64
}

// Subscriptions stores subscriptions. Tokens are found by their hash and
// addresses by their key, each a lookup by _id.
type Subscriptions interface {
	// Create stores a new subscription. ErrAlreadyExists if the address has one.
	Create(ctx context.Context, s *Subscription) error
	// Get returns a subscription by id, or ErrNotFound.
	Get(ctx context.Context, id string) (*Subscription, error)
	// ByEmail returns the subscription of an address, or ErrNotFound.
	ByEmail(ctx context.Context, email string) (*Subscription, error)
	// ByToken returns the subscription a token hash belongs to and whether it is
	// its confirm token (else its manage token), or ErrNotFound.
	ByToken(ctx context.Context, hash string) (*Subscription, bool, error)
	// Update replaces s if its stored version is still prev (ErrConflict if not),
	// and moves its token entries when the hashes changed.
	Update(ctx context.Context, s *Subscription, prev *Subscription) error
	// Delete removes a subscription, its address entry and its tokens.
	Delete(ctx context.Context, s *Subscription) error
	// All calls fn for every subscription.
	All(ctx context.Context, fn func(*Subscription) error) error
}

// EmailKey is how addresses are compared: trimmed and lower-cased.
func EmailKey(email string) string { return strings.ToLower(strings.TrimSpace(email)) }
