package mongo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

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
// costs 2n inserts, in batches, and one read of the edition's records.
type Deliveries struct {
	db    *mongo.Database
	avail *availability
}

var _ repository.Deliveries = (*Deliveries)(nil)

// NewDeliveries returns the delivery store of db.
func NewDeliveries(db *DB) *Deliveries { return &Deliveries{db: db.db, avail: db.avail} }

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

// Edition implements repository.Deliveries: one read of the edition's
// collection, whatever the number of subscribers.
func (s *Deliveries) Edition(ctx context.Context, edition string) (map[string]*repository.Delivery, error) {
	ctx, cancel := s.avail.guard(ctx)
	defer cancel()
	out := map[string]*repository.Delivery{}
	err := scan(ctx, s.coll(edition), "read deliveries", "read deliveries", func(d *deliveryDoc) error {
		if prev, ok := out[d.SubscriptionID]; !ok || d.Version > prev.Version {
			out[d.SubscriptionID] = fromDeliveryDoc(d)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Insert implements repository.Deliveries: one unordered InsertMany per edition,
// where a duplicate _id is a version another writer stored first.
func (s *Deliveries) Insert(ctx context.Context, ds []*repository.Delivery) ([]bool, error) {
	ctx, cancel := s.avail.guard(ctx)
	defer cancel()
	stored := make([]bool, len(ds))
	byEdition := map[string][]int{}
	for i, d := range ds {
		if d.Version < 1 {
			return nil, fmt.Errorf("record delivery: version %d of %s", d.Version, d.SubscriptionID)
		}
		byEdition[d.Edition] = append(byEdition[d.Edition], i)
	}
	for edition, idx := range byEdition {
		docs := make([]any, len(idx))
		for j, i := range idx {
			docs[j] = toDeliveryDoc(ds[i])
			stored[i] = true
		}
		_, err := s.coll(edition).InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
		if err == nil {
			continue
		}
		var bwe mongo.BulkWriteException
		if !errors.As(err, &bwe) || bwe.WriteConcernError != nil || len(bwe.WriteErrors) == 0 {
			return nil, fmt.Errorf("record deliveries: %w", wrap(err))
		}
		for _, we := range bwe.WriteErrors {
			if !mongo.IsDuplicateKeyError(we) || we.Index < 0 || we.Index >= len(idx) {
				return nil, fmt.Errorf("record deliveries: %w", wrap(err))
			}
			stored[idx[we.Index]] = false
		}
	}
	return stored, nil
}

// Editions implements repository.Deliveries.
func (s *Deliveries) Editions(ctx context.Context) ([]string, error) {
	ctx, cancel := s.avail.guard(ctx)
	defer cancel()
	names, err := s.db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		return nil, fmt.Errorf("list delivery records: %w", wrap(err))
	}
	var out []string
	for _, name := range names {
		if edition, ok := strings.CutPrefix(name, deliveriesPrefix); ok {
			out = append(out, edition)
		}
	}
	slices.Sort(out)
	return out, nil
}

// DropEditionsBefore removes the delivery records of editions before day.
func (s *Deliveries) DropEditionsBefore(ctx context.Context, day string) error {
	ctx, cancel := s.avail.guard(ctx)
	defer cancel()
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
