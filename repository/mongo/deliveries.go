package mongo

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/papercatalog/papers/repository"
)

// deliveriesPrefix starts the name of each edition's collection of delivery
// records ("deliveries_2026-11-03").
const deliveriesPrefix = "deliveries_"

// Deliveries implements repository.Deliveries with inserts only: every change of
// a delivery is a new document, _id "subscription|version", in its edition's
// collection, and the highest version is the current state. On the embedded
// FerretDB an insert is checked against the unique _id index, while an update or
// a find by _id scans the collection; so sending an edition to n subscribers
// costs 2n inserts, and only a claim that meets an existing record (a rerun, a
// crashed sender, a retry) reads the edition's records.
type Deliveries struct{ db *mongo.Database }

var _ repository.Deliveries = (*Deliveries)(nil)

// NewDeliveries returns the delivery store of db.
func NewDeliveries(db *DB) *Deliveries { return &Deliveries{db: db.db} }

type deliveryDoc struct {
	ID             string     `bson:"_id"`
	SubscriptionID string     `bson:"subscription_id"`
	Edition        string     `bson:"edition"`
	State          int        `bson:"state"`
	Owner          string     `bson:"owner"`
	ClaimTime      time.Time  `bson:"claim_time"`
	Attempts       int        `bson:"attempts"`
	NextAttempt    *time.Time `bson:"next_attempt,omitempty"`
	LastError      string     `bson:"last_error,omitempty"`
	DoneTime       *time.Time `bson:"done_time,omitempty"`
	Version        int64      `bson:"version"`
}

func (s *Deliveries) coll(edition string) *mongo.Collection {
	return s.db.Collection(deliveriesPrefix + edition)
}

func toDeliveryDoc(d *repository.Delivery) *deliveryDoc {
	return &deliveryDoc{ID: d.SubscriptionID + "|" + strconv.FormatInt(d.Version, 10), SubscriptionID: d.SubscriptionID,
		Edition: d.Edition, State: int(d.State), Owner: d.Owner, ClaimTime: d.ClaimTime, Attempts: d.Attempts,
		NextAttempt: optTime(d.NextAttempt), LastError: d.LastError, DoneTime: optTime(d.DoneTime), Version: d.Version}
}

func fromDeliveryDoc(x *deliveryDoc) *repository.Delivery {
	return &repository.Delivery{SubscriptionID: x.SubscriptionID, Edition: x.Edition, State: repository.DeliveryState(x.State),
		Owner: x.Owner, ClaimTime: x.ClaimTime.UTC(), Attempts: x.Attempts, NextAttempt: derefTime(x.NextAttempt),
		LastError: x.LastError, DoneTime: derefTime(x.DoneTime), Version: x.Version}
}

// insert stores d as its version; another writer's insert of the same version is
// ErrConflict.
func (s *Deliveries) insert(ctx context.Context, d *repository.Delivery) error {
	if _, err := s.coll(d.Edition).InsertOne(ctx, toDeliveryDoc(d)); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return repository.ErrConflict
		}
		return fmt.Errorf("record delivery: %w", wrap(err))
	}
	return nil
}

// current returns the latest version of a delivery.
func (s *Deliveries) current(ctx context.Context, sub, edition string) (*repository.Delivery, error) {
	cur, err := s.coll(edition).Find(ctx, bson.D{{Key: "subscription_id", Value: sub}})
	if err != nil {
		return nil, fmt.Errorf("read delivery: %w", wrap(err))
	}
	var docs []deliveryDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("read delivery: %w", wrap(err))
	}
	var latest *deliveryDoc
	for i := range docs {
		if latest == nil || docs[i].Version > latest.Version {
			latest = &docs[i]
		}
	}
	if latest == nil {
		return nil, repository.ErrNotFound
	}
	return fromDeliveryDoc(latest), nil
}

// Claim implements repository.Deliveries.
func (s *Deliveries) Claim(ctx context.Context, sub, edition, owner string, now time.Time, stale time.Duration) (*repository.Delivery, bool, error) {
	d := &repository.Delivery{SubscriptionID: sub, Edition: edition, State: repository.DeliveryClaimed, Owner: owner,
		ClaimTime: now, Version: 1}
	err := s.insert(ctx, d)
	if err == nil {
		return d, true, nil
	}
	if err != repository.ErrConflict { //nolint:errorlint // insert returns the sentinel itself
		return nil, false, err
	}
	cur, err := s.current(ctx, sub, edition)
	if err != nil {
		return nil, false, err
	}
	takeOver := (cur.State == repository.DeliveryClaimed && now.Sub(cur.ClaimTime) > stale) ||
		(cur.State == repository.DeliveryRetry && !now.Before(cur.NextAttempt))
	if !takeOver {
		return cur, false, nil
	}
	next := *cur
	next.State, next.Owner, next.ClaimTime, next.Version = repository.DeliveryClaimed, owner, now, cur.Version+1
	if err := s.insert(ctx, &next); err != nil {
		if err == repository.ErrConflict { //nolint:errorlint // insert returns the sentinel itself
			return cur, false, nil // another sender took it over first
		}
		return nil, false, err
	}
	return &next, true, nil
}

// Save implements repository.Deliveries: d must be version prev+1, which only one
// writer can insert.
func (s *Deliveries) Save(ctx context.Context, d *repository.Delivery, prev int64) error {
	if d.Version != prev+1 {
		return fmt.Errorf("save delivery: version %d does not follow %d", d.Version, prev)
	}
	return s.insert(ctx, d)
}

// DropEditionsBefore removes the delivery records of editions before day.
func (s *Deliveries) DropEditionsBefore(ctx context.Context, day string) error {
	names, err := s.db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		return fmt.Errorf("list delivery records: %w", wrap(err))
	}
	for _, name := range names {
		if edition, ok := strings.CutPrefix(name, deliveriesPrefix); ok && edition < day {
			if err := s.db.Collection(name).Drop(ctx); err != nil {
				return fmt.Errorf("drop delivery records: %w", wrap(err))
			}
		}
	}
	return nil
}
