package service

import (
	"context"
	"log/slog"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/papercatalog/papers/auth"
	"github.com/papercatalog/papers/clock"
	"github.com/papercatalog/papers/clock/clocktest"
	"github.com/papercatalog/papers/delivery"
	subscriptionv1 "github.com/papercatalog/papers/gen/papers/subscription/v1"
	"github.com/papercatalog/papers/inproc"
	"github.com/papercatalog/papers/listing"
	"github.com/papercatalog/papers/mailer"
	"github.com/papercatalog/papers/mailer/smtptest"
	"github.com/papercatalog/papers/repository"
	"github.com/papercatalog/papers/repository/mongo"
	"github.com/papercatalog/papers/repository/mongo/mongotest"
	"github.com/papercatalog/papers/subscribe"
)

func subscriptionService(t *testing.T) (*Subscriptions, *smtptest.Server) {
	t.Helper()
	db := mongotest.Open(t)
	smtp := smtptest.New(t)
	m, err := mailer.NewSMTP(smtp.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	store, clk := mongo.NewSubscriptions(db), clocktest.New(t)
	links := delivery.Links{PublicURL: "https://papers.example", TokenKey: []byte("0123456789abcdef0123456789abcdef")}
	log := slog.New(slog.DiscardHandler)
	from := "Papers <digest@papers.example>"
	return &Subscriptions{Store: store, Log: log, Clock: clk, Tokens: listing.NewTokens([]byte("page token key")),
		Book:  &subscribe.Book{Store: store, Clock: clk},
		Mails: &delivery.Mails{Subscriptions: store, Mailer: m, Log: log, Links: links, From: from, Clock: clk},
		Digests: &delivery.Sender{Subscriptions: store, Deliveries: mongo.NewDeliveries(db), Mailer: m, Log: log, Links: links, From: from,
			Papers:   func(*repository.Subscription, time.Time) ([]*repository.Paper, error) { return nil, nil },
			PaperURL: PaperURL(links.PublicURL), Owner: "sender-1", ClaimTimeout: time.Minute,
			JournalPath: filepath.Join(t.TempDir(), "digest-outcomes.journal"), Clock: clk}}, smtp
}

// fakeClock is the clock subscriptionService gave s.
func fakeClock(s *Subscriptions) *clock.Fake { return s.Clock.(*clock.Fake) }

// gated is a client of s that calls it in-process through the Gate, as every
// caller does, with the admin token "admin" and the given limits (nil: none).
func gated(s *Subscriptions, limits *auth.Limiters) subscriptionv1.SubscriptionServiceClient {
	gate := NewGate(&auth.Guard{Admins: auth.NewAdmins([]string{"admin"}), Limits: limits}, time.Minute, slog.New(slog.DiscardHandler))
	ch := inproc.New(gate.Unary)
	subscriptionv1.RegisterSubscriptionServiceServer(ch, s)
	return subscriptionv1.NewSubscriptionServiceClient(ch)
}

var linkRe = regexp.MustCompile(`https://papers\.example(/[a-z/]+)\?token=([A-Za-z0-9_%-]+)`)

// links returns the tokens of the links in the last message to addr, by path.
func links(t *testing.T, srv *smtptest.Server, addr string) map[string]string {
	t.Helper()
	msgs := srv.Messages()
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].To[0] == addr {
			out := map[string]string{}
			m, err := msgs[i].Decode()
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range linkRe.FindAllStringSubmatch(m.Body, -1) {
				out[m[1]] = m[2]
			}
			return out
		}
	}
	t.Fatalf("no mail to %s", addr)
	return nil
}

func TestSubscribeConfirmManageUnsubscribe(t *testing.T) {
	s, srv := subscriptionService(t)
	api := gated(s, nil)
	ctx := context.Background()
	req := &subscriptionv1.CreateSubscriptionRequest{Subscription: &subscriptionv1.Subscription{
		Email: "ada@example.org", Query: "diffusion", TimeZone: "Europe/Paris", Categories: []string{"cs.CV"}}}
	resp, err := api.CreateSubscription(ctx, req)
	if err != nil || resp.GetMessage() == "" {
		t.Fatalf("subscribe: %v %v", resp, err)
	}
	tokens := links(t, srv, "ada@example.org")
	confirm, manage := tokens["/subscriptions/confirm"], tokens["/subscriptions/manage"]
	if len(confirm) < 40 || len(manage) < 40 {
		t.Fatalf("links %v", tokens)
	}
	// Subscribing again at once: the same answer, no second mail.
	again, err := api.CreateSubscription(ctx, req)
	if err != nil || again.GetMessage() != resp.GetMessage() || len(srv.Messages()) != 1 {
		t.Fatalf("again: %v %v, %d mails", again, err, len(srv.Messages()))
	}
	// The manage token does not confirm; the confirm token does, once.
	if _, err := api.ConfirmSubscription(ctx, &subscriptionv1.ConfirmSubscriptionRequest{Token: manage}); status.Code(err) != codes.NotFound {
		t.Errorf("confirm with the manage token: %v", err)
	}
	sub, err := api.ConfirmSubscription(ctx, &subscriptionv1.ConfirmSubscriptionRequest{Token: confirm})
	if err != nil || sub.GetState() != subscriptionv1.Subscription_STATE_ACTIVE || sub.GetMaxPapers() != 10 || len(sub.GetWeekdays()) != 5 {
		t.Fatalf("confirm: %v %v", sub, err)
	}
	if _, err := api.ConfirmSubscription(ctx, &subscriptionv1.ConfirmSubscriptionRequest{Token: confirm}); status.Code(err) != codes.NotFound {
		t.Errorf("a confirm token used twice: %v", err)
	}
	// Manage with the token; without it only an admin may.
	got, err := api.GetSubscription(ctx, &subscriptionv1.GetSubscriptionRequest{Name: sub.GetName(), ManageToken: manage})
	if err != nil || got.GetEmail() != "ada@example.org" {
		t.Fatalf("get: %v %v", got, err)
	}
	if _, err := api.GetSubscription(ctx, &subscriptionv1.GetSubscriptionRequest{Name: sub.GetName()}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("get without a token: %v", err)
	}
	adminCtx := metadata.NewOutgoingContext(ctx, metadata.Pairs("authorization", "Bearer admin"))
	if _, err := api.GetSubscription(adminCtx, &subscriptionv1.GetSubscriptionRequest{Name: sub.GetName()}); err != nil {
		t.Errorf("get as admin: %v", err)
	}
	if _, err := api.GetSubscription(ctx, &subscriptionv1.GetSubscriptionRequest{Name: "subscriptions/other", ManageToken: manage}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("another subscription with this token: %v", err)
	}
	hour := int32(7)
	upd, err := api.UpdateSubscription(ctx, &subscriptionv1.UpdateSubscriptionRequest{ManageToken: manage,
		Subscription: &subscriptionv1.Subscription{Name: sub.GetName(), SendHour: &hour, MaxPapers: 20, Email: "evil@example.org"},
		UpdateMask:   &fieldmaskpb.FieldMask{Paths: []string{"send_hour", "max_papers"}}})
	if err != nil || upd.GetSendHour() != 7 || upd.GetMaxPapers() != 20 || upd.GetEmail() != "ada@example.org" || upd.GetQuery() != "diffusion" {
		t.Fatalf("update: %v %v", upd, err)
	}
	for _, bad := range []*subscriptionv1.UpdateSubscriptionRequest{
		{ManageToken: manage, Subscription: &subscriptionv1.Subscription{Name: sub.GetName()}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"email"}}},
		{ManageToken: manage, Subscription: &subscriptionv1.Subscription{Name: sub.GetName(), MaxPapers: 500}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"max_papers"}}},
		{ManageToken: manage, Subscription: &subscriptionv1.Subscription{Name: sub.GetName(), TimeZone: "Mars/Olympus"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"time_zone"}}},
	} {
		if _, err := api.UpdateSubscription(ctx, bad); status.Code(err) != codes.InvalidArgument {
			t.Errorf("%v: %v", bad.GetUpdateMask().GetPaths(), err)
		}
	}
	// Unsubscribe is idempotent.
	for range 2 {
		u, err := api.Unsubscribe(ctx, &subscriptionv1.UnsubscribeRequest{Token: manage})
		if err != nil || u.GetEmail() != "ada@example.org" {
			t.Fatalf("unsubscribe: %v %v", u, err)
		}
	}
	got, _ = api.GetSubscription(ctx, &subscriptionv1.GetSubscriptionRequest{Name: sub.GetName(), ManageToken: manage})
	if got.GetState() != subscriptionv1.Subscription_STATE_UNSUBSCRIBED {
		t.Errorf("after unsubscribe: %v", got.GetState())
	}
	if _, err := api.DeleteSubscription(ctx, &subscriptionv1.DeleteSubscriptionRequest{Name: sub.GetName(), ManageToken: manage}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.GetSubscription(ctx, &subscriptionv1.GetSubscriptionRequest{Name: sub.GetName(), ManageToken: manage}); status.Code(err) != codes.NotFound {
		t.Errorf("after delete: %v", err)
	}
}

func TestSubscribeRefusesBadInputAndFloods(t *testing.T) {
	s, srv := subscriptionService(t)
	api := gated(s, auth.NewLimiters(auth.RateLimit{Off: true}, auth.RateLimit{Off: true}, auth.RateLimit{Burst: 5, Per: 5 * time.Minute}))
	ctx := metadata.NewOutgoingContext(context.Background(), metadata.Pairs("x-forwarded-for", "203.0.113.7"))
	for _, email := range []string{"", "not an address", "Ada <ada@example.org>", "a@b\r\nBcc: evil@example.org"} {
		_, err := api.CreateSubscription(ctx, &subscriptionv1.CreateSubscriptionRequest{Subscription: &subscriptionv1.Subscription{Email: email}})
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("%q: %v", email, err)
		}
	}
	// The bad calls counted too: the bucket (5) is nearly empty.
	_, err := api.CreateSubscription(ctx, &subscriptionv1.CreateSubscriptionRequest{Subscription: &subscriptionv1.Subscription{Email: "x@example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = api.CreateSubscription(ctx, &subscriptionv1.CreateSubscriptionRequest{Subscription: &subscriptionv1.Subscription{Email: "y@example.org"}})
	if st := status.Convert(err); st.Code() != codes.ResourceExhausted || !strings.Contains(st.Message(), "retry in") {
		t.Errorf("the sixth call: %v", err)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("%d mails, want 1", n)
	}
	// Another client is not limited.
	other := metadata.NewOutgoingContext(context.Background(), metadata.Pairs("x-forwarded-for", "198.51.100.1"))
	if _, err := api.CreateSubscription(other, &subscriptionv1.CreateSubscriptionRequest{Subscription: &subscriptionv1.Subscription{Email: "y@example.org"}}); err != nil {
		t.Errorf("another client: %v", err)
	}
}

func TestManageLinkAndAdminList(t *testing.T) {
	s, srv := subscriptionService(t)
	api := gated(s, nil)
	ctx := context.Background()
	admin := metadata.NewOutgoingContext(ctx, metadata.Pairs("authorization", "Bearer admin"))
	for _, e := range []string{"a@example.org", "b@example.org", "c@example.org"} {
		if _, err := api.CreateSubscription(ctx, &subscriptionv1.CreateSubscriptionRequest{Subscription: &subscriptionv1.Subscription{Email: e}}); err != nil {
			t.Fatal(err)
		}
	}
	old := links(t, srv, "a@example.org")["/subscriptions/manage"]
	if _, err := api.ConfirmSubscription(ctx, &subscriptionv1.ConfirmSubscriptionRequest{Token: links(t, srv, "a@example.org")["/subscriptions/confirm"]}); err != nil {
		t.Fatal(err)
	}
	// Unknown and recently mailed addresses: the same answer, no mail.
	n := len(srv.Messages())
	for _, e := range []string{"nobody@example.org", "a@example.org"} {
		r, err := api.SendManageLink(ctx, &subscriptionv1.SendManageLinkRequest{Email: e})
		if err != nil || r.GetMessage() != manageLinkMessage || len(srv.Messages()) != n {
			t.Errorf("%s: %v %v, %d mails", e, r, err, len(srv.Messages()))
		}
	}
	// Ten minutes later: the link again, and it is the one of the first mail
	// (a request for it, which anyone can make, breaks no link).
	fakeClock(s).Advance(11 * time.Minute)
	cur, err := s.Store.ByEmail(ctx, "a@example.org")
	if err != nil {
		t.Fatal(err)
	}
	// (From another client: this one has used up its calls.)
	other := metadata.NewOutgoingContext(ctx, metadata.Pairs("x-forwarded-for", "192.0.2.9"))
	if _, err := api.SendManageLink(other, &subscriptionv1.SendManageLinkRequest{Email: "A@example.org"}); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Messages()); n != 4 {
		t.Fatalf("%d mails, want the 3 confirmations and the manage link", n)
	}
	fresh := links(t, srv, "a@example.org")["/subscriptions/manage"]
	if fresh != old {
		t.Fatalf("manage link %q, want the first mail's %q", fresh, old)
	}
	name := "subscriptions/" + cur.ID
	if _, err := api.GetSubscription(ctx, &subscriptionv1.GetSubscriptionRequest{Name: name, ManageToken: old}); err != nil {
		t.Errorf("the link: %v", err)
	}
	// The admin list: filtered by state, paged.
	if _, err := api.ListSubscriptions(ctx, &subscriptionv1.ListSubscriptionsRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("list without admin: %v", err)
	}
	active, err := api.ListSubscriptions(admin, &subscriptionv1.ListSubscriptionsRequest{Filter: "state = STATE_ACTIVE"})
	if err != nil || active.GetTotalSize() != 1 || active.GetSubscriptions()[0].GetEmail() != "a@example.org" {
		t.Errorf("active: %v %v", active, err)
	}
	seen := map[string]bool{}
	token := ""
	for {
		page, err := api.ListSubscriptions(admin, &subscriptionv1.ListSubscriptionsRequest{PageSize: 2, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, sub := range page.GetSubscriptions() {
			seen[sub.GetEmail()] = true
		}
		if token = page.GetNextPageToken(); token == "" {
			break
		}
	}
	if len(seen) != 3 {
		t.Errorf("paged through %v", seen)
	}
	if _, err := api.ListSubscriptions(admin, &subscriptionv1.ListSubscriptionsRequest{Filter: "state = STATE_ACTIVE", PageToken: "bm9wZQ"}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("a bad page token: %v", err)
	}
}

// TestListSubscriptionsFiltersAndPages: the admin list takes AIP-160 filters
// on state, and its page tokens hold their place in the list whatever is
// subscribed meanwhile and work only with the filter they came from.
func TestListSubscriptionsFiltersAndPages(t *testing.T) {
	s, srv := subscriptionService(t)
	api := gated(s, nil)
	ctx := context.Background()
	admin := metadata.NewOutgoingContext(ctx, metadata.Pairs("authorization", "Bearer admin"))
	for i, e := range []string{"a@example.org", "b@example.org", "c@example.org"} {
		from := metadata.NewOutgoingContext(ctx, metadata.Pairs("x-forwarded-for", "192.0.2."+strconv.Itoa(i+1)))
		if _, err := api.CreateSubscription(from, &subscriptionv1.CreateSubscriptionRequest{Subscription: &subscriptionv1.Subscription{Email: e}}); err != nil {
			t.Fatal(err)
		}
		fakeClock(s).Advance(time.Second) // newest first: c, b, a
	}
	if _, err := api.ConfirmSubscription(ctx, &subscriptionv1.ConfirmSubscriptionRequest{Token: links(t, srv, "a@example.org")["/subscriptions/confirm"]}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ filter, want string }{
		{"", "c b a"},
		{"state = STATE_ACTIVE", "a"},
		{"state != STATE_ACTIVE", "c b"},
		{"state = STATE_PENDING OR state = STATE_ACTIVE", "c b a"},
		{"NOT state = STATE_PENDING AND state != STATE_UNSUBSCRIBED", "a"},
		{"state = STATE_UNSUBSCRIBED", ""},
	} {
		r, err := api.ListSubscriptions(admin, &subscriptionv1.ListSubscriptionsRequest{Filter: c.filter})
		var got []string
		for _, sub := range r.GetSubscriptions() {
			got = append(got, sub.GetEmail()[:1])
		}
		if err != nil || strings.Join(got, " ") != c.want || int(r.GetTotalSize()) != len(got) {
			t.Errorf("filter %q: %v (total %d), %v; want %s", c.filter, got, r.GetTotalSize(), err, c.want)
		}
	}
	for _, bad := range []string{"email = \"a@example.org\"", "state = ACTIVE", "state", "state > STATE_PENDING"} {
		if _, err := api.ListSubscriptions(admin, &subscriptionv1.ListSubscriptionsRequest{Filter: bad}); status.Code(err) != codes.InvalidArgument {
			t.Errorf("filter %q: %v, want INVALID_ARGUMENT", bad, err)
		}
	}
	first, err := api.ListSubscriptions(admin, &subscriptionv1.ListSubscriptionsRequest{PageSize: 1})
	if err != nil || first.GetNextPageToken() == "" {
		t.Fatalf("the first page: %v %v", first, err)
	}
	// A subscription that comes meanwhile sorts first: the next page still
	// starts after c.
	if _, err := api.CreateSubscription(metadata.NewOutgoingContext(ctx, metadata.Pairs("x-forwarded-for", "192.0.2.9")),
		&subscriptionv1.CreateSubscriptionRequest{Subscription: &subscriptionv1.Subscription{Email: "d@example.org"}}); err != nil {
		t.Fatal(err)
	}
	next, err := api.ListSubscriptions(admin, &subscriptionv1.ListSubscriptionsRequest{PageSize: 1, PageToken: first.GetNextPageToken()})
	if err != nil || len(next.GetSubscriptions()) != 1 || next.GetSubscriptions()[0].GetEmail() != "b@example.org" {
		t.Errorf("the second page: %v %v; want b", next, err)
	}
	if _, err := api.ListSubscriptions(admin, &subscriptionv1.ListSubscriptionsRequest{Filter: "state != STATE_ACTIVE", PageSize: 1,
		PageToken: first.GetNextPageToken()}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("a page token of another filter: %v", err)
	}
}

// TestSubscriptionTopicsAreCheckedWhenSet: a query that is no search query, or a
// time zone that is none, is refused when subscribing, not left to fail every
// digest; a good one is kept.
func TestSubscriptionTopicsAreCheckedWhenSet(t *testing.T) {
	s, srv := subscriptionService(t)
	ctx := context.Background()
	for _, bad := range []*subscriptionv1.Subscription{
		{Email: "ada@example.org", Query: `"unclosed phrase`},
		{Email: "ada@example.org", Query: "title:/[/"},
		{Email: "ada@example.org", Query: "colour:red"},
		{Email: "ada@example.org", TimeZone: "Local"},
		{Email: "ada@example.org", TimeZone: "Mars/Olympus_Mons"},
	} {
		_, err := s.CreateSubscription(ctx, &subscriptionv1.CreateSubscriptionRequest{Subscription: bad})
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("query %q, time zone %q: %v, want INVALID_ARGUMENT", bad.GetQuery(), bad.GetTimeZone(), err)
		}
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("%d mails sent for refused subscriptions", n)
	}
	if _, err := s.CreateSubscription(ctx, &subscriptionv1.CreateSubscriptionRequest{Subscription: &subscriptionv1.Subscription{
		Email: "ada@example.org", Query: `diffusion title:"graph networks"`, TimeZone: "Europe/Paris"}}); err != nil {
		t.Fatal(err)
	}
	sub, err := s.Store.ByEmail(ctx, "ada@example.org")
	if err != nil || sub.Query != `diffusion title:"graph networks"` || sub.TimeZone != "Europe/Paris" {
		t.Errorf("stored %+v, %v", sub, err)
	}
}
