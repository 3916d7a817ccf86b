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

// Deliveries stores delivery records, by subscription and edition. Records are
// versioned: a new claim is version 1 and every change stores the next version,
// which only one writer can store.
type Deliveries interface {
	// Edition returns the latest record of every delivery of an edition
	// (YYYY-MM-DD), by subscription id.
	Edition(ctx context.Context, edition string) (map[string]*Delivery, error)
	// Insert stores each record as its version and reports, for each, whether it
	// was stored: false means another writer stored that version first.
	Insert(ctx context.Context, ds []*Delivery) ([]bool, error)
	// Editions lists the editions that have records, oldest first.
	Editions(ctx context.Context) ([]string, error)
	// DropEditionsBefore removes the records of editions before day (YYYY-MM-DD).
	DropEditionsBefore(ctx context.Context, day string) error
}
