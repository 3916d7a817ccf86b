package repository

import (
	"context"
	"time"
)

// DeliveryState is where the delivery of one edition to one subscriber stands.
type DeliveryState int

// Delivery states.
const (
	// DeliveryClaimed: a sender owns it and may be sending it now.
	DeliveryClaimed DeliveryState = iota + 1
	// DeliverySent: the mail server accepted it.
	DeliverySent
	// DeliveryRetry: a temporary failure; due again at NextAttempt.
	DeliveryRetry
	// DeliveryFailed: a permanent failure.
	DeliveryFailed
	// DeliveryEmpty: no paper matched; nothing was sent.
	DeliveryEmpty
)

// Delivery records the delivery of one edition to one subscription. It is created
// before anything is sent, so that a rerun, a crash or a second replica never
// sends an edition twice to anyone.
type Delivery struct {
	SubscriptionID string
	Edition        string // YYYY-MM-DD
	State          DeliveryState
	Owner          string // the sender that claimed it
	ClaimTime      time.Time
	Attempts       int
	NextAttempt    time.Time
	LastError      string
	DoneTime       time.Time
	Version        int64
}

// Deliveries stores delivery records, by subscription and edition.
type Deliveries interface {
	// Claim makes owner the sender of the delivery: it creates the record, or
	// takes over one that is not done and whose claim is older than stale (its
	// sender died) or whose retry is due. It returns the record and whether owner
	// holds it now.
	Claim(ctx context.Context, subscriptionID, edition, owner string, now time.Time, stale time.Duration) (*Delivery, bool, error)
	// Save stores d if its stored version is still prev (ErrConflict if not).
	Save(ctx context.Context, d *Delivery, prev int64) error
	// DropEditionsBefore removes the records of editions before day (YYYY-MM-DD).
	DropEditionsBefore(ctx context.Context, day string) error
}
