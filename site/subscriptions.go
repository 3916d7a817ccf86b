package site

import (
	"net/http"
	"strconv"
	"strings"

	"google.golang.org/protobuf/types/known/fieldmaskpb"

	subscriptionv1 "github.com/papercatalog/papers/gen/papers/subscription/v1"
)

type button struct{ Value, Label string }

// message is the data of page.html: a title, a message and maybe a form.
type message struct {
	Frame
	Message, Action, Token, Categories string
	Form                               bool
	Button                             button
	Sub                                *subscriptionv1.Subscription
}

func say(w http.ResponseWriter, m message) {
	m.NoSubscribeBox = true
	render(w, http.StatusOK, messageTmpl, m)
}

// subscribe serves the subscribe box's form.
func (s *Site) subscribe(w http.ResponseWriter, r *http.Request) {
	resp, err := s.Subscriptions.CreateSubscription(r.Context(), &subscriptionv1.CreateSubscriptionRequest{
		Subscription: &subscriptionv1.Subscription{Email: r.PostFormValue("email")}})
	if err != nil {
		pageError(w, err)
		return
	}
	say(w, message{Frame: Frame{Title: "Check your inbox"}, Message: resp.GetMessage()})
}

func (s *Site) confirmForm(w http.ResponseWriter, r *http.Request) {
	say(w, message{Frame: Frame{Title: "Confirm your subscription"}, Form: true, Action: "/subscriptions/confirm",
		Token: r.URL.Query().Get("token"), Button: button{"confirm", "Confirm"},
		Message: "Press Confirm to start getting trending papers by mail."})
}

func (s *Site) confirm(w http.ResponseWriter, r *http.Request) {
	sub, err := s.Subscriptions.ConfirmSubscription(r.Context(), &subscriptionv1.ConfirmSubscriptionRequest{Token: r.PostFormValue("token")})
	if err != nil {
		pageError(w, err)
		return
	}
	say(w, message{Frame: Frame{Title: "Subscription confirmed"}, Message: "Trending papers will come to " + sub.GetEmail() + "."})
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

func (s *Site) manage(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("token")
	sub, err := s.ByManageToken(r.Context(), tok)
	if err != nil {
		pageError(w, err)
		return
	}
	say(w, message{Frame: Frame{Title: "Your subscription"}, Form: true, Action: "/subscriptions/manage", Token: tok,
		Sub: sub, Categories: strings.Join(sub.GetCategories(), ", "), Button: button{"unsubscribe", "Unsubscribe"},
		Message: "Digests go to " + sub.GetEmail() + "."})
}

func (s *Site) saveManage(w http.ResponseWriter, r *http.Request) {
	tok := r.PostFormValue("token")
	if r.PostFormValue("action") == "unsubscribe" {
		s.unsubscribe(w, r)
		return
	}
	sub, err := s.ByManageToken(r.Context(), tok)
	if err != nil {
		pageError(w, err)
		return
	}
	in := &subscriptionv1.Subscription{Name: sub.GetName(), Query: r.PostFormValue("query")}
	for _, c := range strings.Split(r.PostFormValue("categories"), ",") {
		if c = strings.TrimSpace(c); c != "" {
			in.Categories = append(in.Categories, c)
		}
	}
	paths := []string{"query", "categories"}
	if h := r.PostFormValue("send_hour"); h != "" {
		hour, err := strconv.ParseInt(h, 10, 32)
		if err != nil {
			hour = -1 // refused, with the service's message
		}
		h32 := int32(hour)
		in.SendHour = &h32
		paths = append(paths, "send_hour")
	}
	updated, err := s.Subscriptions.UpdateSubscription(r.Context(), &subscriptionv1.UpdateSubscriptionRequest{
		Subscription: in, ManageToken: tok, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}})
	if err != nil {
		pageError(w, err)
		return
	}
	say(w, message{Frame: Frame{Title: "Saved"}, Message: "Digests to " + updated.GetEmail() + " follow your new choices."})
}
