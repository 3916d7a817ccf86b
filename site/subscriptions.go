package site

import (
	"html/template"
	"net/http"
	"strconv"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	subscriptionv1 "github.com/papercatalog/papers/gen/papers/subscription/v1"
)

// The subscription pages only call existing RPCs (CreateSubscription,
// ConfirmSubscription, UpdateSubscription, Unsubscribe), whose arbiters and
// crash points are those of the subscribe and delivery packages; no page
// writes anything itself.

type button struct{ Value, Label string }

// message is the data of page.html: a title, a message and maybe a form with
// one button.
type message struct {
	Frame
	Message, Action, Token string
	Form                   bool
	Button                 button
}

func say(w http.ResponseWriter, m message) {
	m.NoSubscribeBox = true
	render(w, http.StatusOK, messageTmpl, m)
}

// prefs are a subscription's preferences as the form shows them: what the
// person typed, kept as typed when it is refused.
type prefs struct {
	Query, Categories, Organizations, MinUpvotes, TimeZone, MaxPapers string
	SendHour                                                          int
	Weekly                                                            bool
	// Days are the checked weekdays, 1 (Monday) to 7 (Sunday).
	Days map[int]bool
}

// defaultPrefs are the API's defaults (check.Subscription).
func defaultPrefs() prefs {
	return prefs{SendHour: 8, TimeZone: "UTC", MaxPapers: "10", MinUpvotes: "0",
		Days: map[int]bool{1: true, 2: true, 3: true, 4: true, 5: true}}
}

func prefsOf(sub *subscriptionv1.Subscription) prefs {
	p := defaultPrefs()
	p.Query, p.Categories, p.Organizations = sub.GetQuery(), strings.Join(sub.GetCategories(), ", "), strings.Join(sub.GetOrganizations(), ", ")
	p.MinUpvotes = strconv.FormatInt(sub.GetMinUpvotes(), 10)
	p.Weekly = sub.GetFrequency() == subscriptionv1.Subscription_FREQUENCY_WEEKLY
	if sub.SendHour != nil {
		p.SendHour = int(sub.GetSendHour())
	}
	if sub.GetTimeZone() != "" {
		p.TimeZone = sub.GetTimeZone()
	}
	if sub.GetMaxPapers() != 0 {
		p.MaxPapers = strconv.Itoa(int(sub.GetMaxPapers()))
	}
	if len(sub.GetWeekdays()) > 0 {
		p.Days = map[int]bool{}
		for _, d := range sub.GetWeekdays() {
			p.Days[int(d)] = true
		}
	}
	return p
}

// readPrefs reads the preferences a form sends into a subscription and the
// update mask of the fields the form carries (a field absent from the form
// is left as it is; the weekdays' hidden empty entry says the form has them,
// as unchecked boxes send nothing). Numbers that are not numbers are refused
// here, in the same sentences as the API's refusals.
func readPrefs(r *http.Request) (in *subscriptionv1.Subscription, mask []string, p prefs, errs map[string]string) {
	in, p, errs = &subscriptionv1.Subscription{}, defaultPrefs(), map[string]string{}
	form := r.PostForm
	has := func(k string) bool { _, ok := form[k]; return ok }
	list := func(s string) []string {
		return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
	}
	if has("query") {
		p.Query, in.Query = form.Get("query"), form.Get("query")
		mask = append(mask, "query")
	}
	if has("categories") {
		p.Categories, in.Categories = form.Get("categories"), list(form.Get("categories"))
		mask = append(mask, "categories")
	}
	if has("organizations") {
		p.Organizations, in.Organizations = form.Get("organizations"), list(form.Get("organizations"))
		mask = append(mask, "organizations")
	}
	// number reads a number field as typed (kept for the form) and its value
	// (0 when empty), refusing what is not a number with sentence.
	number := func(field string, bits int, sentence string) (typed string, n int64) {
		typed = strings.TrimSpace(form.Get(field))
		if typed != "" {
			var err error
			if n, err = strconv.ParseInt(typed, 10, bits); err != nil {
				errs[field] = fieldSentence(field, sentence)
			}
		}
		mask = append(mask, field)
		return typed, n
	}
	if has("min_upvotes") {
		p.MinUpvotes, in.MinUpvotes = number("min_upvotes", 64, "must be a whole number, 0 or more")
	}
	if has("frequency") {
		p.Weekly = form.Get("frequency") == "weekly"
		in.Frequency = subscriptionv1.Subscription_FREQUENCY_DAILY
		if p.Weekly {
			in.Frequency = subscriptionv1.Subscription_FREQUENCY_WEEKLY
		}
		mask = append(mask, "frequency")
	}
	if has("weekdays") {
		p.Days = map[int]bool{}
		for _, v := range form["weekdays"] {
			if v == "" {
				continue
			}
			d, err := strconv.Atoi(v)
			if err != nil || d < 1 || d > 7 {
				errs["weekdays"] = fieldSentence("weekdays", "must be days of the week")
				continue
			}
			p.Days[d] = true
			in.Weekdays = append(in.Weekdays, subscriptionv1.Subscription_Weekday(d))
		}
		mask = append(mask, "weekdays")
	}
	if has("send_hour") {
		h, err := strconv.ParseInt(strings.TrimSpace(form.Get("send_hour")), 10, 32)
		if err != nil {
			errs["send_hour"] = fieldSentence("send_hour", "must be an hour from 0 to 23")
		}
		p.SendHour = int(h)
		h32 := int32(h)
		in.SendHour = &h32
		mask = append(mask, "send_hour")
	}
	if has("time_zone") {
		p.TimeZone = strings.TrimSpace(form.Get("time_zone"))
		in.TimeZone = p.TimeZone
		mask = append(mask, "time_zone")
	}
	if has("max_papers") {
		var n int64
		p.MaxPapers, n = number("max_papers", 32, "must be a number from 1 to 50")
		in.MaxPapers = int32(n) //nolint:gosec // parsed as 32 bits
	}
	return in, mask, p, errs
}

// subscriptionPage is the data of subscription.html, the subscribe and
// manage forms.
type subscriptionPage struct {
	Frame
	Action, Token, Email string
	// AskEmail shows the address field (the subscribe form).
	AskEmail bool
	// Manage adds the Unsubscribe button (the manage form).
	Manage bool
	// Notice says something about the subscription's state (unconfirmed,
	// ended); Message says what just happened (saved).
	Notice, Message string
	// Problem is the sentence about a refusal as a whole; Errors the
	// sentence about each refused field.
	Problem string
	Errors  map[string]string
	Prefs   prefs
}

// dayNames are the weekdays of the form, Monday (1) first, as the API numbers
// them.
var dayNames = []string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}

// fieldError is a form field's name and the sentence of its refusal, if any.
type fieldError struct{ Name, Error string }

// subscriptionFuncs are the functions subscription.html calls.
var subscriptionFuncs = template.FuncMap{
	"field": func(p subscriptionPage, name string) fieldError { return fieldError{name, p.Errors[name]} },
	"days":  func() []string { return dayNames },
	"inc":   func(i int) int { return i + 1 },
	"hours": func() []int {
		h := make([]int, 24)
		for i := range h {
			h[i] = i
		}
		return h
	},
	"zones": func() []string { return zones },
}

var subscriptionTmpl = template.Must(template.Must(layout.Clone()).Funcs(subscriptionFuncs).ParseFS(files, "templates/subscription.html"))

func renderSubscription(w http.ResponseWriter, code int, p subscriptionPage) {
	p.NoSubscribeBox = true
	if p.Errors == nil {
		p.Errors = map[string]string{}
	}
	render(w, code, subscriptionTmpl, p)
}

// subscribeForm is the subscribe page: the address and every preference.
func (s *Site) subscribeForm(w http.ResponseWriter, r *http.Request) {
	renderSubscription(w, http.StatusOK, subscriptionPage{Frame: Frame{Title: "Subscribe"}, Action: "/subscribe", AskEmail: true,
		Email: r.URL.Query().Get("email"), Prefs: defaultPrefs(),
		Message: "Trending papers by mail, chosen and timed as you like. You can change all of it later from any mail."})
}

// subscribe serves the subscribe page's form and the subscribe box's (which
// sends the address alone: the defaults apply).
func (s *Site) subscribe(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	in, _, p, errs := readPrefs(r)
	in.Email = strings.TrimSpace(r.PostFormValue("email"))
	page := subscriptionPage{Frame: Frame{Title: "Subscribe"}, Action: "/subscribe", AskEmail: true, Email: r.PostFormValue("email"), Prefs: p, Errors: errs}
	if len(errs) > 0 {
		page.Problem = problemSummary(len(errs))
		renderSubscription(w, http.StatusBadRequest, page)
		return
	}
	resp, err := s.Subscriptions.CreateSubscription(r.Context(), &subscriptionv1.CreateSubscriptionRequest{Subscription: in})
	if err != nil {
		refusedForm(w, err, page)
		return
	}
	say(w, message{Frame: Frame{Title: "Check your inbox"}, Message: resp.GetMessage()})
}

// problemSummary is the sentence above a form with n refused fields.
func problemSummary(n int) string {
	if n == 1 {
		return "One value needs a change: see below."
	}
	return strconv.Itoa(n) + " values need a change: see below."
}

// refused shows a form again after a failed call, with what was typed and
// the call's refusal in sentences.
func refusedForm(w http.ResponseWriter, err error, page subscriptionPage) {
	setRetryAfter(w, err)
	pr := explain(err)
	page.Problem = pr.Summary
	for k, v := range pr.Fields {
		page.Errors[k] = v
	}
	renderSubscription(w, httpStatus(err), page)
}

func (s *Site) confirmForm(w http.ResponseWriter, r *http.Request) {
	sub, err := s.ByConfirmToken(r.Context(), r.URL.Query().Get("token"))
	if err != nil {
		linkError(w, err)
		return
	}
	if said := confirmedAlready(w, sub); said {
		return
	}
	say(w, message{Frame: Frame{Title: "Confirm your subscription"}, Form: true, Action: "/subscriptions/confirm",
		Token: r.URL.Query().Get("token"), Button: button{"confirm", "Confirm"},
		Message: "Press Confirm to start getting trending papers at " + sub.GetEmail() + "."})
}

// confirmedAlready says so when a confirmation link's subscription is no
// longer pending.
func confirmedAlready(w http.ResponseWriter, sub *subscriptionv1.Subscription) bool {
	switch sub.GetState() {
	case subscriptionv1.Subscription_STATE_ACTIVE:
		say(w, message{Frame: Frame{Title: "Already confirmed"}, Message: "This subscription is confirmed already: trending papers go to " +
			sub.GetEmail() + ". Every digest has links to change or end it."})
		return true
	case subscriptionv1.Subscription_STATE_UNSUBSCRIBED:
		render(w, http.StatusOK, messageTmpl, message{Frame: Frame{Title: "Subscription ended"},
			Message: "This subscription was confirmed and later ended, so nothing goes to " + sub.GetEmail() +
				". To get the digests again, subscribe again below."})
		return true
	}
	return false
}

func (s *Site) confirm(w http.ResponseWriter, r *http.Request) {
	tok := r.PostFormValue("token")
	sub, err := s.Subscriptions.ConfirmSubscription(r.Context(), &subscriptionv1.ConfirmSubscriptionRequest{Token: tok})
	if status.Code(err) == codes.NotFound {
		// Confirmed meanwhile (a second press, another tab)?
		if sub, lookErr := s.ByConfirmToken(r.Context(), tok); lookErr == nil && confirmedAlready(w, sub) {
			return
		}
	}
	if err != nil {
		linkError(w, err)
		return
	}
	say(w, message{Frame: Frame{Title: "Subscription confirmed"}, Message: "Trending papers will come to " + sub.GetEmail() + "."})
}

// linkError is the page of a link that did not work: with the subscribe box,
// since subscribing again is what helps.
func linkError(w http.ResponseWriter, err error) {
	setRetryAfter(w, err)
	render(w, httpStatus(err), messageTmpl, message{Frame: Frame{Title: "That link did not work"}, Message: explain(err).Summary})
}

func (s *Site) unsubscribeForm(w http.ResponseWriter, r *http.Request) {
	say(w, message{Frame: Frame{Title: "Unsubscribe"}, Form: true, Action: "/unsubscribe", Token: r.URL.Query().Get("token"),
		Button: button{"unsubscribe", "Unsubscribe"}, Message: "Press Unsubscribe to stop the digests."})
}

func (s *Site) unsubscribe(w http.ResponseWriter, r *http.Request) {
	resp, err := s.Subscriptions.Unsubscribe(r.Context(), &subscriptionv1.UnsubscribeRequest{Token: r.FormValue("token")})
	if err != nil {
		pageError(w, err)
		return
	}
	say(w, message{Frame: Frame{Title: "Unsubscribed"}, Message: resp.GetEmail() + " will get no more digests."})
}

// managePage is the manage form of sub, with a notice about its state.
func managePage(tok string, sub *subscriptionv1.Subscription) subscriptionPage {
	page := subscriptionPage{Frame: Frame{Title: "Your subscription"}, Action: "/subscriptions/manage", Token: tok, Manage: true,
		Email: sub.GetEmail(), Prefs: prefsOf(sub)}
	switch sub.GetState() {
	case subscriptionv1.Subscription_STATE_PENDING:
		page.Notice = "This subscription is not confirmed yet, so nothing is sent to " + sub.GetEmail() +
			". Open the confirmation link in the mail we sent there (it works for 7 days). No mail? Subscribe again with the same address for a new link. You can set your choices now."
	case subscriptionv1.Subscription_STATE_UNSUBSCRIBED:
		page.Notice = "This subscription is ended, so nothing is sent to " + sub.GetEmail() +
			". To get the digests again, subscribe again with the same address."
	default:
		page.Notice = "Digests go to " + sub.GetEmail() + "."
	}
	return page
}

func (s *Site) manage(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("token")
	sub, err := s.ByManageToken(r.Context(), tok)
	if err != nil {
		linkError(w, err)
		return
	}
	renderSubscription(w, http.StatusOK, managePage(tok, sub))
}

func (s *Site) saveManage(w http.ResponseWriter, r *http.Request) {
	tok := r.PostFormValue("token")
	if r.PostFormValue("action") == "unsubscribe" {
		s.unsubscribe(w, r)
		return
	}
	sub, err := s.ByManageToken(r.Context(), tok)
	if err != nil {
		linkError(w, err)
		return
	}
	in, mask, p, errs := readPrefs(r)
	page := managePage(tok, sub)
	page.Prefs, page.Errors = p, errs
	if len(errs) > 0 {
		page.Problem = problemSummary(len(errs))
		renderSubscription(w, http.StatusBadRequest, page)
		return
	}
	in.Name = sub.GetName()
	updated, err := s.Subscriptions.UpdateSubscription(r.Context(), &subscriptionv1.UpdateSubscriptionRequest{
		Subscription: in, ManageToken: tok, UpdateMask: &fieldmaskpb.FieldMask{Paths: mask}})
	if err != nil {
		refusedForm(w, err, page)
		return
	}
	page = managePage(tok, updated)
	page.Message = "Saved. Digests to " + updated.GetEmail() + " follow your new choices."
	renderSubscription(w, http.StatusOK, page)
}
