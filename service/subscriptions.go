package service

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/papercatalog/papers/apierror"
	"github.com/papercatalog/papers/auth"
	"github.com/papercatalog/papers/check"
	"github.com/papercatalog/papers/clock"
	"github.com/papercatalog/papers/delivery"
	subscriptionv1 "github.com/papercatalog/papers/gen/papers/subscription/v1"
	"github.com/papercatalog/papers/listing"
	"github.com/papercatalog/papers/paperpb"
	"github.com/papercatalog/papers/reason"
	"github.com/papercatalog/papers/repository"
	"github.com/papercatalog/papers/subscribe"
)

// Subscriptions implements subscriptionv1.SubscriptionServiceServer: it checks
// requests and who may make them, and leaves the changes to Book and the
// mails to Mails and Digests.
type Subscriptions struct {
	subscriptionv1.UnimplementedSubscriptionServiceServer

	Store repository.Subscriptions
	Log   *slog.Logger
	// Book confirms, changes and ends subscriptions.
	Book *subscribe.Book
	// Mails sends the confirmation and manage-link mails.
	Mails *delivery.Mails
	// Digests sends and previews digests.
	Digests *delivery.Sender
	// Tokens signs ListSubscriptions' page tokens.
	Tokens *listing.Tokens
	// Clock gives the default edition of SendDigests and PreviewDigest (nil:
	// the system's clock).
	Clock clock.Clock
}

var _ subscriptionv1.SubscriptionServiceServer = (*Subscriptions)(nil)

// fail maps err to a status; the errors of the subscription engines first.
func (s *Subscriptions) fail(ctx context.Context, method string, err error) error {
	switch {
	case errors.Is(err, subscribe.ErrTokenUnknown):
		err = &apierror.Error{Code: codes.NotFound, Reason: reason.TokenUnknown, Message: "the link is unknown, used or expired"}
	case errors.Is(err, subscribe.ErrNotOwner):
		err = &apierror.Error{Code: codes.PermissionDenied, Message: "the token is not this subscription's manage token"}
	case errors.Is(err, delivery.ErrNotSent):
		msg := "the mail could not be sent; try again later"
		if method == "CreateSubscription" {
			msg = "the confirmation mail could not be sent; try again later"
		}
		err = &apierror.Error{Code: codes.Unavailable, Reason: reason.MailUnavailable, Message: msg}
	}
	return apierror.Status(ctx, s.Log, method, err)
}

// now is the current time as stored: UTC, to the millisecond.
func (s *Subscriptions) now() time.Time {
	return clock.Or(s.Clock).Now().UTC().Truncate(time.Millisecond)
}

const acceptedMessage = "If the address can receive mail, a confirmation link is on its way. Nothing will be sent until it is confirmed."

// CreateSubscription implements subscriptionv1.SubscriptionServiceServer.
func (s *Subscriptions) CreateSubscription(ctx context.Context, req *subscriptionv1.CreateSubscriptionRequest) (*subscriptionv1.CreateSubscriptionResponse, error) {
	var found check.Violations
	in := req.GetSubscription()
	if in == nil {
		found.Add("subscription", "is required")
	} else {
		sub := &repository.Subscription{Email: check.Email(&found, "subscription.email", in.GetEmail())}
		check.Subscription(&found, "subscription.", sub, preferences(in), check.PreferenceFields)
		if len(found) == 0 {
			if err := s.Mails.Subscribe(ctx, sub); err != nil {
				return nil, s.fail(ctx, "CreateSubscription", err)
			}
		}
	}
	if err := checked(found); err != nil {
		return nil, s.fail(ctx, "CreateSubscription", err)
	}
	return &subscriptionv1.CreateSubscriptionResponse{Message: acceptedMessage}, nil
}

// checked is the INVALID_ARGUMENT error of what checks found, or nil.
func checked(found check.Violations) error {
	var v apierror.Violations
	v.Merge(found)
	return v.Err()
}

// preferences are the preferences a subscription of the API sets.
func preferences(in *subscriptionv1.Subscription) check.Preferences {
	p := check.Preferences{Weekly: in.GetFrequency() == subscriptionv1.Subscription_FREQUENCY_WEEKLY, SendHour: in.SendHour,
		TimeZone: in.GetTimeZone(), Query: in.GetQuery(), Categories: in.GetCategories(), Organizations: in.GetOrganizations(),
		MinUpvotes: in.GetMinUpvotes(), MaxPapers: in.GetMaxPapers()}
	for _, w := range in.GetWeekdays() {
		p.Weekdays = append(p.Weekdays, int32(w))
	}
	return p
}

// ConfirmSubscription implements subscriptionv1.SubscriptionServiceServer.
func (s *Subscriptions) ConfirmSubscription(ctx context.Context, req *subscriptionv1.ConfirmSubscriptionRequest) (*subscriptionv1.Subscription, error) {
	sub, err := s.Book.Confirm(ctx, req.GetToken())
	if err != nil {
		return nil, s.fail(ctx, "ConfirmSubscription", err)
	}
	return subscriptionProto(sub), nil
}

// authorized returns the named subscription if the caller holds its manage token
// or, as the Gate found (Owner access), an admin token.
func (s *Subscriptions) authorized(ctx context.Context, name, manageToken string) (*repository.Subscription, error) {
	id, ok := strings.CutPrefix(name, "subscriptions/")
	if !ok || id == "" || strings.Contains(id, "/") {
		var v apierror.Violations
		v.Add("name", "must be a subscription name such as subscriptions/abc123")
		return nil, v.Err()
	}
	if manageToken == "" && !auth.FromContext(ctx).Admin {
		return nil, errors.New("a subscription asked for without a manage token, by a caller the gate did not find to be an admin: its policy must be Owner")
	}
	sub, err := s.Book.Owned(ctx, id, manageToken)
	if errors.Is(err, repository.ErrNotFound) {
		return nil, &apierror.Error{Code: codes.NotFound, Resource: name, Message: "no subscription " + name}
	}
	return sub, err
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
	var found check.Violations
	paths := req.GetUpdateMask().GetPaths()
	if len(paths) == 0 {
		// AIP-134: without a mask, the preferences the request sets.
		paths = paperpb.Populated(req.GetSubscription(), func(f string) bool { return check.PreferenceFields[f] })
		if len(paths) == 0 {
			found.Add("update_mask", "is empty and the subscription sets no preference: name the preferences to change")
		}
	}
	mask := map[string]bool{}
	for _, p := range paths {
		if !check.PreferenceFields[p] {
			found.Add("update_mask", "%q is not a preference (frequency, weekdays, send_hour, time_zone, query, categories, organizations, min_upvotes, max_papers)", p)
		}
		mask[p] = true
	}
	next := *sub
	check.Subscription(&found, "subscription.", &next, preferences(req.GetSubscription()), mask)
	if err := checked(found); err != nil {
		return nil, s.fail(ctx, "UpdateSubscription", err)
	}
	if err := s.Book.Update(ctx, sub, &next); err != nil {
		if errors.Is(err, repository.ErrConflict) {
			err = &apierror.Error{Code: codes.Aborted, Message: "the subscription changed meanwhile; read it again"}
		}
		return nil, s.fail(ctx, "UpdateSubscription", err)
	}
	return subscriptionProto(&next), nil
}

// DeleteSubscription implements subscriptionv1.SubscriptionServiceServer.
func (s *Subscriptions) DeleteSubscription(ctx context.Context, req *subscriptionv1.DeleteSubscriptionRequest) (*emptypb.Empty, error) {
	sub, err := s.authorized(ctx, req.GetName(), req.GetManageToken())
	if err == nil {
		err = s.Book.Delete(ctx, sub)
	}
	if err != nil {
		return nil, s.fail(ctx, "DeleteSubscription", err)
	}
	return &emptypb.Empty{}, nil
}

// Unsubscribe implements subscriptionv1.SubscriptionServiceServer.
func (s *Subscriptions) Unsubscribe(ctx context.Context, req *subscriptionv1.UnsubscribeRequest) (*subscriptionv1.UnsubscribeResponse, error) {
	sub, err := s.Book.Unsubscribe(ctx, req.GetToken())
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

const manageLinkMessage = "If the address has a subscription, a link to manage it is on its way."

// SendManageLink implements subscriptionv1.SubscriptionServiceServer. It mails
// the subscription's manage link, the one every earlier mail carries: an
// anonymous request never changes which links work.
func (s *Subscriptions) SendManageLink(ctx context.Context, req *subscriptionv1.SendManageLinkRequest) (*subscriptionv1.SendManageLinkResponse, error) {
	var found check.Violations
	email := check.Email(&found, "email", req.GetEmail())
	err := checked(found)
	if err == nil {
		err = s.Mails.SendManageLink(ctx, email)
	}
	if err != nil {
		return nil, s.fail(ctx, "SendManageLink", err)
	}
	return &subscriptionv1.SendManageLinkResponse{Message: manageLinkMessage}, nil
}

// ListSubscriptions implements subscriptionv1.SubscriptionServiceServer. The
// list is sorted newest first; a page token holds the position of the last
// subscription of its page, signed and bound to the filter.
func (s *Subscriptions) ListSubscriptions(ctx context.Context, req *subscriptionv1.ListSubscriptionsRequest) (*subscriptionv1.ListSubscriptionsResponse, error) {
	var v apierror.Violations
	size := pageSize(&v, req.GetPageSize(), defaultPageSize, maxPageSize)
	match, err := listing.SubscriptionFilter(req.GetFilter(), subscriptionv1.Subscription_STATE_UNSPECIFIED.Type())
	if err != nil {
		v.Add("filter", "%s", err.Error())
	}
	tokenQuery := "subscriptions|" + req.GetFilter()
	var after listing.Key
	if t := req.GetPageToken(); t != "" {
		if after, err = s.Tokens.Decode(tokenQuery, t); err != nil || len(after) != 2 {
			v.Add("page_token", "%s", listing.ErrInvalidToken.Error())
		}
	}
	if err := v.Err(); err != nil {
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
	page, more := listing.SubscriptionPage(all, after, size)
	resp := &subscriptionv1.ListSubscriptionsResponse{TotalSize: int32(min(len(all), 1<<31-1))} //nolint:gosec // clamped
	for _, sub := range page {
		resp.Subscriptions = append(resp.Subscriptions, subscriptionProto(sub))
	}
	if more {
		resp.NextPageToken = s.Tokens.Encode(tokenQuery, listing.SubscriptionKey(page[len(page)-1]))
	}
	return resp, nil
}

// ByConfirmToken returns the subscription a confirmation token belongs to,
// used or not (for the confirm page, which says when it is confirmed
// already). It is no RPC: callers pass the Gate with the ConfirmTokenLookup
// policy first. NOT_FOUND (TOKEN_UNKNOWN) for a token of none and one that
// expired unused.
func (s *Subscriptions) ByConfirmToken(ctx context.Context, tok string) (*subscriptionv1.Subscription, error) {
	sub, err := s.Book.ByConfirmToken(ctx, tok)
	if err != nil {
		return nil, s.fail(ctx, "ByConfirmToken", err)
	}
	return subscriptionProto(sub), nil
}

// ByManageToken returns the subscription a manage token belongs to (for the
// pages, which carry only the token). It is no RPC, so no interceptor admits
// its callers: they pass the Gate with the ManageTokenLookup policy first.
func (s *Subscriptions) ByManageToken(ctx context.Context, tok string) (*subscriptionv1.Subscription, error) {
	sub, err := s.Book.ByManageToken(ctx, tok)
	if err != nil {
		return nil, s.fail(ctx, "ByManageToken", err)
	}
	return subscriptionProto(sub), nil
}
