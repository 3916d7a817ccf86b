// Package reason is the catalogue of the google.rpc.ErrorInfo reasons of
// paperd's errors: stable names a program can act on, each with the status
// code it comes with. Engines name their reasons from here without importing
// the service; README.md ("Errors") lists the same table.
package reason

import "google.golang.org/grpc/codes"

// Domain is the google.rpc.ErrorInfo domain of every error paperd returns: the
// service name its resource types are named under (papers.example/Paper).
const Domain = "papers.example"

// The reasons; All documents each.
const (
	InvalidFilter        = "INVALID_FILTER"
	InvalidOrderBy       = "INVALID_ORDER_BY"
	InvalidPageToken     = "INVALID_PAGE_TOKEN"
	InvalidUpdateMask    = "INVALID_UPDATE_MASK"
	InvalidQuery         = "INVALID_QUERY"
	InvalidArgument      = "INVALID_ARGUMENT"
	PaperNotFound        = "PAPER_NOT_FOUND"
	SubscriptionNotFound = "SUBSCRIPTION_NOT_FOUND"
	TokenUnknown         = "TOKEN_UNKNOWN"
	NotFound             = "NOT_FOUND"
	PaperAlreadyExists   = "PAPER_ALREADY_EXISTS"
	AlreadyExists        = "ALREADY_EXISTS"
	EtagMismatch         = "ETAG_MISMATCH"
	ConcurrentUpdate     = "CONCURRENT_UPDATE"
	AdminTokenRequired   = "ADMIN_TOKEN_REQUIRED" //nolint:gosec // a reason, not a credential
	AdminTokenInvalid    = "ADMIN_TOKEN_INVALID"
	UserTokenRequired    = "USER_TOKEN_REQUIRED"      //nolint:gosec // a reason, not a credential
	UserTokenInvalid     = "USER_TOKEN_INVALID"       //nolint:gosec // a reason, not a credential
	UserTokensOff        = "USER_TOKENS_NOT_ACCEPTED" //nolint:gosec // a reason, not a credential
	ManageTokenMismatch  = "MANAGE_TOKEN_MISMATCH"
	RateLimited          = "RATE_LIMITED"
	SearchBusy           = "SEARCH_BUSY"
	RequestTooLarge      = "REQUEST_TOO_LARGE"
	ServerStarting       = "SERVER_STARTING"
	ShuttingDown         = "SHUTTING_DOWN"
	IndexRebuilding      = "INDEX_REBUILDING"
	DatabaseUnavailable  = "DATABASE_UNAVAILABLE"
	MailUnavailable      = "MAIL_UNAVAILABLE"
	DeadlineExceeded     = "DEADLINE_EXCEEDED"
	Canceled             = "CANCELLED"
	Unimplemented        = "UNIMPLEMENTED"
	Internal             = "INTERNAL"
)

// Info describes one reason: its name, the code it comes with and when it is
// given.
type Info struct {
	Reason string
	Code   codes.Code
	When   string
}

// All is every reason an error of paperd carries, with its code and when it
// is given; README.md shows the same table.
var All = []Info{
	{InvalidFilter, codes.InvalidArgument, "`filter` is not a valid AIP-160 filter of the known fields"},
	{InvalidOrderBy, codes.InvalidArgument, "`order_by` names an unknown field or is malformed"},
	{InvalidPageToken, codes.InvalidArgument, "`page_token` is not one this server gave for the same request"},
	{InvalidUpdateMask, codes.InvalidArgument, "`update_mask` names a field that cannot be updated"},
	{InvalidQuery, codes.InvalidArgument, "a search `query` is malformed or past a limit of its cost"},
	{InvalidArgument, codes.InvalidArgument, "any other invalid field (BadRequest names it), or a request that cannot be decoded"},
	{PaperNotFound, codes.NotFound, "no such paper (ResourceInfo names it)"},
	{SubscriptionNotFound, codes.NotFound, "no such subscription (ResourceInfo names it)"},
	{TokenUnknown, codes.NotFound, "a confirmation, unsubscribe or manage token (link) is unknown, used or expired"},
	{NotFound, codes.NotFound, "no such REST route"},
	{PaperAlreadyExists, codes.AlreadyExists, "CreatePaper of a paper that exists"},
	{AlreadyExists, codes.AlreadyExists, "any other resource that exists already"},
	{EtagMismatch, codes.Aborted, "the `etag` sent is stale: read the resource again"},
	{ConcurrentUpdate, codes.Aborted, "the resource changed concurrently: read it again and retry"},
	{AdminTokenRequired, codes.Unauthenticated, "the call needs an admin token (`authorization: Bearer <token>`)"},
	{AdminTokenInvalid, codes.Unauthenticated, "the admin token is not one of the server's"},
	{UserTokenRequired, codes.Unauthenticated, "the call needs a user token (a JWT)"},
	{UserTokenInvalid, codes.Unauthenticated, "the user token is expired, badly signed or has no usable `sub`"},
	{UserTokensOff, codes.Unauthenticated, "the server accepts no user tokens (no JWT secret or JWKS configured)"},
	{ManageTokenMismatch, codes.PermissionDenied, "the manage token belongs to another subscription"},
	{RateLimited, codes.ResourceExhausted, "past the caller's rate limit (RetryInfo and Retry-After say when to retry)"},
	{SearchBusy, codes.ResourceExhausted, "too many searches at once (RetryInfo says when to retry)"},
	{RequestTooLarge, codes.ResourceExhausted, "a line of a REST import is longer than the limit (HTTP 413, not 429)"},
	{ServerStarting, codes.Unavailable, "the server has not opened its database yet (retry-after)"},
	{ShuttingDown, codes.Unavailable, "the server is shutting down"},
	{IndexRebuilding, codes.Unavailable, "the search index is being rebuilt"},
	{DatabaseUnavailable, codes.Unavailable, "the database does not answer"},
	{MailUnavailable, codes.Unavailable, "a mail could not be sent"},
	{DeadlineExceeded, codes.DeadlineExceeded, "the call's deadline passed"},
	{Canceled, codes.Canceled, "the caller canceled the call"},
	{Unimplemented, codes.Unimplemented, "no such method, or an HTTP method a route does not take"},
	{Internal, codes.Internal, "a bug or an unexpected failure (logged in full; the message says no more)"},
}
