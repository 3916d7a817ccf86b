// Package subscribe holds the life of a subscription after it is asked for:
// confirming it, changing it, unsubscribing, and finding it by the tokens its
// mails carry. Each change is a compare-and-set on the subscription's version.
// (Asking for one, which mails its confirmation link, is delivery.Mails.)
package subscribe

import (
	"context"
	"errors"
	"time"

	"github.com/papercatalog/papers/clock"
	"github.com/papercatalog/papers/delivery"
	"github.com/papercatalog/papers/repository"
)

// maxToken is the longest token looked up; the tokens given out are 43
// characters.
const maxToken = 200

// ErrTokenUnknown is returned for a confirmation, unsubscribe or manage token
// that is unknown, already used or expired.
var ErrTokenUnknown = errors.New("the link is unknown, used or expired")

// ErrNotOwner is returned for a manage token of another subscription.
var ErrNotOwner = errors.New("the token is not this subscription's manage token")

// Book changes subscriptions as their subscribers and admins ask.
type Book struct {
	Store repository.Subscriptions
	// Clock gives the time of subscriptions' changes and expiries (nil: the
	// system's clock).
	Clock clock.Clock
}

// now is the current time as stored: UTC, to the millisecond.
func (b *Book) now() time.Time {
	return clock.Or(b.Clock).Now().UTC().Truncate(time.Millisecond)
}

// byToken returns the subscription of a confirmation or manage token, and
// whether it is the confirmation token. It returns ErrTokenUnknown for a
// token of none.
func (b *Book) byToken(ctx context.Context, tok string) (*repository.Subscription, bool, error) {
	if tok == "" || len(tok) > maxToken {
		return nil, false, ErrTokenUnknown
	}
	sub, confirm, err := b.Store.ByToken(ctx, delivery.HashToken(tok))
	if errors.Is(err, repository.ErrNotFound) {
		return nil, false, ErrTokenUnknown
	}
	return sub, confirm, err
}

// Confirm makes the subscription of a confirmation token active and returns
// it; the token works once. It returns ErrTokenUnknown for a token that is
// unknown, expired, not a confirmation token, already used, or used meanwhile
// by a concurrent call.
//
// Arbiter: the compare-and-set on the subscription's version (Store.Update),
// so of concurrent confirmations one wins and the others get ErrTokenUnknown.
// Crash point: it is one write; a kill -9 leaves the subscription pending
// (the link still works) or active.
func (b *Book) Confirm(ctx context.Context, tok string) (*repository.Subscription, error) {
	sub, confirm, err := b.byToken(ctx, tok)
	if err == nil && (!confirm || sub.State != repository.SubscriptionPending || b.now().After(sub.ConfirmExpires)) {
		err = ErrTokenUnknown
	}
	if err != nil {
		return nil, err
	}
	now := b.now()
	next := *sub
	next.State, next.ConfirmTime, next.UpdateTime, next.Version = repository.SubscriptionActive, now, now, sub.Version+1
	// Single-use: the token's expiry goes; its hash stays, so that
	// ByConfirmToken can tell the link's holder it is confirmed already (a
	// new confirmation mail replaces it).
	next.ConfirmExpires = time.Time{}
	if err := b.Store.Update(ctx, &next, sub); err != nil {
		if errors.Is(err, repository.ErrConflict) {
			err = ErrTokenUnknown // confirmed by a concurrent call with the same token
		}
		return nil, err
	}
	return &next, nil
}

// ByConfirmToken returns the subscription of a confirmation token, used or
// not: its State says whether it is confirmed (active), still waits for the
// confirmation (pending) or was ended since. It returns ErrTokenUnknown for a
// token of none, a manage token, a token replaced by a newer confirmation
// mail, and one that expired unused.
func (b *Book) ByConfirmToken(ctx context.Context, tok string) (*repository.Subscription, error) {
	sub, confirm, err := b.byToken(ctx, tok)
	if err == nil && (!confirm || (sub.State == repository.SubscriptionPending && b.now().After(sub.ConfirmExpires))) {
		err = ErrTokenUnknown
	}
	if err != nil {
		return nil, err
	}
	return sub, nil
}

// ByManageToken returns the subscription of a manage token, or
// ErrTokenUnknown.
func (b *Book) ByManageToken(ctx context.Context, tok string) (*repository.Subscription, error) {
	sub, confirm, err := b.byToken(ctx, tok)
	if err == nil && confirm {
		err = ErrTokenUnknown
	}
	if err != nil {
		return nil, err
	}
	return sub, nil
}

// Owned returns subscription id for the holder of manageToken, or, when
// manageToken is empty, for an admin (the caller has checked that it is one).
// It returns ErrTokenUnknown for an unknown manage token, ErrNotOwner for
// another subscription's, and repository.ErrNotFound when an admin asks for
// a subscription that does not exist.
func (b *Book) Owned(ctx context.Context, id, manageToken string) (*repository.Subscription, error) {
	if manageToken == "" {
		return b.Store.Get(ctx, id)
	}
	sub, confirm, err := b.byToken(ctx, manageToken)
	if err != nil {
		return nil, err
	}
	if confirm || sub.ID != id {
		return nil, ErrNotOwner
	}
	return sub, nil
}

// Update stores next, a changed copy of sub, as its next version. It returns
// repository.ErrConflict if sub changed meanwhile.
func (b *Book) Update(ctx context.Context, sub, next *repository.Subscription) error {
	next.UpdateTime, next.Version = b.now(), sub.Version+1
	return b.Store.Update(ctx, next, sub)
}

// Delete deletes sub.
func (b *Book) Delete(ctx context.Context, sub *repository.Subscription) error {
	return b.Store.Delete(ctx, sub)
}

// Unsubscribe ends the subscription of a manage token (the link in every
// digest) and returns it; ending an ended one changes nothing. It returns
// ErrTokenUnknown for a token of none.
func (b *Book) Unsubscribe(ctx context.Context, tok string) (*repository.Subscription, error) {
	for {
		sub, err := b.ByManageToken(ctx, tok)
		if err != nil || sub.State == repository.SubscriptionUnsubscribed {
			return sub, err
		}
		next := *sub
		next.State, next.UpdateTime, next.Version = repository.SubscriptionUnsubscribed, b.now(), sub.Version+1
		// A conflict: it changed meanwhile, so look again.
		if err := b.Store.Update(ctx, &next, sub); !errors.Is(err, repository.ErrConflict) {
			return sub, err
		}
	}
}
