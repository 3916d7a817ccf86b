package server

import (
	"context"
	"embed"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	subscriptionv1 "github.com/papercatalog/papers/gen/papers/subscription/v1"
	"github.com/papercatalog/papers/service"
)

// The pages people reach from mails: server-rendered, no JavaScript, forms
// protected against cross-site requests. A GET never changes anything (mail
// scanners open links); buttons POST.

// templates holds the pages' templates, parsed once when the package loads.
//
//go:embed templates/*.html
var templates embed.FS

var (
	pageTmpl = template.Must(template.ParseFS(templates, "templates/page.html"))
	homeTmpl = template.Must(template.ParseFS(templates, "templates/home.html"))
)

type button struct{ Value, Label string }

type page struct {
	Title, Message, Action, Token, Categories string
	Form                                      bool
	Button                                    button
	Sub                                       *subscriptionv1.Subscription
}

func (s *Server) renderPage(w http.ResponseWriter, code int, p page) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_ = pageTmpl.Execute(w, p)
}

// pageError shows a failed call as a page, with the call's status mapped to HTTP
// and its RetryInfo (a rate limit's) as Retry-After.
func (s *Server) pageError(w http.ResponseWriter, err error) {
	st := status.Convert(err)
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay().AsDuration() > 0 {
			w.Header().Set("Retry-After", strconv.FormatInt(int64(math.Ceil(ri.GetRetryDelay().AsDuration().Seconds())), 10))
		}
	}
	s.renderPage(w, runtime.HTTPStatusFromCode(st.Code()), page{Title: "That did not work", Message: st.Message()})
}

// pageRoutes adds the pages to mux.
func (s *Server) pageRoutes(mux *http.ServeMux) {
	subs := subscriptionv1.NewSubscriptionServiceClient(s.calls)
	mux.HandleFunc("GET /subscriptions/confirm", func(w http.ResponseWriter, r *http.Request) {
		s.renderPage(w, 200, page{Title: "Confirm your subscription", Form: true, Action: "/subscriptions/confirm",
			Token: r.URL.Query().Get("token"), Button: button{"confirm", "Confirm"},
			Message: "Press Confirm to start getting trending papers by mail."})
	})
	mux.HandleFunc("POST /subscriptions/confirm", func(w http.ResponseWriter, r *http.Request) {
		sub, err := subs.ConfirmSubscription(r.Context(), &subscriptionv1.ConfirmSubscriptionRequest{Token: r.PostFormValue("token")})
		if err != nil {
			s.pageError(w, err)
			return
		}
		s.renderPage(w, 200, page{Title: "Subscription confirmed", Message: "Trending papers will come to " + sub.GetEmail() + "."})
	})
	unsubscribe := func(w http.ResponseWriter, r *http.Request) {
		resp, err := subs.Unsubscribe(r.Context(), &subscriptionv1.UnsubscribeRequest{Token: r.FormValue("token")})
		if err != nil {
			s.pageError(w, err)
			return
		}
		s.renderPage(w, 200, page{Title: "Unsubscribed", Message: resp.GetEmail() + " will get no more digests."})
	}
	mux.HandleFunc("GET /unsubscribe", func(w http.ResponseWriter, r *http.Request) {
		s.renderPage(w, 200, page{Title: "Unsubscribe", Form: true, Action: "/unsubscribe", Token: r.URL.Query().Get("token"),
			Button: button{"unsubscribe", "Unsubscribe"}, Message: "Press Unsubscribe to stop the digests."})
	})
	// RFC 8058: a mail client POSTs List-Unsubscribe=One-Click to the URL, token
	// in the query.
	mux.HandleFunc("POST /unsubscribe", unsubscribe)
	mux.HandleFunc("GET /subscriptions/manage", func(w http.ResponseWriter, r *http.Request) {
		tok := r.URL.Query().Get("token")
		sub, err := s.byManageToken(r.Context(), tok)
		if err != nil {
			s.pageError(w, err)
			return
		}
		s.renderPage(w, 200, page{Title: "Your subscription", Form: true, Action: "/subscriptions/manage", Token: tok,
			Sub: sub, Categories: strings.Join(sub.GetCategories(), ", "), Button: button{"unsubscribe", "Unsubscribe"},
			Message: "Digests go to " + sub.GetEmail() + "."})
	})
	mux.HandleFunc("POST /subscriptions/manage", func(w http.ResponseWriter, r *http.Request) {
		tok := r.PostFormValue("token")
		if r.PostFormValue("action") == "unsubscribe" {
			unsubscribe(w, r)
			return
		}
		sub, err := s.byManageToken(r.Context(), tok)
		if err != nil {
			s.pageError(w, err)
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
		updated, err := subs.UpdateSubscription(r.Context(), &subscriptionv1.UpdateSubscriptionRequest{
			Subscription: in, ManageToken: tok, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}})
		if err != nil {
			s.pageError(w, err)
			return
		}
		s.renderPage(w, 200, page{Title: "Saved", Message: "Digests to " + updated.GetEmail() + " follow your new choices."})
	})
}

// byManageToken is the subscription a manage token belongs to, looked up as
// the service's ManageTokenLookup policy allows.
func (s *Server) byManageToken(ctx context.Context, tok string) (*subscriptionv1.Subscription, error) {
	ctx, err := s.gate.Load().Admit(ctx, "ByManageToken", service.ManageTokenLookup, nil)
	if err != nil {
		return nil, err
	}
	return s.subscriptions.ByManageToken(ctx, tok)
}

// pageHeaders sets the security headers of pages.
func pageHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

type homeItem struct {
	Name, Title, Authors string
	Upvotes              int64
}

func homeItems(papers []*catalogv1.Paper) []homeItem {
	out := make([]homeItem, len(papers))
	for i, p := range papers {
		var names []string
		for _, a := range p.GetAuthors()[:min(len(p.GetAuthors()), 3)] {
			names = append(names, a.GetName())
		}
		if more := len(p.GetAuthors()) - 3; more > 0 {
			names = append(names, fmt.Sprintf("+%d more", more))
		}
		out[i] = homeItem{Name: p.GetName(), Title: p.GetTitle(), Authors: strings.Join(names, ", "), Upvotes: p.GetUpvotes()}
	}
	return out
}

// home serves /: today's papers, trending papers, search and the subscribe form.
func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	ctx := r.Context()
	catalog := catalogv1.NewCatalogServiceClient(s.calls)
	data := map[string]any{}
	if daily, err := catalog.ListDailyPapers(ctx, &catalogv1.ListDailyPapersRequest{Date: s.clock().UTC().Format(time.DateOnly), PageSize: 20}); err == nil {
		data["Daily"] = homeItems(daily.GetPapers())
	}
	if trending, err := catalog.ListTrendingPapers(ctx, &catalogv1.ListTrendingPapersRequest{PageSize: 10}); err == nil {
		var papers []*catalogv1.Paper
		for _, t := range trending.GetPapers() {
			papers = append(papers, t.GetPaper())
		}
		data["Trending"] = homeItems(papers)
	}
	if q := strings.TrimSpace(r.URL.Query().Get("q")); q != "" {
		data["Query"] = q
		if res, err := catalog.SearchPapers(ctx, &catalogv1.SearchPapersRequest{Query: q, PageSize: 20}); err == nil {
			var papers []*catalogv1.Paper
			for _, x := range res.GetResults() {
				papers = append(papers, x.GetPaper())
			}
			data["Results"] = homeItems(papers)
		} else {
			// Such as a query past a limit of search, or too many expensive
			// searches at once: the message says which.
			data["SearchError"] = status.Convert(err).Message()
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = homeTmpl.Execute(w, data)
}

// subscribe serves the home page's form.
func (s *Server) subscribe(w http.ResponseWriter, r *http.Request) {
	resp, err := subscriptionv1.NewSubscriptionServiceClient(s.calls).CreateSubscription(r.Context(), &subscriptionv1.CreateSubscriptionRequest{
		Subscription: &subscriptionv1.Subscription{Email: r.PostFormValue("email")}})
	if err != nil {
		s.pageError(w, err)
		return
	}
	s.renderPage(w, 200, page{Title: "Check your inbox", Message: resp.GetMessage()})
}
