package service

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/papercatalog/papers/apierror"
	"github.com/papercatalog/papers/auth"
	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	subscriptionv1 "github.com/papercatalog/papers/gen/papers/subscription/v1"
)

// Policy is what the Gate does for a call of one RPC before its handler runs.
type Policy = auth.Policy

// NoDeadline is a Policy.Deadline: a call without a deadline of its own runs
// as long as its caller keeps it open.
const NoDeadline = auth.NoDeadline

// policies holds the Policy of every RPC of both services, by full method
// name. An RPC of either service that is not here is refused (INTERNAL), and
// TestEveryRPCHasAPolicy fails: adding an RPC means adding its line.
var policies = map[string]Policy{
	catalogv1.CatalogService_CreatePaper_FullMethodName:        {Access: auth.Admin, Limit: auth.Writes, Writes: true},
	catalogv1.CatalogService_GetPaper_FullMethodName:           {Access: auth.Viewer},
	catalogv1.CatalogService_BatchGetPapers_FullMethodName:     {Access: auth.Public},
	catalogv1.CatalogService_ListPapers_FullMethodName:         {Access: auth.Public},
	catalogv1.CatalogService_ListDailyPapers_FullMethodName:    {Access: auth.Public},
	catalogv1.CatalogService_ListTrendingPapers_FullMethodName: {Access: auth.Public},
	catalogv1.CatalogService_SearchPapers_FullMethodName:       {Access: auth.Public},
	catalogv1.CatalogService_ListSimilarPapers_FullMethodName:  {Access: auth.Public},
	catalogv1.CatalogService_CitePaper_FullMethodName:          {Access: auth.Public},
	catalogv1.CatalogService_UpvotePaper_FullMethodName:        {Access: auth.User, Limit: auth.Upvotes, Writes: true},
	catalogv1.CatalogService_RemovePaperUpvote_FullMethodName:  {Access: auth.User, Limit: auth.Upvotes, Writes: true},
	catalogv1.CatalogService_UpdatePaper_FullMethodName:        {Access: auth.Admin, Limit: auth.Writes, Writes: true},
	catalogv1.CatalogService_DeletePaper_FullMethodName:        {Access: auth.Admin, Limit: auth.Writes, Writes: true},
	// A stream of any length: it ends when the caller's records do.
	catalogv1.CatalogService_ImportPapers_FullMethodName: {Access: auth.Admin, Limit: auth.Writes, Writes: true, Deadline: NoDeadline},

	// The calls that mail an address spend Subscribes; those that present a
	// subscription's token spend Writes, which slows down guessing.
	subscriptionv1.SubscriptionService_CreateSubscription_FullMethodName:  {Access: auth.Public, Limit: auth.Subscribes, Writes: true},
	subscriptionv1.SubscriptionService_ConfirmSubscription_FullMethodName: {Access: auth.Public, Limit: auth.Writes, Writes: true},
	subscriptionv1.SubscriptionService_GetSubscription_FullMethodName:     {Access: auth.Owner, Limit: auth.Writes},
	subscriptionv1.SubscriptionService_UpdateSubscription_FullMethodName:  {Access: auth.Owner, Limit: auth.Writes, Writes: true},
	subscriptionv1.SubscriptionService_DeleteSubscription_FullMethodName:  {Access: auth.Owner, Limit: auth.Writes, Writes: true},
	subscriptionv1.SubscriptionService_Unsubscribe_FullMethodName:         {Access: auth.Public, Limit: auth.Writes, Writes: true},
	subscriptionv1.SubscriptionService_SendManageLink_FullMethodName:      {Access: auth.Public, Limit: auth.Subscribes, Writes: true},
	subscriptionv1.SubscriptionService_ListSubscriptions_FullMethodName:   {Access: auth.Admin},
	subscriptionv1.SubscriptionService_PreviewDigest_FullMethodName:       {Access: auth.Owner, Limit: auth.Writes},
	subscriptionv1.SubscriptionService_SendDigests_FullMethodName:         {Access: auth.Admin, Limit: auth.Writes, Writes: true},
}

// ManageTokenLookup is the policy of Subscriptions.ByManageToken, the pages'
// lookup of a subscription by its manage token (not an RPC): as the RPCs that
// take the token.
var ManageTokenLookup = Policy{Access: auth.Public, Limit: auth.Writes}

// ConfirmTokenLookup is the policy of Subscriptions.ByConfirmToken, the
// confirm page's lookup of a subscription by its confirmation token: as
// ManageTokenLookup.
var ConfirmTokenLookup = ManageTokenLookup

// services are the services the table covers; calls of any other (health
// checks, reflection) pass the Gate untouched.
var services = map[string]bool{
	catalogv1.CatalogService_ServiceDesc.ServiceName:           true,
	subscriptionv1.SubscriptionService_ServiceDesc.ServiceName: true,
}

// NewGate returns the Gate that enforces the policy table: the interceptor
// every call of both services goes through, from gRPC, from REST and from the
// pages alike. Calls of other services (health checks, reflection) pass it
// untouched; timeout is the deadline of a call whose caller set none and whose
// policy says 0. Its errors are statuses: UNAUTHENTICATED, RESOURCE_EXHAUSTED
// (with retry-after and RetryInfo) or, for an RPC without a policy, INTERNAL.
func NewGate(guard *auth.Guard, timeout time.Duration, log *slog.Logger) *auth.Gate {
	return &auth.Gate{Guard: guard, Timeout: timeout, Policies: policyOf,
		Fail: func(ctx context.Context, method string, err error) error {
			return apierror.Status(ctx, log, method, err)
		}}
}

// policyOf returns the policy of fullMethod. ok is false for a method of
// neither service; err is set for one the table lacks.
func policyOf(fullMethod string) (p Policy, ok bool, err error) {
	if p, ok := policies[fullMethod]; ok {
		return p, true, nil
	}
	service, _, _ := strings.Cut(strings.TrimPrefix(fullMethod, "/"), "/")
	if !services[service] {
		return Policy{}, false, nil
	}
	return Policy{}, true, fmt.Errorf("%s has no policy: add it to the table in service/policy.go", fullMethod)
}
