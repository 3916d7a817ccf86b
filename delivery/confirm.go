package delivery

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/papercatalog/papers/clock"
	"github.com/papercatalog/papers/keylock"
	"github.com/papercatalog/papers/mailer"
	"github.com/papercatalog/papers/repository"
)

// Confirmation limits.
const (
	confirmValidity  = 7 * 24 * time.Hour
	confirmMailEvery = 10 * time.Minute
)

// ErrNotSent is returned when the mail server did not take a mail; the
// address's stamp is taken back, so that the next request sends it.
var ErrNotSent = errors.New("the mail could not be sent")

// Mails sends the mails a subscriber asks for: the confirmation of a
// subscription and the link to manage it, at most one every 10 minutes per
// address.
type Mails struct {
	Subscriptions repository.Subscriptions
	Mailer        mailer.Mailer
	Log           *slog.Logger
	// Links builds the confirmation and manage links.
	Links Links
	// From is the sender of mails.
	From string
	// Clock gives the time of subscriptions' changes and expiries (nil: the
	// system's clock).
	Clock clock.Clock

	addresses keylock.Set // one mail-sending call per address (lower-cased) at a time
}

// NewToken returns a random token (256 bits, URL-safe) and its hash, the only
// form stored.
func NewToken() (string, string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail
	tok := base64.RawURLEncoding.EncodeToString(b)
	return tok, HashToken(tok)
}

// HashToken is the form of a token the database holds and looks up.
func HashToken(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

func randomID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return strings.ToLower(base64.RawURLEncoding.EncodeToString(b))
}

// now is the current time as stored: UTC, to the millisecond.
func (m *Mails) now() time.Time {
	return clock.Or(m.Clock).Now().UTC().Truncate(time.Millisecond)
}

// Subscribe stores a pending subscription with sub's address and preferences,
// or renews the confirmation of the address's pending one, and mails the
// confirmation link. An address that is already subscribed gets nothing, and
// the caller learns nothing either way. It returns ErrNotSent when the mail
// server did not take the mail.
//
// The address's lock (one Subscribe or SendManageLink per address at a time in
// this process) is the arbiter between concurrent calls: the second waits for
// the first's mail and sees its stamp. Across replicas, the stamp is written by
// a conditional write before the mail goes (Create's address insert, or Update
// on the version), and a mail that fails takes its stamp back, so that the next
// subscribe sends it.
func (m *Mails) Subscribe(ctx context.Context, sub *repository.Subscription) error {
	unlock, err := m.addresses.LockContext(ctx, repository.EmailKey(sub.Email))
	if err != nil {
		return err
	}
	defer unlock()
	now := m.now()
	confirm, confirmHash := NewToken()
	cur, err := m.Subscriptions.ByEmail(ctx, sub.Email)
	switch {
	case errors.Is(err, repository.ErrNotFound):
		sub.ID = randomID()
		sub.State, sub.CreateTime, sub.UpdateTime, sub.Version = repository.SubscriptionPending, now, now, 1
		sub.ConfirmHash, sub.ConfirmExpires, sub.ManageHash, sub.LastConfirmMail = confirmHash, now.Add(confirmValidity), HashToken(m.Links.ManageToken(sub.ID, 0)), now
		if err := m.Subscriptions.Create(ctx, sub); err != nil {
			if errors.Is(err, repository.ErrAlreadyExists) {
				return nil // subscribed a moment ago through another replica
			}
			return err
		}
	case err != nil:
		return err
	case cur.State == repository.SubscriptionActive:
		return nil
	case now.Sub(cur.LastConfirmMail) < confirmMailEvery:
		return nil // one confirmation mail per address every 10 minutes
	default:
		// Pending or unsubscribed: new preferences, a new confirmation. The
		// manage token stays: links in mails already delivered keep working.
		next := *sub
		next.ID, next.CreateTime, next.Version = cur.ID, cur.CreateTime, cur.Version+1
		next.State, next.UpdateTime = repository.SubscriptionPending, now
		next.ManageGeneration, next.ManageHash = cur.ManageGeneration, cur.ManageHash
		next.ConfirmHash, next.ConfirmExpires, next.LastConfirmMail = confirmHash, now.Add(confirmValidity), now
		if err := m.Subscriptions.Update(ctx, &next, cur); err != nil {
			if errors.Is(err, repository.ErrConflict) {
				return nil // renewed a moment ago through another replica
			}
			return err
		}
		sub = &next
	}
	link := m.Links.URL("/subscriptions/confirm", confirm)
	err = m.Mailer.Send(ctx, &mailer.Message{From: m.From, To: sub.Email, Subject: "Confirm your trending-papers subscription",
		Text: "Someone, hopefully you, asked for trending papers to be mailed to this address.\n\n" +
			"To confirm, open this link and press Confirm (it works for 7 days):\n" + link + "\n\n" +
			"If it was not you, ignore this mail: nothing will be sent.\n\n" +
			"Once confirmed, change what you get or unsubscribe here:\n" + m.Links.URL("/subscriptions/manage", m.Links.ManageToken(sub.ID, sub.ManageGeneration)) + "\n",
		MessageID: "confirm." + sub.ID + "." + fmt.Sprint(now.UnixNano()) + "@" + m.Links.Host()})
	if err != nil {
		m.Log.WarnContext(ctx, "confirmation mail not sent", "subscription", sub.ID, "err", err)
		m.unstamp(ctx, sub, cur)
		return ErrNotSent
	}
	return nil
}

// SendManageLink mails the manage link of email's subscription, if it has one,
// at most once every 10 minutes; the arbiter is the one of Subscribe. It
// returns ErrNotSent when the mail server did not take the mail.
func (m *Mails) SendManageLink(ctx context.Context, email string) error {
	unlock, err := m.addresses.LockContext(ctx, repository.EmailKey(email))
	if err != nil {
		return err
	}
	defer unlock()
	cur, err := m.Subscriptions.ByEmail(ctx, email)
	if errors.Is(err, repository.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	now := m.now()
	if now.Sub(cur.LastConfirmMail) < confirmMailEvery {
		return nil // one mail per address every 10 minutes
	}
	next := *cur
	next.LastConfirmMail, next.Version = now, cur.Version+1
	if err := m.Subscriptions.Update(ctx, &next, cur); err != nil {
		if errors.Is(err, repository.ErrConflict) {
			return nil // sent a moment ago through another replica
		}
		return err
	}
	err = m.Mailer.Send(ctx, &mailer.Message{From: m.From, To: next.Email, Subject: "Your link to manage your trending-papers subscription",
		Text:      "Change what you get, or unsubscribe, here:\n" + m.Links.URL("/subscriptions/manage", m.Links.ManageToken(next.ID, next.ManageGeneration)) + "\n",
		MessageID: "manage." + next.ID + "." + fmt.Sprint(now.UnixNano()) + "@" + m.Links.Host()})
	if err != nil {
		m.Log.WarnContext(ctx, "manage link not sent", "subscription", next.ID, "err", err)
		m.unstamp(ctx, &next, cur)
		return ErrNotSent
	}
	return nil
}

// unstamp takes back the mail stamp of sub after its mail failed, so that the
// next request sends it: LastConfirmMail goes back to what it was in prev (nil:
// none). A write that changed the subscription meanwhile is kept; the stamp is
// taken back from it as long as it is still ours.
func (m *Mails) unstamp(ctx context.Context, sub, prev *repository.Subscription) {
	// The caller may be gone (its mail failed on that): the stamp goes back anyway.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var before time.Time
	if prev != nil {
		before = prev.LastConfirmMail
	}
	cur := sub
	for range 3 {
		if !cur.LastConfirmMail.Equal(sub.LastConfirmMail) {
			return // mailed since, or already taken back
		}
		next := *cur
		next.LastConfirmMail, next.Version = before, cur.Version+1
		err := m.Subscriptions.Update(ctx, &next, cur)
		if !errors.Is(err, repository.ErrConflict) {
			if err != nil {
				m.Log.WarnContext(ctx, "mail stamp not taken back", "subscription", sub.ID, "err", err)
			}
			return
		}
		if cur, err = m.Subscriptions.Get(ctx, sub.ID); err != nil {
			return
		}
	}
}
