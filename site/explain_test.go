package site

import (
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/papercatalog/papers/reason"
)

// TestExplainTurnsStatusesIntoSentences checks the sentences a person reads
// for each kind of refusal the subscription RPCs give.
func TestExplainTurnsStatusesIntoSentences(t *testing.T) {
	t.Parallel()
	withDetails := func(code codes.Code, msg string, details ...protoadapt.MessageV1) error {
		st, err := status.New(code, msg).WithDetails(details...)
		if err != nil {
			t.Fatal(err)
		}
		return st.Err()
	}
	info := func(r string) *errdetails.ErrorInfo { return &errdetails.ErrorInfo{Reason: r, Domain: reason.Domain} }
	for name, tc := range map[string]struct {
		err     error
		summary string
		fields  map[string]string
	}{
		"field violations become sentences naming each field": {
			err: withDetails(codes.InvalidArgument, "subscription.time_zone: ...", info(reason.InvalidArgument), &errdetails.BadRequest{
				FieldViolations: []*errdetails.BadRequest_FieldViolation{
					{Field: "subscription.time_zone", Description: `"Mars/Olympus" is not an IANA time zone such as Europe/Paris`},
					{Field: "subscription.max_papers", Description: "must be from 1 to 50"},
					{Field: "subscription.query", Description: "invalid query: a quoted phrase is not closed"},
				}}),
			summary: "3 values need a change: see below.",
			fields: map[string]string{
				"time_zone":  `The time zone: "Mars/Olympus" is not an IANA time zone such as Europe/Paris.`,
				"max_papers": "The most papers a mail lists must be from 1 to 50.",
				"query":      "Topics: a quoted phrase is not closed.",
			},
		},
		"a violation of a field the form lacks goes in the summary": {
			err: withDetails(codes.InvalidArgument, "x", &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
				{Field: "update_mask", Description: "names an unknown field"}}}),
			summary: "Update mask: names an unknown field.",
		},
		"an unknown link": {
			err:     withDetails(codes.NotFound, "the link is unknown, used or expired", info(reason.TokenUnknown)),
			summary: "This link is unknown, was used already or has expired. The newest mail we sent has a link that works; or subscribe again.",
		},
		"a rate limit says how long to wait": {
			err: withDetails(codes.ResourceExhausted, "rate limit", info(reason.RateLimited),
				&errdetails.RetryInfo{RetryDelay: durationpb.New(7 * time.Second)}),
			summary: "There were too many requests in a short time. Please wait 7 seconds and try again.",
		},
		"a mail that could not be sent": {
			err:     withDetails(codes.Unavailable, "the confirmation mail could not be sent", info(reason.MailUnavailable)),
			summary: "We could not send the mail just now. Nothing is lost: please try again in a few minutes.",
		},
		"a concurrent change": {
			err:     withDetails(codes.Aborted, "changed", info(reason.ConcurrentUpdate)),
			summary: "Your subscription was changed from somewhere else at the same moment. Look at the values again and save once more.",
		},
		"an internal error says nothing of its message": {
			err:     status.Error(codes.Internal, "mongo: connection pool exhausted"),
			summary: "Something went wrong on our side. Please try again later.",
		},
		"an unavailable database": {
			err:     withDetails(codes.Unavailable, "database unavailable; retry later", info(reason.DatabaseUnavailable)),
			summary: "The service is briefly unavailable. Please try again in a minute.",
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := explain(tc.err)
			if p.Summary != tc.summary {
				t.Errorf("summary %q, want %q", p.Summary, tc.summary)
			}
			if len(p.Fields) != len(tc.fields) {
				t.Errorf("fields %q, want %q", p.Fields, tc.fields)
			}
			for k, v := range tc.fields {
				if p.Fields[k] != v {
					t.Errorf("%s: %q, want %q", k, p.Fields[k], v)
				}
			}
		})
	}
}
