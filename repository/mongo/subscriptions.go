package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/papercatalog/papers/keylock"
	"github.com/papercatalog/papers/repository"
)

// Collections of subscriptions: the subscriptions by id, the addresses
// (lower-cased) and the token hashes, each pointing at its subscription, so that
// every lookup is one by _id.
const (
	subscriptionsCollection = "subscriptions"
	addressesCollection     = "subscription_addresses"
	tokensCollection        = "subscription_tokens"
)

// Subscriptions implements repository.Subscriptions.
type Subscriptions struct {
	avail               *availability
	locks               *keylock.Set // see Exclusive
	subs, addrs, tokens *mongo.Collection
}

var _ repository.Subscriptions = (*Subscriptions)(nil)

// NewSubscriptions returns the subscription store of db.
func NewSubscriptions(db *DB) *Subscriptions {
	return &Subscriptions{avail: db.avail, locks: db.locks, subs: db.db.Collection(subscriptionsCollection),
		addrs: db.db.Collection(addressesCollection), tokens: db.db.Collection(tokensCollection)}
}

type subscriptionDoc struct {
	ID              string     `bson:"_id"`
	Email           string     `bson:"email"`
	State           int        `bson:"state"`
	Frequency       string     `bson:"frequency"`
	Weekdays        []int      `bson:"weekdays,omitempty"`
	SendHour        int        `bson:"send_hour"`
	TimeZone        string     `bson:"time_zone,omitempty"`
	Query           string     `bson:"query,omitempty"`
	Categories      []string   `bson:"categories,omitempty"`
	Organizations   []string   `bson:"organizations,omitempty"`
	MinUpvotes      int64      `bson:"min_upvotes,omitempty"`
	MaxPapers       int        `bson:"max_papers"`
	CreateTime      time.Time  `bson:"create_time"`
	ConfirmTime     *time.Time `bson:"confirm_time,omitempty"`
	UpdateTime      time.Time  `bson:"update_time"`
	ConfirmHash     string     `bson:"confirm_hash,omitempty"`
	ConfirmExpires  *time.Time `bson:"confirm_expires,omitempty"`
	ManageHash      string     `bson:"manage_hash"`
	ManageGen       int        `bson:"manage_generation,omitempty"`
	LastConfirmMail *time.Time `bson:"last_confirm_mail,omitempty"`
	Version         int64      `bson:"version"`
}

type pointerDoc struct {
	ID             string `bson:"_id"`
	SubscriptionID string `bson:"subscription_id"`
	Confirm        bool   `bson:"confirm,omitempty"`
}

func toSubDoc(s *repository.Subscription) *subscriptionDoc {
	d := &subscriptionDoc{ID: s.ID, Email: s.Email, State: int(s.State), Frequency: s.Frequency, SendHour: s.SendHour,
		TimeZone: s.TimeZone, Query: s.Query, Categories: s.Categories, Organizations: s.Organizations,
		MinUpvotes: s.MinUpvotes, MaxPapers: s.MaxPapers, CreateTime: s.CreateTime, ConfirmTime: optTime(s.ConfirmTime),
		UpdateTime: s.UpdateTime, ConfirmHash: s.ConfirmHash, ConfirmExpires: optTime(s.ConfirmExpires),
		ManageHash: s.ManageHash, ManageGen: s.ManageGeneration, LastConfirmMail: optTime(s.LastConfirmMail), Version: s.Version}
	for _, w := range s.Weekdays {
		d.Weekdays = append(d.Weekdays, int(w))
	}
	return d
}

func fromSubDoc(d *subscriptionDoc) *repository.Subscription {
	s := &repository.Subscription{ID: d.ID, Email: d.Email, State: repository.SubscriptionState(d.State),
		Frequency: d.Frequency, SendHour: d.SendHour, TimeZone: d.TimeZone, Query: d.Query, Categories: d.Categories,
		Organizations: d.Organizations, MinUpvotes: d.MinUpvotes, MaxPapers: d.MaxPapers, CreateTime: d.CreateTime.UTC(),
		ConfirmTime: derefTime(d.ConfirmTime), UpdateTime: d.UpdateTime.UTC(), ConfirmHash: d.ConfirmHash,
		ConfirmExpires: derefTime(d.ConfirmExpires), ManageHash: d.ManageHash, ManageGeneration: d.ManageGen,
		LastConfirmMail: derefTime(d.LastConfirmMail), Version: d.Version}
	for _, w := range d.Weekdays {
		s.Weekdays = append(s.Weekdays, time.Weekday(w))
	}
	return s
}

// Create implements repository.Subscriptions. The address entry goes first: it
// is what makes an address have at most one subscription.
func (x *Subscriptions) Create(ctx context.Context, s *repository.Subscription) error {
	ctx, cancel := x.avail.guard(ctx)
	defer cancel()
	if _, err := x.addrs.InsertOne(ctx, pointerDoc{ID: repository.EmailKey(s.Email), SubscriptionID: s.ID}); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return repository.ErrAlreadyExists
		}
		return fmt.Errorf("create subscription: %w", wrap(err))
	}
	if err := x.putTokens(ctx, s); err != nil {
		return err
	}
	if _, err := x.subs.InsertOne(ctx, toSubDoc(s)); err != nil {
		return fmt.Errorf("create subscription: %w", wrap(err))
	}
	return nil
}

func (x *Subscriptions) putTokens(ctx context.Context, s *repository.Subscription) error {
	for _, p := range []pointerDoc{{ID: s.ConfirmHash, SubscriptionID: s.ID, Confirm: true}, {ID: s.ManageHash, SubscriptionID: s.ID}} {
		if p.ID == "" {
			continue
		}
		if _, err := x.tokens.InsertOne(ctx, p); err != nil && !mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("store token: %w", wrap(err))
		}
	}
	return nil
}

// Get implements repository.Subscriptions.
func (x *Subscriptions) Get(ctx context.Context, id string) (*repository.Subscription, error) {
	ctx, cancel := x.avail.guard(ctx)
	defer cancel()
	var d subscriptionDoc
	err := x.subs.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, repository.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get subscription: %w", wrap(err))
	}
	return fromSubDoc(&d), nil
}

func (x *Subscriptions) pointer(ctx context.Context, coll *mongo.Collection, id string) (*pointerDoc, error) {
	var p pointerDoc
	err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&p)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, repository.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("look up subscription: %w", wrap(err))
	}
	return &p, nil
}

// ByEmail implements repository.Subscriptions.
func (x *Subscriptions) ByEmail(ctx context.Context, email string) (*repository.Subscription, error) {
	ctx, cancel := x.avail.guard(ctx)
	defer cancel()
	p, err := x.pointer(ctx, x.addrs, repository.EmailKey(email))
	if err != nil {
		return nil, err
	}
	return x.Get(ctx, p.SubscriptionID)
}

// ByToken implements repository.Subscriptions. A token entry whose subscription
// no longer holds that hash (replaced, or the subscription deleted) is not found.
func (x *Subscriptions) ByToken(ctx context.Context, hash string) (*repository.Subscription, bool, error) {
	ctx, cancel := x.avail.guard(ctx)
	defer cancel()
	if hash == "" {
		return nil, false, repository.ErrNotFound
	}
	p, err := x.pointer(ctx, x.tokens, hash)
	if err != nil {
		return nil, false, err
	}
	s, err := x.Get(ctx, p.SubscriptionID)
	if err != nil {
		return nil, false, err
	}
	if (p.Confirm && s.ConfirmHash != hash) || (!p.Confirm && s.ManageHash != hash) {
		return nil, false, repository.ErrNotFound
	}
	return s, p.Confirm, nil
}

// Update implements repository.Subscriptions.
func (x *Subscriptions) Update(ctx context.Context, s, prev *repository.Subscription) error {
	ctx, cancel := x.avail.guard(ctx)
	defer cancel()
	if err := x.putTokens(ctx, s); err != nil {
		return err
	}
	// The arbiter, as for papers: on MongoDB the filter {_id, version}; with
	// Exclusive, the subscription's lock in this process across a read of its
	// version and a replace by _id (FerretDB applies neither atomically, and
	// scans for a filter of two fields).
	filter := bson.D{{Key: "_id", Value: s.ID}}
	if x.locks != nil {
		defer x.locks.Lock("subscription|" + s.ID)()
		var cur struct {
			Version int64 `bson:"version"`
		}
		err := x.subs.FindOne(ctx, filter, options.FindOne().SetProjection(bson.D{{Key: "version", Value: 1}})).Decode(&cur)
		if errors.Is(err, mongo.ErrNoDocuments) || (err == nil && cur.Version != prev.Version) {
			return repository.ErrConflict
		}
		if err != nil {
			return fmt.Errorf("update subscription: %w", wrap(err))
		}
	} else {
		filter = append(filter, bson.E{Key: "version", Value: prev.Version})
	}
	res, err := x.subs.ReplaceOne(ctx, filter, toSubDoc(s))
	if err != nil {
		return fmt.Errorf("update subscription: %w", wrap(err))
	}
	if res.MatchedCount == 0 {
		return repository.ErrConflict
	}
	for _, old := range []string{prev.ConfirmHash, prev.ManageHash} {
		if old != "" && old != s.ConfirmHash && old != s.ManageHash {
			// Stale entries are refused by ByToken anyway; this only tidies.
			_, _ = x.tokens.DeleteOne(ctx, bson.D{{Key: "_id", Value: old}})
		}
	}
	return nil
}

// Delete implements repository.Subscriptions.
func (x *Subscriptions) Delete(ctx context.Context, s *repository.Subscription) error {
	ctx, cancel := x.avail.guard(ctx)
	defer cancel()
	if _, err := x.subs.DeleteOne(ctx, bson.D{{Key: "_id", Value: s.ID}}); err != nil {
		return fmt.Errorf("delete subscription: %w", wrap(err))
	}
	for _, h := range []string{s.ConfirmHash, s.ManageHash} {
		if h != "" {
			_, _ = x.tokens.DeleteOne(ctx, bson.D{{Key: "_id", Value: h}})
		}
	}
	if _, err := x.addrs.DeleteOne(ctx, bson.D{{Key: "_id", Value: repository.EmailKey(s.Email)}}); err != nil {
		return fmt.Errorf("delete subscription: %w", wrap(err))
	}
	return nil
}

// All implements repository.Subscriptions.
func (x *Subscriptions) All(ctx context.Context, fn func(*repository.Subscription) error) error {
	ctx, cancel := x.avail.guard(ctx)
	defer cancel()
	return scan(ctx, x.subs, "scan subscriptions", "decode subscription", func(d *subscriptionDoc) error {
		return fn(fromSubDoc(d))
	}, options.Find().SetBatchSize(2000))
}
