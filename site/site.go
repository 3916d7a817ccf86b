// Package site is the catalog's web site: server-rendered pages for people
// (the daily papers, a paper, trending, search, organizations, the
// subscription pages). Pages call the services like any client, through the
// in-process channel and so through the same interceptor chain as gRPC and
// REST; they need no JavaScript. A GET never changes anything (mail scanners
// open links); buttons POST.
package site

import (
	"bytes"
	"context"
	"embed"
	"html/template"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"

	"github.com/papercatalog/papers/clock"
	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	subscriptionv1 "github.com/papercatalog/papers/gen/papers/subscription/v1"
)

// Site serves the pages and feeds. Every exported field must be set, except
// Clock.
type Site struct {
	Catalog       catalogv1.CatalogServiceClient
	Subscriptions subscriptionv1.SubscriptionServiceClient
	// ByManageToken is the subscription a manage token belongs to (an
	// internal lookup, not an RPC: the manage page's token is the credential).
	ByManageToken func(ctx context.Context, token string) (*subscriptionv1.Subscription, error)
	// ByConfirmToken is the subscription a confirmation token belongs to, used
	// or not (an internal lookup too), so that the confirm page can say it is
	// confirmed already.
	ByConfirmToken func(ctx context.Context, token string) (*subscriptionv1.Subscription, error)
	// Clock decides what "today" is; nil is the system's clock.
	Clock clock.Clock
	// PublicURL starts absolute links (feeds, link previews, citations), e.g.
	// https://papers.example, without a trailing slash.
	PublicURL string

	stamps stamps // the feeds' Last-Modified
	// pages are the paper pages rendered last.
	pages     pageCache
	cardsOnce sync.Once
	cardCache *cardCache // made by cards
}

// Route is one page: a ServeMux pattern and its handler.
type Route struct {
	Pattern string
	Handler http.Handler
}

// Routes are the site's pages. The caller adds what every HTTP handler of
// paperd has (metrics, refusing calls before the database is open, the
// cross-origin protection of forms, the body limit) and, outermost, Headers.
func (s *Site) Routes() []Route {
	routes := []Route{
		{"GET /{$}", http.HandlerFunc(s.home)},
		{"GET /subscribe", http.HandlerFunc(s.subscribeForm)},
		{"GET /papers/{paper...}", http.HandlerFunc(s.paper)},
		{"GET /daily/{date}", http.HandlerFunc(s.daily)},
		{"GET /daily/week/{week}", http.HandlerFunc(s.daily)},
		{"GET /daily/month/{month}", http.HandlerFunc(s.daily)},
		{"GET /trending", http.HandlerFunc(s.trending)},
		{"GET /search", http.HandlerFunc(s.search)},
		{"GET /organizations/{id}", http.HandlerFunc(s.organization)},
		{"POST /subscribe", http.HandlerFunc(s.subscribe)},
		{"GET /subscriptions/confirm", http.HandlerFunc(s.confirmForm)},
		{"POST /subscriptions/confirm", http.HandlerFunc(s.confirm)},
		{"GET /unsubscribe", http.HandlerFunc(s.unsubscribeForm)},
		// RFC 8058: a mail client POSTs List-Unsubscribe=One-Click to the URL,
		// token in the query.
		{"POST /unsubscribe", http.HandlerFunc(s.unsubscribe)},
		{"GET /subscriptions/manage", http.HandlerFunc(s.manage)},
		{"POST /subscriptions/manage", http.HandlerFunc(s.saveManage)},
	}
	routes = append(routes, s.feedRoutes()...)
	return routes
}

// files holds the pages' templates: layout.html is the frame every page's
// "main" template goes in.
//
//go:embed templates/*.html
var files embed.FS

var layout = template.Must(template.ParseFS(files, "templates/layout.html"))

// pageTemplate is the layout with the named template files (a page's, and
// those it shares with other pages).
func pageTemplate(names ...string) *template.Template {
	paths := make([]string, len(names))
	for i, n := range names {
		paths[i] = "templates/" + n
	}
	return template.Must(template.Must(layout.Clone()).Funcs(funcs).ParseFS(files, paths...))
}

var (
	messageTmpl = pageTemplate("page.html")
	paperTmpl   = pageTemplate("paper.html")
	dailyTmpl   = pageTemplate("daily.html", "cards.html")
	listTmpl    = pageTemplate("list.html", "cards.html")
	searchTmpl  = pageTemplate("search.html", "cards.html")
)

// Frame is what the layout needs of every page; each page's data embeds it.
type Frame struct {
	Title       string
	Description string
	// Feeds are announced as <link rel="alternate">.
	Feeds []Feed
	// NoSubscribeBox leaves out the subscribe box (on the subscription pages).
	NoSubscribeBox bool
}

// Feed is a feed a page announces.
type Feed struct{ Title, Type, Href string }

// render writes a page with its status code.
// The page is rendered into a buffer and written at once: written piece by
// piece, through the handlers that wrap the site's, it costs more than a
// tenth of the page's time.
func render(w http.ResponseWriter, code int, tmpl *template.Template, data any) {
	b := buffers.Get().(*bytes.Buffer)
	defer func() {
		if b.Cap() <= 1<<20 {
			b.Reset()
			buffers.Put(b)
		}
	}()
	_ = tmpl.ExecuteTemplate(b, "layout", data)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(code)
	_, _ = w.Write(b.Bytes())
}

// buffers are render's.
var buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// pageError shows a failed call as a page, in sentences (see explain), with
// the call's status mapped to HTTP and its RetryInfo (a rate limit's) as
// Retry-After.
func pageError(w http.ResponseWriter, err error) {
	setRetryAfter(w, err)
	render(w, httpStatus(err), messageTmpl,
		message{Frame: Frame{Title: "That did not work", NoSubscribeBox: true}, Message: explain(err).Summary})
}

// httpStatus is the HTTP status of a failed call, as the gateway maps it.
func httpStatus(err error) int {
	return runtime.HTTPStatusFromCode(status.Code(err))
}

// setRetryAfter sets Retry-After from a failed call's RetryInfo.
func setRetryAfter(w http.ResponseWriter, err error) {
	for _, d := range status.Convert(err).Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay().AsDuration() > 0 {
			w.Header().Set("Retry-After", strconv.FormatInt(int64(math.Ceil(ri.GetRetryDelay().AsDuration().Seconds())), 10))
		}
	}
}

// problemOf is what a refused call says to a reader, in sentences: the
// descriptions of its field violations, else its message.
func problemOf(err error) string {
	st := status.Convert(err)
	var out []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				out = append(out, sentence(v.GetDescription()))
			}
		}
	}
	if len(out) == 0 {
		out = append(out, sentence(st.Message()))
	}
	return strings.Join(out, " ")
}

// Headers sets the security headers of pages; it goes outside every other
// handler, so that refusals carry them too.
func Headers(next http.Handler) http.Handler {
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
