package site

import (
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/papercatalog/papers/reason"
)

// problem is what a failed call means to the person at a form, in sentences:
// one about the whole request and one for each form field it names.
type problem struct {
	Summary string
	// Fields maps a form field's name (query, time_zone, …) to a sentence
	// naming the field.
	Fields map[string]string
}

// fieldLabels name the subscription's fields as the forms label them.
var fieldLabels = map[string]string{
	"email": "The email address", "query": "Topics", "categories": "Categories", "organizations": "Organizations",
	"min_upvotes": "Minimum upvotes", "frequency": "How often", "weekdays": "Days", "send_hour": "The hour",
	"time_zone": "The time zone", "max_papers": "The most papers a mail lists",
}

// explain turns a failed call into sentences: the ErrorInfo reason and the
// BadRequest field violations of its status decide them, never the bare
// message of an unknown failure.
func explain(err error) problem {
	st := status.Convert(err)
	why := ""
	var retry float64
	var violations []*errdetails.BadRequest_FieldViolation
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			why = d.GetReason()
		case *errdetails.RetryInfo:
			retry = math.Ceil(d.GetRetryDelay().AsDuration().Seconds())
		case *errdetails.BadRequest:
			violations = append(violations, d.GetFieldViolations()...)
		}
	}
	p := problem{Fields: map[string]string{}}
	for _, v := range violations {
		field := strings.TrimPrefix(v.GetField(), "subscription.")
		s := fieldSentence(field, v.GetDescription())
		if _, ok := fieldLabels[field]; ok {
			if _, seen := p.Fields[field]; !seen {
				p.Fields[field] = s
			}
		} else {
			p.Summary = joinSentences(p.Summary, s)
		}
	}
	switch {
	case len(p.Fields) > 0 && p.Summary == "":
		p.Summary = problemSummary(len(p.Fields))
	case len(violations) > 0:
	case why == reason.TokenUnknown:
		p.Summary = "This link is unknown, was used already or has expired. The newest mail we sent has a link that works; or subscribe again."
	case why == reason.ManageTokenMismatch:
		p.Summary = "This link belongs to another subscription. Use the link in the newest mail we sent you."
	case why == reason.RateLimited || why == reason.SearchBusy:
		wait := "a minute"
		if retry > 0 {
			wait = strconv.Itoa(int(retry)) + " seconds"
			if retry == 1 {
				wait = "a second"
			}
		}
		p.Summary = "There were too many requests in a short time. Please wait " + wait + " and try again."
	case why == reason.MailUnavailable:
		p.Summary = "We could not send the mail just now. Nothing is lost: please try again in a few minutes."
	case why == reason.ConcurrentUpdate || why == reason.EtagMismatch:
		p.Summary = "Your subscription was changed from somewhere else at the same moment. Look at the values again and save once more."
	case st.Code() == codes.Unavailable:
		p.Summary = "The service is briefly unavailable. Please try again in a minute."
	case st.Code() == codes.DeadlineExceeded || st.Code() == codes.Canceled:
		p.Summary = "That took too long. Please try again."
	case st.Code() == codes.Internal || st.Code() == codes.Unknown:
		p.Summary = "Something went wrong on our side. Please try again later."
	default:
		p.Summary = sentence(st.Message())
	}
	return p
}

// fieldSentence is a violation of field as a sentence naming the field.
func fieldSentence(field, desc string) string {
	desc = strings.TrimPrefix(desc, "invalid query: ")
	label, ok := fieldLabels[field]
	if !ok {
		label = strings.ReplaceAll(field, "_", " ")
	}
	for _, verb := range []string{"must ", "is ", "are ", "has ", "entry "} {
		if strings.HasPrefix(desc, verb) {
			return sentence(label + " " + desc)
		}
	}
	return sentence(label + ": " + desc)
}

// sentence capitalises s and ends it with a full stop.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	r, n := utf8.DecodeRuneInString(s)
	s = string(unicode.ToUpper(r)) + s[n:]
	if !strings.HasSuffix(s, ".") && !strings.HasSuffix(s, "?") && !strings.HasSuffix(s, "!") {
		s += "."
	}
	return s
}

func joinSentences(a, b string) string {
	if a == "" {
		return b
	}
	return a + " " + b
}
