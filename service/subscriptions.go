package service

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/papercatalog/papers/auth"
	"github.com/papercatalog/papers/clock"
	"github.com/papercatalog/papers/digest"
	subscriptionv1 "github.com/papercatalog/papers/gen/papers/subscription/v1"
	"github.com/papercatalog/papers/keylock"
	"github.com/papercatalog/papers/mailer"
	"github.com/papercatalog/papers/repository"
	"github.com/papercatalog/papers/search"
)

// Subscription limits and defaults.
const (
	confirmValidity  = 7 * 24 * time.Hour
	confirmMailEvery = 10 * time.Minute
	defaultMaxPapers = 10
	maxMaxPapers     = 50
	defaultSendHour  = 8
	maxEmail         = 254
	maxTopicEntries  = 50
)

// Subscriptions implements subscriptionv1.SubscriptionServiceServer.
type Subscriptions struct {
	subscriptionv1.UnimplementedSubscriptionServiceServer

	Store  repository.Subscriptions
	Mailer mailer.Mailer
	Log    *slog.Logger
	// PublicURL starts every link in mails, e.g. https://papers.example.
	PublicURL string
	// From is the sender of mails.
	From string
	// TokenKey (32 random bytes, shared by the replicas) derives manage tokens.
	TokenKey []byte
	// Deliveries records each edition sent to each subscriber.
	Deliveries repository.Deliveries
	// Papers selects a subscription's papers for the digest due at a time.
	Papers func(sub *repository.Subscription, at time.Time) ([]*repository.Paper, error)
	// Owner names this sender in delivery records; ClaimTimeout is how long a
	// claim of a sender that went away blocks others.
	Owner        string
	ClaimTimeout time.Duration
	// RetryBackoff is the wait before the first retry of a digest the mail
	// server could not take for now (default a minute); it doubles with each
	// attempt, up to an hour.
	RetryBackoff time.Duration
	// Concurrency is how many digests are sent at once (at least one).
	Concurrency int
	// JournalPath is the file where the outcomes of digest deliveries are kept
	// until the database has them (see ReplayJournal); sending digests needs it.
	JournalPath string
	// Stats counts digest deliveries.
	Stats Stats
	// Clock gives the time: of subscriptions' changes and expiries, of
	// editions due, claims and retries (nil: the system's clock).
	Clock clock.Clock

	rendererOnce sync.Once
	renderer     *digest.Renderer // renders each paper once for all digests
	pending      pendingEditions  // editions with deliveries to retry (digests.go)
	journalOnce  sync.Once
	journal      *journal    // at JournalPath
	addresses    keylock.Set // one mail-sending call per address (lower-cased) at a time
}

var _ subscriptionv1.SubscriptionServiceServer = (*Subscriptions)(nil)

func (s *Subscriptions) fail(ctx context.Context, method string, err error) error {
	return toStatus(ctx, s.Log, method, err)
}

// now is the current time as stored: UTC, to the millisecond.
func (s *Subscriptions) now() time.Time {
	return clock.Or(s.Clock).Now().UTC().Truncate(time.Millisecond)
}

// newToken returns a random token (256 bits, URL-safe) and its hash, the only
// form stored.
func newToken() (string, string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail
	tok := base64.RawURLEncoding.EncodeToString(b)
	return tok, hashToken(tok)
}

// manageToken derives a subscription's manage token from the token key, so that
// digests can carry it while the database holds only its hash. It is the same in
// every mail for the subscription's life: nothing changes the generation any
// more (subscriptions stored before may hold a generation above 0).
func (s *Subscriptions) manageToken(id string, generation int) string {
	mac := hmac.New(sha256.New, s.TokenKey)
	_, _ = fmt.Fprintf(mac, "manage|%s|%d", id, generation)
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func hashToken(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

const acceptedMessage = "If the address can receive mail, a confirmation link is on its way. Nothing will be sent until it is confirmed."

// CreateSubscription implements subscriptionv1.SubscriptionServiceServer.
func (s *Subscriptions) CreateSubscription(ctx context.Context, req *subscriptionv1.CreateSubscriptionRequest) (*subscriptionv1.CreateSubscriptionResponse, error) {
	var v violations
	in := req.GetSubscription()
	if in == nil {
		v.add("subscription", "is required")
		return nil, s.fail(ctx, "CreateSubscription", v.err())
	}
	email := checkEmail(&v, "subscription.email", in.GetEmail())
	sub := &repository.Subscription{Email: email}
	applyPreferences(&v, "subscription.", sub, in, preferenceFields)
	if err := v.err(); err != nil {
		return nil, s.fail(ctx, "CreateSubscription", err)
	}
	if err := s.subscribe(ctx, sub); err != nil {
		return nil, s.fail(ctx, "CreateSubscription", err)
	}
	return &subscriptionv1.CreateSubscriptionResponse{Message: acceptedMessage}, nil
}

// subscribe stores a pending subscription, or renews the confirmation of the
// address's pending one, and mails the confirmation link. An address that is
// already subscribed gets nothing, and the caller learns nothing either way.
//
// The address's lock (one subscribe or SendManageLink per address at a time in
// this process) is the arbiter between concurrent calls: the second waits for
// the first's mail and sees its stamp. Across replicas, the stamp is written by
// a conditional write before the mail goes (Create's address insert, or Update
// on the version), and a mail that fails takes its stamp back, so that the next
// subscribe sends it.
func (s *Subscriptions) subscribe(ctx context.Context, sub *repository.Subscription) error {
	unlock, err := s.addresses.LockContext(ctx, repository.EmailKey(sub.Email))
	if err != nil {
		return err
	}
	defer unlock()
	now := s.now()
	confirm, confirmHash := newToken()
	cur, err := s.Store.ByEmail(ctx, sub.Email)
	switch {
	case errors.Is(err, repository.ErrNotFound):
		sub.ID = randomID()
		sub.State, sub.CreateTime, sub.UpdateTime, sub.Version = repository.SubscriptionPending, now, now, 1
		sub.ConfirmHash, sub.ConfirmExpires, sub.ManageHash, sub.LastConfirmMail = confirmHash, now.Add(confirmValidity), hashToken(s.manageToken(sub.ID, 0)), now
		if err := s.Store.Create(ctx, sub); err != nil {
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
		if err := s.Store.Update(ctx, &next, cur); err != nil {
			if errors.Is(err, repository.ErrConflict) {
				return nil // renewed a moment ago through another replica
			}
			return err
		}
		sub = &next
	}
	link := s.link("/subscriptions/confirm", confirm)
	err = s.Mailer.Send(ctx, &mailer.Message{From: s.From, To: sub.Email, Subject: "Confirm your trending-papers subscription",
		Text: "Someone, hopefully you, asked for trending papers to be mailed to this address.\n\n" +
			"To confirm, open this link and press Confirm (it works for 7 days):\n" + link + "\n\n" +
			"If it was not you, ignore this mail: nothing will be sent.\n\n" +
			"Once confirmed, change what you get or unsubscribe here:\n" + s.link("/subscriptions/manage", s.manageToken(sub.ID, sub.ManageGeneration)) + "\n",
		MessageID: "confirm." + sub.ID + "." + fmt.Sprint(now.UnixNano()) + "@" + s.host()})
	if err != nil {
		s.Log.WarnContext(ctx, "confirmation mail not sent", "subscription", sub.ID, "err", err)
		s.unstamp(ctx, sub, cur)
		return &Error{Code: codes.Unavailable, Reason: ReasonMailUnavailable, Message: "the confirmation mail could not be sent; try again later"}
	}
	return nil
}

// unstamp takes back the mail stamp of sub after its mail failed, so that the
// next request sends it: LastConfirmMail goes back to what it was in prev (nil:
// none). A write that changed the subscription meanwhile is kept; the stamp is
// taken back from it as long as it is still ours.
func (s *Subscriptions) unstamp(ctx context.Context, sub, prev *repository.Subscription) {
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
		err := s.Store.Update(ctx, &next, cur)
		if !errors.Is(err, repository.ErrConflict) {
			if err != nil {
				s.Log.WarnContext(ctx, "mail stamp not taken back", "subscription", sub.ID, "err", err)
			}
			return
		}
		if cur, err = s.Store.Get(ctx, sub.ID); err != nil {
			return
		}
	}
}

func (s *Subscriptions) link(path, token string) string {
	return strings.TrimRight(s.PublicURL, "/") + path + "?token=" + url.QueryEscape(token)
}

func (s *Subscriptions) host() string {
	if u, err := url.Parse(s.PublicURL); err == nil && u.Hostname() != "" {
		return u.Hostname()
	}
	return "localhost"
}

func randomID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return strings.ToLower(base64.RawURLEncoding.EncodeToString(b))
}

// checkEmail returns the address part of a well-formed address.
func checkEmail(v *violations, field, s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		v.add(field, "is required")
		return ""
	}
	// Only a bare address: a quoted local part ("a b"@example.org) would be
	// stored without its quotes, as an address nobody can mail.
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s || len(a.Address) > maxEmail {
		v.add(field, "must be one e-mail address such as ada@example.org")
		return ""
	}
	return a.Address
}

// ConfirmSubscription implements subscriptionv1.SubscriptionServiceServer.
func (s *Subscriptions) ConfirmSubscription(ctx context.Context, req *subscriptionv1.ConfirmSubscriptionRequest) (*subscriptionv1.Subscription, error) {
	sub, confirm, err := s.byToken(ctx, req.GetToken())
	if err == nil && (!confirm || s.now().After(sub.ConfirmExpires)) {
		err = notFoundToken()
	}
	if err != nil {
		return nil, s.fail(ctx, "ConfirmSubscription", err)
	}
	now := s.now()
	next := *sub
	next.State, next.ConfirmTime, next.UpdateTime, next.Version = repository.SubscriptionActive, now, now, sub.Version+1
	next.ConfirmHash, next.ConfirmExpires = "", time.Time{} // single-use
	if err := s.Store.Update(ctx, &next, sub); err != nil {
		if errors.Is(err, repository.ErrConflict) {
			err = notFoundToken() // confirmed by a concurrent call with the same token
		}
		return nil, s.fail(ctx, "ConfirmSubscription", err)
	}
	return subscriptionProto(&next), nil
}

func notFoundToken() error {
	return &Error{Code: codes.NotFound, Reason: ReasonTokenUnknown, Message: "the link is unknown, used or expired"}
}

func (s *Subscriptions) byToken(ctx context.Context, tok string) (*repository.Subscription, bool, error) {
	if tok == "" || len(tok) > 200 {
		return nil, false, notFoundToken()
	}
	sub, confirm, err := s.Store.ByToken(ctx, hashToken(tok))
	if errors.Is(err, repository.ErrNotFound) {
		return nil, false, notFoundToken()
	}
	return sub, confirm, err
}

// authorized returns the named subscription if the caller holds its manage token
// or, as the Gate found (Owner access), an admin token.
func (s *Subscriptions) authorized(ctx context.Context, name, manageToken string) (*repository.Subscription, error) {
	id, ok := strings.CutPrefix(name, "subscriptions/")
	if !ok || id == "" || strings.Contains(id, "/") {
		var v violations
		v.add("name", "must be a subscription name such as subscriptions/abc123")
		return nil, v.err()
	}
	if manageToken == "" {
		if !auth.FromContext(ctx).Admin {
			return nil, errors.New("a subscription asked for without a manage token, by a caller the gate did not find to be an admin: its policy must be Owner")
		}
		sub, err := s.Store.Get(ctx, id)
		if errors.Is(err, repository.ErrNotFound) {
			return nil, &Error{Code: codes.NotFound, Resource: name, Message: "no subscription " + name}
		}
		return sub, err
	}
	sub, confirm, err := s.byToken(ctx, manageToken)
	if err != nil {
		return nil, err
	}
	if confirm || sub.ID != id {
		return nil, &Error{Code: codes.PermissionDenied, Message: "the token is not this subscription's manage token"}
	}
	return sub, nil
}

// GetSubscription implements subscriptionv1.SubscriptionServiceServer.
func (s *Subscriptions) GetSubscription(ctx context.Context, req *subscriptionv1.GetSubscriptionRequest) (*subscriptionv1.Subscription, error) {
	sub, err := s.authorized(ctx, req.GetName(), req.GetManageToken())
	if err != nil {
		return nil, s.fail(ctx, "GetSubscription", err)
	}
	return subscriptionProto(sub), nil
}

// UpdateSubscription implements subscriptionv1.SubscriptionServiceServer.
func (s *Subscriptions) UpdateSubscription(ctx context.Context, req *subscriptionv1.UpdateSubscriptionRequest) (*subscriptionv1.Subscription, error) {
	sub, err := s.authorized(ctx, req.GetSubscription().GetName(), req.GetManageToken())
	if err != nil {
		return nil, s.fail(ctx, "UpdateSubscription", err)
	}
	var v violations
	paths := req.GetUpdateMask().GetPaths()
	if len(paths) == 0 {
		// AIP-134: without a mask, the preferences the request sets.
		paths = populated(req.GetSubscription(), func(f string) bool { return preferenceFields[f] })
		if len(paths) == 0 {
			v.add("update_mask", "is empty and the subscription sets no preference: name the preferences to change")
		}
	}
	for _, p := range paths {
		if !preferenceFields[p] {
			v.add("update_mask", "%q is not a preference (frequency, weekdays, send_hour, time_zone, query, categories, organizations, min_upvotes, max_papers)", p)
		}
	}
	next := *sub
	mask := map[string]bool{}
	for _, p := range paths {
		mask[p] = true
	}
	applyPreferences(&v, "subscription.", &next, req.GetSubscription(), mask)
	if err := v.err(); err != nil {
		return nil, s.fail(ctx, "UpdateSubscription", err)
	}
	next.UpdateTime, next.Version = s.now(), sub.Version+1
	if err := s.Store.Update(ctx, &next, sub); err != nil {
		if errors.Is(err, repository.ErrConflict) {
			err = &Error{Code: codes.Aborted, Message: "the subscription changed meanwhile; read it again"}
		}
		return nil, s.fail(ctx, "UpdateSubscription", err)
	}
	return subscriptionProto(&next), nil
}

// DeleteSubscription implements subscriptionv1.SubscriptionServiceServer.
func (s *Subscriptions) DeleteSubscription(ctx context.Context, req *subscriptionv1.DeleteSubscriptionRequest) (*emptypb.Empty, error) {
	sub, err := s.authorized(ctx, req.GetName(), req.GetManageToken())
	if err == nil {
		err = s.Store.Delete(ctx, sub)
	}
	if err != nil {
		return nil, s.fail(ctx, "DeleteSubscription", err)
	}
	return &emptypb.Empty{}, nil
}

// Unsubscribe implements subscriptionv1.SubscriptionServiceServer.
func (s *Subscriptions) Unsubscribe(ctx context.Context, req *subscriptionv1.UnsubscribeRequest) (*subscriptionv1.UnsubscribeResponse, error) {
	sub, confirm, err := s.byToken(ctx, req.GetToken())
	if err == nil && confirm {
		err = notFoundToken()
	}
	if err == nil && sub.State != repository.SubscriptionUnsubscribed {
		next := *sub
		next.State, next.UpdateTime, next.Version = repository.SubscriptionUnsubscribed, s.now(), sub.Version+1
		if err = s.Store.Update(ctx, &next, sub); errors.Is(err, repository.ErrConflict) {
			return s.Unsubscribe(ctx, req) // changed meanwhile: look again
		}
	}
	if err != nil {
		return nil, s.fail(ctx, "Unsubscribe", err)
	}
	return &subscriptionv1.UnsubscribeResponse{Email: sub.Email}, nil
}

// subscriptionProto is the API form of a subscription (tokens are never in it).
func subscriptionProto(s *repository.Subscription) *subscriptionv1.Subscription {
	out := &subscriptionv1.Subscription{
		Name: "subscriptions/" + s.ID, Email: s.Email, State: subscriptionv1.Subscription_State(s.State), //nolint:gosec // 1 to 3
		Frequency: subscriptionv1.Subscription_FREQUENCY_DAILY, TimeZone: s.TimeZone, Query: s.Query,
		Categories: s.Categories, Organizations: s.Organizations, MinUpvotes: s.MinUpvotes,
		MaxPapers: int32(s.MaxPapers), CreateTime: timestamppb.New(s.CreateTime), //nolint:gosec // at most 50
		UpdateTime: timestamppb.New(s.UpdateTime),
	}
	if s.Frequency == "weekly" {
		out.Frequency = subscriptionv1.Subscription_FREQUENCY_WEEKLY
	}
	hour := int32(s.SendHour) //nolint:gosec // 0 to 23
	out.SendHour = &hour
	for _, w := range s.Weekdays {
		out.Weekdays = append(out.Weekdays, weekdayProto(w))
	}
	if !s.ConfirmTime.IsZero() {
		out.ConfirmTime = timestamppb.New(s.ConfirmTime)
	}
	return out
}

func weekdayProto(w time.Weekday) subscriptionv1.Subscription_Weekday {
	if w == time.Sunday {
		return subscriptionv1.Subscription_WEEKDAY_SUNDAY
	}
	return subscriptionv1.Subscription_Weekday(w) //nolint:gosec // 1 to 6
}

// preferenceFields are the fields a subscriber sets.
var preferenceFields = map[string]bool{"frequency": true, "weekdays": true, "send_hour": true, "time_zone": true,
	"query": true, "categories": true, "organizations": true, "min_upvotes": true, "max_papers": true}

// applyPreferences copies the fields in mask from in to sub, checking them, and
// fills defaults of a new subscription.
func applyPreferences(v *violations, prefix string, sub *repository.Subscription, in *subscriptionv1.Subscription, mask map[string]bool) {
	if mask["frequency"] {
		sub.Frequency = "daily"
		if in.GetFrequency() == subscriptionv1.Subscription_FREQUENCY_WEEKLY {
			sub.Frequency = "weekly"
		}
	}
	if mask["weekdays"] {
		sub.Weekdays = nil
		seen := map[time.Weekday]bool{}
		for _, w := range in.GetWeekdays() {
			if w < subscriptionv1.Subscription_WEEKDAY_MONDAY || w > subscriptionv1.Subscription_WEEKDAY_SUNDAY {
				v.add(prefix+"weekdays", "must be days from WEEKDAY_MONDAY to WEEKDAY_SUNDAY")
				break
			}
			d := time.Weekday(int(w) % 7)
			if !seen[d] {
				seen[d] = true
				sub.Weekdays = append(sub.Weekdays, d)
			}
		}
		if len(sub.Weekdays) == 0 {
			sub.Weekdays = []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}
		}
	}
	if mask["send_hour"] {
		sub.SendHour = defaultSendHour
		if in.SendHour != nil {
			if h := in.GetSendHour(); h < 0 || h > 23 {
				v.add(prefix+"send_hour", "must be an hour from 0 to 23")
			} else {
				sub.SendHour = int(h)
			}
		}
	}
	if mask["time_zone"] {
		sub.TimeZone = loadZone(v, prefix+"time_zone", in.GetTimeZone()).String()
	}
	if mask["query"] {
		// Checked as a search query now, rather than failing each digest later.
		if sub.Query = strings.TrimSpace(in.GetQuery()); sub.Query != "" {
			if _, err := search.Parse(sub.Query); err != nil {
				v.add(prefix+"query", "%s", err.Error())
			}
		}
	}
	if mask["categories"] {
		sub.Categories = in.GetCategories()
		checkList(v, prefix+"categories", sub.Categories, maxTopicEntries, maxCategory)
	}
	if mask["organizations"] {
		sub.Organizations = in.GetOrganizations()
		checkList(v, prefix+"organizations", sub.Organizations, maxTopicEntries, 63)
	}
	if mask["min_upvotes"] {
		sub.MinUpvotes = in.GetMinUpvotes()
		if sub.MinUpvotes < 0 {
			v.add(prefix+"min_upvotes", "must not be negative")
		}
	}
	if mask["max_papers"] {
		sub.MaxPapers = defaultMaxPapers
		if n := in.GetMaxPapers(); n != 0 {
			if n < 1 || n > maxMaxPapers {
				v.add(prefix+"max_papers", "must be from 1 to %d", maxMaxPapers)
			} else {
				sub.MaxPapers = int(n)
			}
		}
	}
}

const manageLinkMessage = "If the address has a subscription, a link to manage it is on its way."

// SendManageLink implements subscriptionv1.SubscriptionServiceServer. It mails
// the subscription's manage link, the one every earlier mail carries: an
// anonymous request never changes which links work.
func (s *Subscriptions) SendManageLink(ctx context.Context, req *subscriptionv1.SendManageLinkRequest) (*subscriptionv1.SendManageLinkResponse, error) {
	var v violations
	email := checkEmail(&v, "email", req.GetEmail())
	if err := v.err(); err != nil {
		return nil, s.fail(ctx, "SendManageLink", err)
	}
	if err := s.sendManageLink(ctx, email); err != nil {
		return nil, s.fail(ctx, "SendManageLink", err)
	}
	return &subscriptionv1.SendManageLinkResponse{Message: manageLinkMessage}, nil
}

// sendManageLink mails the manage link of email's subscription, if it has one,
// at most once every 10 minutes; the arbiter is the one of subscribe.
func (s *Subscriptions) sendManageLink(ctx context.Context, email string) error {
	unlock, err := s.addresses.LockContext(ctx, repository.EmailKey(email))
	if err != nil {
		return err
	}
	defer unlock()
	cur, err := s.Store.ByEmail(ctx, email)
	if errors.Is(err, repository.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	now := s.now()
	if now.Sub(cur.LastConfirmMail) < confirmMailEvery {
		return nil // one mail per address every 10 minutes
	}
	next := *cur
	next.LastConfirmMail, next.Version = now, cur.Version+1
	if err := s.Store.Update(ctx, &next, cur); err != nil {
		if errors.Is(err, repository.ErrConflict) {
			return nil // sent a moment ago through another replica
		}
		return err
	}
	err = s.Mailer.Send(ctx, &mailer.Message{From: s.From, To: next.Email, Subject: "Your link to manage your trending-papers subscription",
		Text:      "Change what you get, or unsubscribe, here:\n" + s.link("/subscriptions/manage", s.manageToken(next.ID, next.ManageGeneration)) + "\n",
		MessageID: "manage." + next.ID + "." + fmt.Sprint(now.UnixNano()) + "@" + s.host()})
	if err != nil {
		s.Log.WarnContext(ctx, "manage link not sent", "subscription", next.ID, "err", err)
		s.unstamp(ctx, &next, cur)
		return &Error{Code: codes.Unavailable, Reason: ReasonMailUnavailable, Message: "the mail could not be sent; try again later"}
	}
	return nil
}

// ListSubscriptions implements subscriptionv1.SubscriptionServiceServer. The page
// token is the offset into the list, which is sorted newest first.
func (s *Subscriptions) ListSubscriptions(ctx context.Context, req *subscriptionv1.ListSubscriptionsRequest) (*subscriptionv1.ListSubscriptionsResponse, error) {
	var v violations
	size := pageSize(&v, req.GetPageSize(), defaultPageSize, maxPageSize)
	var state repository.SubscriptionState
	switch f := strings.Join(strings.Fields(req.GetFilter()), " "); f {
	case "":
	case "state = STATE_PENDING":
		state = repository.SubscriptionPending
	case "state = STATE_ACTIVE":
		state = repository.SubscriptionActive
	case "state = STATE_UNSUBSCRIBED":
		state = repository.SubscriptionUnsubscribed
	default:
		v.add("filter", "must be empty or state = STATE_PENDING, STATE_ACTIVE or STATE_UNSUBSCRIBED")
	}
	offset := 0
	if t := req.GetPageToken(); t != "" {
		b, err := base64.RawURLEncoding.DecodeString(t)
		f, o, ok := strings.Cut(string(b), "|")
		n, aerr := strconv.Atoi(o)
		if err != nil || !ok || aerr != nil || n < 0 || f != req.GetFilter() {
			v.add("page_token", "is not a page token of this filter")
		}
		offset = n
	}
	if err := v.err(); err != nil {
		return nil, s.fail(ctx, "ListSubscriptions", err)
	}
	var all []*repository.Subscription
	if err := s.Store.All(ctx, func(sub *repository.Subscription) error {
		if state == 0 || sub.State == state {
			all = append(all, sub)
		}
		return nil
	}); err != nil {
		return nil, s.fail(ctx, "ListSubscriptions", err)
	}
	slices.SortFunc(all, func(a, b *repository.Subscription) int {
		if c := b.CreateTime.Compare(a.CreateTime); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	resp := &subscriptionv1.ListSubscriptionsResponse{TotalSize: int32(min(len(all), 1<<31-1))} //nolint:gosec // clamped
	end := min(offset+size, len(all))
	for _, sub := range all[min(offset, len(all)):end] {
		resp.Subscriptions = append(resp.Subscriptions, subscriptionProto(sub))
	}
	if end < len(all) {
		resp.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte(req.GetFilter() + "|" + strconv.Itoa(end)))
	}
	return resp, nil
}

// ByManageToken returns the subscription a manage token belongs to (for the
// pages, which carry only the token). It is no RPC, so no interceptor admits
// its callers: they pass the Gate with the ManageTokenLookup policy first.
func (s *Subscriptions) ByManageToken(ctx context.Context, tok string) (*subscriptionv1.Subscription, error) {
	sub, confirm, err := s.byToken(ctx, tok)
	if err == nil && confirm {
		err = notFoundToken()
	}
	if err != nil {
		return nil, s.fail(ctx, "ByManageToken", err)
	}
	return subscriptionProto(sub), nil
}
