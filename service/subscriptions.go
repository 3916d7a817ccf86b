package service

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net/mail"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/papercatalog/papers/auth"
	"github.com/papercatalog/papers/clock"
	"github.com/papercatalog/papers/delivery"
	subscriptionv1 "github.com/papercatalog/papers/gen/papers/subscription/v1"
	"github.com/papercatalog/papers/listing"
	"github.com/papercatalog/papers/reason"
	"github.com/papercatalog/papers/repository"
	"github.com/papercatalog/papers/search"
)

// Subscription limits and defaults.
const (
	defaultMaxPapers = 10
	maxMaxPapers     = 50
	defaultSendHour  = 8
	maxEmail         = 254
	maxTopicEntries  = 50
)

// Subscriptions implements subscriptionv1.SubscriptionServiceServer: it checks
// requests and who may make them, and leaves the mails to Mails and Digests.
type Subscriptions struct {
	subscriptionv1.UnimplementedSubscriptionServiceServer

	Store repository.Subscriptions
	Log   *slog.Logger
	// Mails sends the confirmation and manage-link mails.
	Mails *delivery.Mails
	// Digests sends and previews digests.
	Digests *delivery.Sender
	// Tokens signs ListSubscriptions' page tokens.
	Tokens *listing.Tokens
	// Clock gives the time of subscriptions' changes and expiries (nil: the
	// system's clock).
	Clock clock.Clock
}

var _ subscriptionv1.SubscriptionServiceServer = (*Subscriptions)(nil)

func (s *Subscriptions) fail(ctx context.Context, method string, err error) error {
	return toStatus(ctx, s.Log, method, err)
}

// now is the current time as stored: UTC, to the millisecond.
func (s *Subscriptions) now() time.Time {
	return clock.Or(s.Clock).Now().UTC().Truncate(time.Millisecond)
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
	if err := s.Mails.Subscribe(ctx, sub); err != nil {
		if errors.Is(err, delivery.ErrNotSent) {
			err = &Error{Code: codes.Unavailable, Reason: reason.MailUnavailable, Message: "the confirmation mail could not be sent; try again later"}
		}
		return nil, s.fail(ctx, "CreateSubscription", err)
	}
	return &subscriptionv1.CreateSubscriptionResponse{Message: acceptedMessage}, nil
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
	return &Error{Code: codes.NotFound, Reason: reason.TokenUnknown, Message: "the link is unknown, used or expired"}
}

func (s *Subscriptions) byToken(ctx context.Context, tok string) (*repository.Subscription, bool, error) {
	if tok == "" || len(tok) > 200 {
		return nil, false, notFoundToken()
	}
	sub, confirm, err := s.Store.ByToken(ctx, delivery.HashToken(tok))
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
	if err := s.Mails.SendManageLink(ctx, email); err != nil {
		if errors.Is(err, delivery.ErrNotSent) {
			err = &Error{Code: codes.Unavailable, Reason: reason.MailUnavailable, Message: "the mail could not be sent; try again later"}
		}
		return nil, s.fail(ctx, "SendManageLink", err)
	}
	return &subscriptionv1.SendManageLinkResponse{Message: manageLinkMessage}, nil
}

// ListSubscriptions implements subscriptionv1.SubscriptionServiceServer. The
// list is sorted newest first; a page token holds the position of the last
// subscription of its page, signed and bound to the filter.
func (s *Subscriptions) ListSubscriptions(ctx context.Context, req *subscriptionv1.ListSubscriptionsRequest) (*subscriptionv1.ListSubscriptionsResponse, error) {
	var v violations
	size := pageSize(&v, req.GetPageSize(), defaultPageSize, maxPageSize)
	match, err := subscriptionFilter(req.GetFilter())
	if err != nil {
		v.add("filter", "%s", err.Error())
	}
	tokenQuery := "subscriptions|" + req.GetFilter()
	var after listing.Key
	if t := req.GetPageToken(); t != "" {
		if after, err = s.Tokens.Decode(tokenQuery, t); err != nil || len(after) != 2 {
			v.add("page_token", "%s", listing.ErrInvalidToken.Error())
		}
	}
	if err := v.err(); err != nil {
		return nil, s.fail(ctx, "ListSubscriptions", err)
	}
	var all []*repository.Subscription
	if err := s.Store.All(ctx, func(sub *repository.Subscription) error {
		if match(sub) {
			all = append(all, sub)
		}
		return nil
	}); err != nil {
		return nil, s.fail(ctx, "ListSubscriptions", err)
	}
	slices.SortFunc(all, func(a, b *repository.Subscription) int { return compareKeys(subscriptionKey(a), subscriptionKey(b)) })
	start := 0
	if after != nil {
		start, _ = slices.BinarySearchFunc(all, after, func(sub *repository.Subscription, k listing.Key) int {
			if compareKeys(subscriptionKey(sub), k) <= 0 {
				return -1
			}
			return 1
		})
	}
	resp := &subscriptionv1.ListSubscriptionsResponse{TotalSize: int32(min(len(all), 1<<31-1))} //nolint:gosec // clamped
	end := min(start+size, len(all))
	for _, sub := range all[start:end] {
		resp.Subscriptions = append(resp.Subscriptions, subscriptionProto(sub))
	}
	if end < len(all) {
		resp.NextPageToken = s.Tokens.Encode(tokenQuery, subscriptionKey(all[end-1]))
	}
	return resp, nil
}

// subscriptionKey is a subscription's position in ListSubscriptions: newest
// first, then by id.
func subscriptionKey(sub *repository.Subscription) listing.Key {
	return listing.Key{{I: -sub.CreateTime.UnixNano()}, {S: sub.ID}}
}

func compareKeys(a, b listing.Key) int {
	if c := cmp.Compare(a[0].I, b[0].I); c != 0 {
		return c
	}
	return strings.Compare(a[1].S, b[1].S)
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
