package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/papercatalog/papers/repository"
)

const deliveriesCollection = "deliveries"

// Deliveries implements repository.Deliveries: one document per subscription and
// edition, _id "subscription|edition", so creating one is the claim.
type Deliveries struct{ coll *mongo.Collection }

var _ repository.Deliveries = (*Deliveries)(nil)

// NewDeliveries returns the delivery store of db.
func NewDeliveries(db *DB) *Deliveries {
	return &Deliveries{coll: db.db.Collection(deliveriesCollection)}
}

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

func deliveryID(sub, edition string) string { return sub + "|" + edition }

func toDeliveryDoc(d *repository.Delivery) *deliveryDoc {
	return &deliveryDoc{ID: deliveryID(d.SubscriptionID, d.Edition), SubscriptionID: d.SubscriptionID, Edition: d.Edition,
		State: int(d.State), Owner: d.Owner, ClaimTime: d.ClaimTime, Attempts: d.Attempts, NextAttempt: optTime(d.NextAttempt),
		LastError: d.LastError, DoneTime: optTime(d.DoneTime), Version: d.Version}
}

func fromDeliveryDoc(x *deliveryDoc) *repository.Delivery {
	return &repository.Delivery{SubscriptionID: x.SubscriptionID, Edition: x.Edition, State: repository.DeliveryState(x.State),
		Owner: x.Owner, ClaimTime: x.ClaimTime.UTC(), Attempts: x.Attempts, NextAttempt: derefTime(x.NextAttempt),
		LastError: x.LastError, DoneTime: derefTime(x.DoneTime), Version: x.Version}
}

// Claim implements repository.Deliveries.
func (s *Deliveries) Claim(ctx context.Context, sub, edition, owner string, now time.Time, stale time.Duration) (*repository.Delivery, bool, error) {
	d := &repository.Delivery{SubscriptionID: sub, Edition: edition, State: repository.DeliveryClaimed, Owner: owner,
		ClaimTime: now, Version: 1}
	_, err := s.coll.InsertOne(ctx, toDeliveryDoc(d))
	if err == nil {
		return d, true, nil
	}
	if !mongo.IsDuplicateKeyError(err) {
		return nil, false, fmt.Errorf("claim delivery: %w", wrap(err))
	}
	var x deliveryDoc
	if err := s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: deliveryID(sub, edition)}}).Decode(&x); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			return nil, false, repository.ErrConflict
		}
		return nil, false, fmt.Errorf("claim delivery: %w", wrap(err))
	}
	cur := fromDeliveryDoc(&x)
	takeOver := (cur.State == repository.DeliveryClaimed && now.Sub(cur.ClaimTime) > stale) ||
		(cur.State == repository.DeliveryRetry && !now.Before(cur.NextAttempt))
	if !takeOver {
		return cur, false, nil
	}
	next := *cur
	next.State, next.Owner, next.ClaimTime, next.Version = repository.DeliveryClaimed, owner, now, cur.Version+1
	if err := s.Save(ctx, &next, cur.Version); err != nil {
		if errors.Is(err, repository.ErrConflict) {
			return cur, false, nil // another sender took it over first
		}
		return nil, false, err
	}
	return &next, true, nil
}

// Save implements repository.Deliveries.
func (s *Deliveries) Save(ctx context.Context, d *repository.Delivery, prev int64) error {
	res, err := s.coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: deliveryID(d.SubscriptionID, d.Edition)}, {Key: "version", Value: prev}}, toDeliveryDoc(d))
	if err != nil {
		return fmt.Errorf("save delivery: %w", wrap(err))
	}
	if res.MatchedCount == 0 {
		return repository.ErrConflict
	}
	return nil
}
