package server_test

// Security review tests: credentials stay out of the logs, hostile text is
// escaped wherever it is rendered, the arXiv poller talks to its configured host
// only, and pages and the REST API carry their security headers. Everything runs
// for real: paperd with its embedded FerretDB, the gRPC port, the gateway, an
// SMTP server on loopback and httptest servers as arXiv and as a foreign host.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http"
	"net/http/httptest"
	netmail "net/mail"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/papercatalog/papers/auth"
	"github.com/papercatalog/papers/auth/authtest"
	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	subscriptionv1 "github.com/papercatalog/papers/gen/papers/subscription/v1"
	"github.com/papercatalog/papers/mailer/smtptest"
	"github.com/papercatalog/papers/server"
)

// secEventually polls cond until it holds, and fails the test with what
// describe returns if it does not within limit.
func secEventually(t *testing.T, what string, limit time.Duration, cond func() bool, describe func() string) {
	t.Helper()
	for deadline := time.Now().Add(limit); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen within %v:\n%s", what, limit, describe())
		}
	}
}

// secRandom is a fresh value no test text can contain by chance.
func secRandom(prefix string) string { return prefix + rand.Text() }

// TestCredentialsAreNeverLogged runs two replicas at debug level, one logging
// JSON and one text, with admin tokens, a JWT secret and an SMTP server that
// requires AUTH; it writes with good and bad admin tokens over gRPC and REST,
// upvotes with good and forged user tokens, subscribes (mail sent with AUTH),
// confirms and manages with the mailed tokens, fails a send (recipient refused,
// and AUTH refused on the replica with a wrong password), and then looks for
// every secret in all that was logged.
func TestCredentialsAreNeverLogged(t *testing.T) {
	t.Parallel()
	const smtpUser = "paperd-mailer"
	smtpPass, wrongPass := secRandom("smtp-pass-"), secRandom("smtp-wrong-")
	smtp, err := smtptest.Start(smtpUser, smtpPass)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(smtp.Close)
	admin1, admin2, badAdmin := secRandom("admin-one-"), secRandom("admin-two-"), secRandom("admin-bad-")
	secret := secRandom("jwt-secret-that-is-long-enough-")

	var jsonLogs, textLogs logBuffer
	cfg := testConfig(t)
	cfg.AdminTokens = []string{admin1, admin2}
	cfg.JWT.Secret, cfg.JWT.Audience, cfg.JWT.Issuer = secret, "papers", "https://id.example"
	cfg.SMTPURL = "smtp://" + smtpUser + ":" + smtpPass + "@" + smtp.Addr + "?tls=none"
	cfg.LogLevel, cfg.LogFormat = "debug", "json"
	ts := startLogging(t, cfg, slog.New(slog.NewJSONHandler(&jsonLogs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	ctx := testCtx(t)
	asAdmin := func(tok string) context.Context {
		return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
	}

	// Admin writes: gRPC and REST, a valid and an invalid token each.
	p, err := ts.client.CreatePaper(asAdmin(admin1), &catalogv1.CreatePaperRequest{PaperId: paperID(1), Paper: newPaper(1)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = ts.client.CreatePaper(asAdmin(badAdmin), &catalogv1.CreatePaperRequest{PaperId: paperID(2), Paper: newPaper(2)})
	wantCode(t, err, codes.Unauthenticated)
	if r := ts.rest(t, "POST", "/v1/papers?paper_id="+paperID(3), admin2, map[string]any{"title": "Over REST"}); r.Status != 200 {
		t.Fatalf("REST create with a valid admin token: %d %s", r.Status, r.Raw)
	}
	if r := ts.rest(t, "POST", "/v1/papers?paper_id="+paperID(4), badAdmin, map[string]any{"title": "Over REST"}); r.Status != http.StatusUnauthorized {
		t.Fatalf("REST create with an invalid admin token: %d %s", r.Status, r.Raw)
	}
	if r := ts.rest(t, "DELETE", "/v1/papers/"+paperID(3), badAdmin, nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("REST delete with an invalid admin token: %d %s", r.Status, r.Raw)
	}

	// Upvotes: a valid user token, one signed with another key, one unsigned.
	valid := authtest.Sign(t, jwt.SigningMethodHS256, []byte(secret), claims("user-1"), "")
	forged := authtest.Sign(t, jwt.SigningMethodHS256, []byte(secRandom("not-the-secret-but-long-enough-")), claims("user-2"), "")
	unsigned := authtest.Sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims("user-3"), "")
	if _, err := ts.client.UpvotePaper(asUser(ctx, valid), &catalogv1.UpvotePaperRequest{Name: p.GetName()}); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{forged, unsigned} {
		_, err := ts.client.UpvotePaper(asUser(ctx, tok), &catalogv1.UpvotePaperRequest{Name: p.GetName()})
		wantCode(t, err, codes.Unauthenticated)
	}
	if r := ts.rest(t, "POST", "/v1/"+p.GetName()+":upvote", valid, map[string]any{}); r.Status != 200 {
		t.Fatalf("REST upvote with a valid user token: %d %s", r.Status, r.Raw)
	}
	if r := ts.rest(t, "POST", "/v1/"+p.GetName()+":upvote", forged, map[string]any{}); r.Status != http.StatusUnauthorized {
		t.Fatalf("REST upvote with a forged user token: %d %s", r.Status, r.Raw)
	}

	// A subscription: the confirmation goes out over SMTP with AUTH (the test
	// server takes no mail without it), and its tokens are used on the API and
	// on the pages.
	sc := subscriptionv1.NewSubscriptionServiceClient(ts.conn)
	if _, err := sc.CreateSubscription(ctx, &subscriptionv1.CreateSubscriptionRequest{Subscription: &subscriptionv1.Subscription{
		Email: "ada@example.org"}}); err != nil {
		t.Fatal(err)
	}
	links, _, _ := mailLinks(t, smtp, "ada@example.org")
	confirm, manage := links["/subscriptions/confirm"], links["/subscriptions/manage"]
	if confirm == "" || manage == "" {
		t.Fatalf("the confirmation mail lacks its links: %v", links)
	}
	if code, _, _ := formRequest(t, "GET", ts.base+"/subscriptions/confirm?token="+confirm, "", nil); code != 200 {
		t.Fatalf("confirm page: %d", code)
	}
	if r := ts.rest(t, "POST", "/v1/subscriptions:confirm", "", map[string]any{"token": confirm}); r.Status != 200 {
		t.Fatalf("confirm: %d %s", r.Status, r.Raw)
	}
	if r := ts.rest(t, "POST", "/v1/subscriptions:confirm", "", map[string]any{"token": confirm}); r.Status != 404 {
		t.Fatalf("confirm again (used token): %d %s", r.Status, r.Raw)
	}
	if code, _, _ := formRequest(t, "GET", ts.base+"/subscriptions/manage?token="+manage, "", nil); code != 200 {
		t.Fatalf("manage page: %d", code)
	}
	list, err := sc.ListSubscriptions(asAdmin(admin2), &subscriptionv1.ListSubscriptionsRequest{})
	if err != nil || len(list.GetSubscriptions()) != 1 {
		t.Fatalf("list subscriptions: %v %v", list, err)
	}
	if r := ts.rest(t, "GET", "/v1/"+list.GetSubscriptions()[0].GetName()+"?manage_token="+url.QueryEscape(manage), "", nil); r.Status != 200 {
		t.Fatalf("get subscription with its manage token: %d %s", r.Status, r.Raw)
	}
	// The manage token in a header keeps it out of URLs: X-Manage-Token over
	// REST, x-manage-token metadata over gRPC.
	name := list.GetSubscriptions()[0].GetName()
	for tok, want := range map[string]int{manage: 200, "not-" + manage: 404} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, ts.base+"/v1/"+name, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Manage-Token", tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("get subscription with X-Manage-Token %q: %d, want %d", tok, resp.StatusCode, want)
		}
	}
	if _, err := sc.GetSubscription(metadata.AppendToOutgoingContext(ctx, "x-manage-token", manage),
		&subscriptionv1.GetSubscriptionRequest{Name: name}); err != nil {
		t.Errorf("gRPC get subscription with x-manage-token metadata: %v", err)
	}
	// Read over REST, changed and sent back whole, without update_mask: only
	// what the body changed is written (its output-only fields are no change).
	sendBack := func(method string, body []byte) (int, []byte) {
		req, err := http.NewRequestWithContext(ctx, method, ts.base+"/v1/"+name, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Manage-Token", manage)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, raw
	}
	_, raw := sendBack(http.MethodGet, nil)
	var whole map[string]any
	if err := json.Unmarshal(raw, &whole); err != nil {
		t.Fatal(err)
	}
	whole["send_hour"] = 17
	body, _ := json.Marshal(whole)
	if code, raw := sendBack(http.MethodPatch, body); code != 200 || !strings.Contains(string(raw), `"send_hour":17`) {
		t.Errorf("a subscription sent back whole with send_hour 17: %d %.300s", code, raw)
	}
	if _, err := sc.SendDigests(asAdmin(admin1), &subscriptionv1.SendDigestsRequest{}); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := formRequest(t, "POST", ts.base+"/unsubscribe?token="+manage, "List-Unsubscribe=One-Click", nil); code != 200 {
		t.Fatalf("one-click unsubscribe: %d", code)
	}

	// A send the SMTP server refuses (451 to the recipient).
	smtp.RefuseTemporarily("bounce@example.org", true)
	_, err = sc.CreateSubscription(ctx, &subscriptionv1.CreateSubscriptionRequest{Subscription: &subscriptionv1.Subscription{
		Email: "bounce@example.org"}})
	wantCode(t, err, codes.Unavailable)

	// A replica on the same database whose SMTP password is wrong: AUTH fails.
	cfg2 := testConfig(t)
	cfg2.MongoURI = ts.DatabaseURI()
	cfg2.AdminTokens, cfg2.JWT = cfg.AdminTokens, cfg.JWT
	cfg2.SMTPURL = "smtp://" + smtpUser + ":" + wrongPass + "@" + smtp.Addr + "?tls=none"
	cfg2.LogLevel, cfg2.LogFormat = "debug", "text"
	second := startLogging(t, cfg2, slog.New(slog.NewTextHandler(&textLogs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	sc2 := subscriptionv1.NewSubscriptionServiceClient(second.conn)
	_, err = sc2.CreateSubscription(ctx, &subscriptionv1.CreateSubscriptionRequest{Subscription: &subscriptionv1.Subscription{
		Email: "grace@example.org"}})
	wantCode(t, err, codes.Unavailable)
	if _, err := second.client.CreatePaper(asAdmin(badAdmin), &catalogv1.CreatePaperRequest{PaperId: paperID(5), Paper: newPaper(5)}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("second replica, invalid admin token: %v", err)
	}
	if _, err := second.client.UpvotePaper(asUser(ctx, forged), &catalogv1.UpvotePaperRequest{Name: p.GetName()}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("second replica, forged user token: %v", err)
	}
	if r := second.rest(t, "POST", "/v1/"+p.GetName()+":removeUpvote", valid, map[string]any{}); r.Status != 200 {
		t.Fatalf("second replica, REST remove upvote: %d %s", r.Status, r.Raw)
	}
	if r := second.rest(t, "POST", "/v1/"+p.GetName()+":upvote", unsigned, map[string]any{}); r.Status != http.StatusUnauthorized {
		t.Fatalf("second replica, REST upvote with an unsigned token: %d %s", r.Status, r.Raw)
	}
	for _, m := range smtp.Messages() {
		if slices.Contains(m.To, "grace@example.org") {
			t.Fatal("a mail went out with a wrong SMTP password")
		}
	}

	// Stopped, both have logged all they will.
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, s := range []*testServer{second, ts} {
		if err := s.Shutdown(sctx); err != nil {
			t.Fatal(err)
		}
	}

	plain := base64.StdEncoding.EncodeToString([]byte("\x00" + smtpUser + "\x00" + smtpPass))
	secrets := map[string]string{
		"admin token 1": admin1, "admin token 2": admin2, "invalid admin token": badAdmin,
		"JWT secret": secret, "valid user token": valid, "forged user token": forged, "unsigned user token": unsigned,
		"valid token's signature":  valid[strings.LastIndexByte(valid, '.')+1:],
		"forged token's signature": forged[strings.LastIndexByte(forged, '.')+1:],
		"SMTP password":            smtpPass, "wrong SMTP password": wrongPass, "SMTP AUTH PLAIN response": plain,
		"confirm token": confirm, "manage token": manage,
	}
	for name, logs := range map[string]string{"JSON log": jsonLogs.String(), "text log": textLogs.String()} {
		// The logs hold what was done, so their silence about secrets means something.
		for _, want := range []string{"grpc call", "CreatePaper", "UpvotePaper", "paperd ready", "confirmation mail not sent", "paperd stopped"} {
			if !strings.Contains(logs, want) {
				t.Errorf("%s lacks %q: the test did not exercise what it checks", name, want)
			}
		}
		for what, s := range secrets {
			if strings.Contains(logs, s) {
				t.Errorf("%s contains the %s", name, what)
			}
		}
		if t.Failed() {
			t.Logf("%s:\n%s", name, logs)
		}
	}
	// The second replica's failure was AUTH's, the first one's the recipient's.
	if !strings.Contains(strings.ToLower(textLogs.String()), "auth") {
		t.Errorf("the second replica's send did not fail at AUTH:\n%s", textLogs.String())
	}
	if !strings.Contains(jsonLogs.String(), "451") {
		t.Errorf("the first replica's refused send is not logged with its reply:\n%s", jsonLogs.String())
	}
}

// Hostile text of the escaping test.
const (
	xssScript = `<script>alert(1)</script>`
	xssAttr   = `"><img src=x onerror=alert(1)>`
	xssURL    = `javascript:alert(document.cookie)`
	crlf      = "Subject: pwned\r\nBcc: victim@example.org\r\nX-Injected: yes"
)

// The tags and attributes paperd's own templates write (pages, home page and
// digest); hostile text must never add any other.
var (
	pageTags = []string{"html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "form", "input", "label", "button", "a", "ol", "li", "div",
		"table", "tr", "td", "header", "nav", "main", "aside", "footer", "fieldset", "legend", "select", "option", "datalist", "span",
		"code", "ul", "link", "section", "article", "h3", "pre", "dl", "dt", "dd", "time", "mark"}
	pageAttrs = []string{"lang", "charset", "name", "content", "id", "method", "action", "type", "value", "for", "min", "max", "href", "class", "role",
		"aria-label", "placeholder", "required", "style", "width", "cellpadding", "cellspacing", "align", "aria-labelledby",
		"aria-describedby", "aria-invalid", "autocomplete", "checked", "selected", "list", "inputmode", "novalidate", "rel", "title",
		"property", "datetime", "tabindex", "aria-current", "aria-hidden", "maxlength"}
	tagRE  = regexp.MustCompile(`^<(/?)([a-zA-Z][a-zA-Z0-9]*)((?:\s+[a-zA-Z][a-zA-Z0-9-]*(?:="[^"<>]*")?)*)\s*/?>`)
	attrRE = regexp.MustCompile(`\s+([a-zA-Z][a-zA-Z0-9-]*)(?:="([^"]*)")?`)
)

// checkHTML fails the test unless every tag in doc is one paperd's templates
// write, with their attributes only, every URL attribute is a relative or
// http(s) URL, and the hostile markup appears nowhere raw.
func checkHTML(t *testing.T, where, doc string) {
	t.Helper()
	for _, raw := range []string{xssScript, xssAttr, "<script", "<img", "<svg", "<iframe"} {
		if strings.Contains(strings.ToLower(doc), strings.ToLower(raw)) {
			t.Errorf("%s holds raw %q:\n%s", where, raw, doc)
		}
	}
	rest := strings.TrimPrefix(doc, "<!DOCTYPE html>")
	for i := strings.IndexByte(rest, '<'); i >= 0; i = strings.IndexByte(rest, '<') {
		rest = rest[i:]
		m := tagRE.FindStringSubmatch(rest)
		if m == nil {
			t.Errorf("%s: markup that is not a well-formed tag at %q", where, rest[:min(len(rest), 80)])
			return
		}
		if !slices.Contains(pageTags, strings.ToLower(m[2])) {
			t.Errorf("%s: tag <%s> is not one the templates write", where, m[2])
		}
		for _, a := range attrRE.FindAllStringSubmatch(m[3], -1) {
			name, value := strings.ToLower(a[1]), html.UnescapeString(a[2])
			if !slices.Contains(pageAttrs, name) {
				t.Errorf("%s: attribute %s=%q on <%s> is not one the templates write", where, name, value, m[2])
			}
			if name == "href" || name == "action" {
				u, err := url.Parse(strings.TrimSpace(value))
				if err != nil || (u.Scheme != "" && u.Scheme != "http" && u.Scheme != "https") || strings.HasPrefix(strings.ToLower(strings.TrimSpace(value)), "javascript:") {
					t.Errorf("%s: %s=%q is not a relative or http(s) URL", where, name, value)
				}
			}
		}
		rest = rest[len(m[0]):]
	}
}

// mailParts returns the header of a raw message and its text parts, decoded, by
// media type.
func mailParts(t *testing.T, raw []byte) (netmail.Header, map[string]string) {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	parts := map[string]string{}
	var walk func(h map[string][]string, r io.Reader)
	walk = func(h map[string][]string, r io.Reader) {
		ct := "text/plain"
		if v := h["Content-Type"]; len(v) > 0 {
			ct = v[0]
		}
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil {
			t.Fatalf("content type %q: %v", ct, err)
		}
		if strings.HasPrefix(mt, "multipart/") {
			mr := multipart.NewReader(r, params["boundary"])
			for {
				p, err := mr.NextRawPart()
				if err == io.EOF {
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				walk(p.Header, p)
			}
		}
		if v := h["Content-Transfer-Encoding"]; len(v) > 0 {
			switch strings.ToLower(v[0]) {
			case "quoted-printable":
				r = quotedprintable.NewReader(r)
			case "base64":
				r = base64.NewDecoder(base64.StdEncoding, r)
			}
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		parts[mt] += string(b)
	}
	walk(msg.Header, msg.Body)
	return msg.Header, parts
}

// TestHostileTextIsEscapedEverywhere stores papers whose every text field holds
// markup, attribute breakouts and header injections, and a subscription whose
// topics do, and reads them back wherever they are rendered: the home page (its
// lists and its search), the subscription pages, the digest mail (HTML part,
// text part and headers) and the REST API. javascript: URLs are refused at input.
func TestHostileTextIsEscapedEverywhere(t *testing.T) {
	t.Parallel()
	ts, smtp, _ := startWithSMTP(t, func(c *server.Config) {
		c.PublicURL = "https://papers.example"
		c.SubscribeRateLimit = auth.RateLimit{Off: true} // many refused subscribes on purpose
	})
	ctx := testCtx(t)
	sc := subscriptionv1.NewSubscriptionServiceClient(ts.conn)

	// A carriage return has no place in one-line text (titles, names): it is
	// refused at input (mail headers escape it as well, see the mailer's fuzz
	// target); a line feed, which a title may carry, tries the injection here.
	lf := strings.ReplaceAll(crlf, "\r", "")
	title := "Zeppelin " + xssScript + " " + xssAttr + " " + xssURL + " " + lf
	_, err := ts.client.CreatePaper(admin(ctx), &catalogv1.CreatePaperRequest{PaperId: paperID(9), Paper: &catalogv1.Paper{Title: "Zeppelin " + crlf}})
	if st := wantCode(t, err, codes.InvalidArgument); !strings.Contains(st.Message(), "paper.title") {
		t.Errorf("a title with a carriage return: %s", st.Message())
	}
	hostile := func(submit time.Time) *catalogv1.Paper {
		return &catalogv1.Paper{
			Title:    title,
			Abstract: "About " + xssScript + "\r\n\r\n" + xssAttr + " " + xssURL + "\r\n" + crlf,
			Authors: []*catalogv1.Author{{Name: xssAttr, Affiliation: xssScript}, {Name: "Eve\nBcc: victim@example.org"},
				{Name: xssScript}},
			Categories:   []string{"cs.LG"},
			Keywords:     []string{xssScript},
			Organization: &catalogv1.Organization{Id: "evil-lab", DisplayName: xssScript + xssAttr},
			GithubRepo:   "https://github.com/evil/repo",
			Comment:      crlf,
			Submitter:    xssAttr,
			SubmitTime:   timestamppb.New(submit),
		}
	}

	// javascript: (and other non-http) URLs are refused at input, over gRPC and REST.
	for _, field := range []string{"github_repo", "project_page", "pdf_url"} {
		for _, bad := range []string{xssURL, "JaVaScRiPt:alert(1)", " javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)"} {
			in := hostile(time.Now())
			switch field {
			case "github_repo":
				in.GithubRepo = bad
			case "project_page":
				in.ProjectPage = bad
			case "pdf_url":
				in.PdfUrl = bad
			}
			_, err := ts.client.CreatePaper(admin(ctx), &catalogv1.CreatePaperRequest{PaperId: paperID(9), Paper: in})
			st := wantCode(t, err, codes.InvalidArgument)
			if !strings.Contains(st.Message(), field) {
				t.Errorf("%s %q refused for another reason: %s", field, bad, st.Message())
			}
			body := map[string]any{"title": "t", field: bad}
			if r := ts.rest(t, "POST", "/v1/papers?paper_id="+paperID(9), adminToken, body); r.Status != http.StatusBadRequest || r.Body["code"] != float64(codes.InvalidArgument) {
				t.Errorf("REST %s %q: %d %s", field, bad, r.Status, r.Raw)
			}
		}
	}
	if _, err := ts.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: "papers/" + paperID(9)}); status.Code(err) != codes.NotFound {
		t.Fatalf("a refused paper was stored: %v", err)
	}

	// Paper 1 is today's (the home page), paper 2 is in yesterday's digest.
	now := testClock(t).Now()
	day := now.UTC().Truncate(24 * time.Hour).Add(-24 * time.Hour)
	for i, submit := range map[int]time.Time{1: now, 2: day.Add(7 * time.Hour)} {
		if _, err := ts.client.CreatePaper(admin(ctx), &catalogv1.CreatePaperRequest{PaperId: paperID(i), Paper: hostile(submit)}); err != nil {
			t.Fatal(err)
		}
	}

	// REST: valid JSON that carries the text as data, exactly.
	r := ts.rest(t, "GET", "/v1/papers/"+paperID(1), "", nil)
	if r.Status != 200 || !json.Valid(r.Raw) {
		t.Fatalf("REST get: %d %s", r.Status, r.Raw)
	}
	var got struct {
		Title, Abstract, Comment, Submitter string
		Authors                             []struct{ Name, Affiliation string }
		Organization                        struct {
			DisplayName string `json:"display_name"`
		}
		GithubRepo string `json:"github_repo"`
	}
	if err := json.Unmarshal(r.Raw, &got); err != nil {
		t.Fatal(err)
	}
	want := hostile(time.Now())
	if got.Title != want.GetTitle() || got.Abstract != want.GetAbstract() || got.Comment != crlf || got.Submitter != xssAttr ||
		len(got.Authors) != 3 || got.Authors[0].Name != xssAttr || got.Authors[0].Affiliation != xssScript ||
		got.Authors[1].Name != "Eve\nBcc: victim@example.org" || got.Organization.DisplayName != xssScript+xssAttr ||
		got.GithubRepo != "https://github.com/evil/repo" {
		t.Errorf("REST JSON does not carry the text as stored: %+v\n%s", got, r.Raw)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("REST Content-Type %q", ct)
	}

	// The home page: today's list, trending, and search results; and a hostile
	// query, which the page shows back.
	home := func(path string) string {
		t.Helper()
		code, body, hdr := formRequest(t, "GET", ts.base+path, "", nil)
		if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") {
			t.Fatalf("GET %s: %d %v", path, code, hdr)
		}
		return body
	}
	page := home("/")
	checkHTML(t, "home page", page)
	if text := html.UnescapeString(page); !strings.Contains(text, "Zeppelin "+xssScript+" "+xssAttr) || !strings.Contains(text, xssAttr+", Eve") {
		t.Errorf("the home page does not show the paper (escaped):\n%s", page)
	}
	var results string
	secEventually(t, "results on the search page", 30*time.Second, func() bool {
		results = home("/search?q=zeppelin")
		return strings.Contains(results, `id="results" aria-labelledby="count"><li`)
	}, func() string { return results })
	checkHTML(t, "search results", results)
	for path, what := range map[string]string{"/daily/week/" + weekOf(now): "week page", "/trending": "trending page",
		"/organizations/evil-lab": "organization page"} {
		page := home(path)
		checkHTML(t, what, page)
		if !strings.Contains(html.UnescapeString(page), "Zeppelin "+xssScript) {
			t.Errorf("the %s does not show the paper (escaped):\n%s", what, page)
		}
	}
	for _, q := range []string{xssScript, xssAttr, xssURL, crlf} {
		// A query that cannot run is answered 400, with its reason.
		code, page, _ := formRequest(t, "GET", ts.base+"/search?q="+url.QueryEscape(q), "", nil)
		if code != 200 && code != 400 {
			t.Errorf("searching %q: %d", q, code)
		}
		checkHTML(t, "the search page searching "+q, page)
		if !strings.Contains(html.UnescapeString(page), strings.TrimSpace(q)) {
			t.Errorf("the search page does not show back the query %q", q)
		}
	}

	// The paper's page, with its meta tags and citations.
	paperPage := home("/papers/" + paperID(1))
	checkHTML(t, "paper page", paperPage)
	if text := html.UnescapeString(paperPage); !strings.Contains(text, `<meta name="citation_title" content="Zeppelin `) ||
		!strings.Contains(text, "Zeppelin "+xssScript+" "+xssAttr) || !strings.Contains(text, xssAttr+`</span> <span class="affiliation">(`+xssScript+")") {
		t.Errorf("the paper page does not show the paper (escaped):\n%s", paperPage)
	}

	// A subscription with hostile topics and an address whose local part is
	// markup (a quoted local part may hold it), whose mail carries the links.
	email := `"<script>alert(1)</script>"@example.org`
	hostileSub := &subscriptionv1.Subscription{Email: email, Query: `"` + xssScript + `"`, Categories: []string{xssAttr, xssScript}}
	_, err = sc.CreateSubscription(ctx, &subscriptionv1.CreateSubscriptionRequest{Subscription: hostileSub})
	var links map[string]string
	switch status.Code(err) {
	case codes.OK:
		// The address as parsed: the quotes go.
		links, _, _ = mailLinks(t, smtp, "<script>alert(1)</script>@example.org")
	case codes.Unavailable, codes.InvalidArgument:
		// Refused, or not mailable: the topics are tried on a plain address.
		t.Logf("subscribing %s: %v", email, err)
		hostileSub.Email = "eve@example.org"
		if _, err := sc.CreateSubscription(ctx, &subscriptionv1.CreateSubscriptionRequest{Subscription: hostileSub}); err != nil {
			t.Fatal(err)
		}
		links, _, _ = mailLinks(t, smtp, "eve@example.org")
	default:
		t.Fatalf("subscribing %s: %v", email, err)
	}
	manage := links["/subscriptions/manage"]
	for _, path := range []string{
		"/subscriptions/manage?token=" + manage,
		"/subscriptions/confirm?token=" + url.QueryEscape(xssAttr+xssScript),
		"/subscriptions/manage?token=" + url.QueryEscape(xssAttr),
		"/unsubscribe?token=" + url.QueryEscape(xssAttr+xssScript),
	} {
		code, body, _ := formRequest(t, "GET", ts.base+path, "", nil)
		if code != 200 && code != 404 {
			t.Errorf("GET %s: %d", path, code)
		}
		checkHTML(t, "GET "+path, body)
	}
	code, body, _ := formRequest(t, "GET", ts.base+"/subscriptions/manage?token="+manage, "", nil)
	if text := html.UnescapeString(body); code != 200 || !strings.Contains(text, `value=""`+xssScript+`""`) ||
		!strings.Contains(text, xssAttr+", "+xssScript) {
		t.Errorf("the manage page does not show the topics (escaped): %d\n%s", code, body)
	}
	code, body, _ = formRequest(t, "GET", ts.base+"/subscriptions/confirm?token="+url.QueryEscape(xssAttr), "", nil)
	if code != 404 || !strings.Contains(body, "This link is unknown") {
		t.Errorf("the confirm page of an unknown token: %d\n%s", code, body)
	}
	code, body, _ = formRequest(t, "GET", ts.base+"/subscriptions/confirm?token="+url.QueryEscape(links["/subscriptions/confirm"]), "", nil)
	if code != 200 || !strings.Contains(body, `<input type="hidden" name="token" value="`+links["/subscriptions/confirm"]+`">`) {
		t.Errorf("the confirm page does not carry the token: %d\n%s", code, body)
	}
	// Saving hostile topics through the form, and confirming: the answers are escaped too.
	form := url.Values{"token": {manage}, "action": {"save"}, "query": {`"` + xssScript + `"`}, "categories": {xssAttr}, "send_hour": {"7"}}
	code, body, _ = formRequest(t, "POST", ts.base+"/subscriptions/manage", form.Encode(), map[string]string{"Sec-Fetch-Site": "same-origin"})
	if code != 200 || !strings.Contains(body, "Saved") {
		t.Errorf("save topics: %d\n%s", code, body)
	}
	checkHTML(t, "POST /subscriptions/manage", body)
	code, body, _ = formRequest(t, "POST", ts.base+"/subscriptions/confirm", url.Values{"token": {links["/subscriptions/confirm"]}}.Encode(),
		map[string]string{"Sec-Fetch-Site": "same-origin"})
	if code != 200 || !strings.Contains(body, "Subscription confirmed") {
		t.Errorf("confirm: %d\n%s", code, body)
	}
	checkHTML(t, "POST /subscriptions/confirm", body)
	// The subscribe form refuses hostile addresses (header injections included)
	// in a page that shows none of them.
	n := len(smtp.Messages())
	for _, addr := range []string{xssAttr, "ada@example.org\r\nBcc: victim@example.org", "ada@example.org\nBcc: victim@example.org",
		"Ada <ada@example.org>, victim@example.org"} {
		code, page, _ := formRequest(t, "POST", ts.base+"/subscribe", url.Values{"email": {addr}}.Encode(), nil)
		if code != http.StatusBadRequest {
			t.Errorf("subscribe form with %q: %d", addr, code)
		}
		checkHTML(t, "POST /subscribe "+addr, page)
	}
	// And so does the API.
	if r := ts.rest(t, "POST", "/v1/subscriptions", "", map[string]any{"email": "ada@example.org\r\nBcc: victim@example.org"}); r.Status != http.StatusBadRequest ||
		r.Body["code"] != float64(codes.InvalidArgument) {
		t.Errorf("REST subscribe with a header injection: %d %s", r.Status, r.Raw)
	}
	if len(smtp.Messages()) != n {
		t.Errorf("a refused address got mail")
	}
	for _, m := range smtp.Messages() {
		for _, to := range m.To {
			if strings.Contains(to, "victim") {
				t.Errorf("mail went to %q", to)
			}
		}
	}

	// The digest of yesterday to a plain subscriber: headers, text part and HTML part.
	all := []subscriptionv1.Subscription_Weekday{1, 2, 3, 4, 5, 6, 7}
	if _, err := sc.CreateSubscription(ctx, &subscriptionv1.CreateSubscriptionRequest{Subscription: &subscriptionv1.Subscription{
		Email: "reader@example.org", Weekdays: all}}); err != nil {
		t.Fatal(err)
	}
	readerLinks, _, _ := mailLinks(t, smtp, "reader@example.org")
	reader, err := sc.ConfirmSubscription(ctx, &subscriptionv1.ConfirmSubscriptionRequest{Token: readerLinks["/subscriptions/confirm"]})
	if err != nil {
		t.Fatal(err)
	}
	edition := day.Format(time.DateOnly)
	// The preview over REST is JSON carrying the digest as data.
	preview := ts.rest(t, "GET", "/v1/"+reader.GetName()+":previewDigest?edition="+edition+"&manage_token="+readerLinks["/subscriptions/manage"], "", nil)
	var digest struct{ Subject, Text, HTML string }
	if err := json.Unmarshal(preview.Raw, &digest); err != nil || preview.Status != 200 {
		t.Fatalf("preview: %d %s (%v)", preview.Status, preview.Raw, err)
	}
	checkHTML(t, "the previewed digest", digest.HTML)
	if !strings.Contains(digest.Text, xssScript) {
		t.Errorf("the previewed digest's text lacks the title:\n%s", digest.Text)
	}
	if resp, err := sc.SendDigests(admin(ctx), &subscriptionv1.SendDigestsRequest{Edition: edition}); err != nil || resp.GetSent() != 1 {
		t.Fatalf("send digests: %v %v", resp, err)
	}
	var raw []byte
	for _, m := range smtp.Messages() {
		if slices.Contains(m.To, "reader@example.org") && bytes.Contains(m.Data, []byte("Message-ID: <digest.")) {
			raw = m.Data
		}
	}
	if raw == nil {
		t.Fatal("no digest to reader@example.org")
	}
	decoded, err := smtptest.Message{Data: raw}.Decode()
	if err != nil {
		t.Fatal(err)
	}
	hdr, parts := mailParts(t, raw)
	if want := "Trending papers · " + day.Format("Mon, Jan 2"); decoded.Subject != want {
		t.Errorf("digest subject %q, want %q", decoded.Subject, want)
	}
	for _, h := range []string{"Bcc", "X-Injected", "Cc"} {
		if v, ok := hdr[h]; ok {
			t.Errorf("the digest has an injected header %s: %q", h, v)
		}
	}
	if to := hdr.Get("To"); to != "<reader@example.org>" {
		t.Errorf("digest To %q", to)
	}
	for _, line := range strings.Split(string(raw), "\r\n") {
		if strings.HasPrefix(line, "Bcc:") || strings.HasPrefix(line, "X-Injected:") || strings.HasPrefix(line, "Subject: pwned") {
			t.Errorf("the raw digest has the line %q", line)
		}
	}
	// SMTP carries lines ending in CRLF; the parts are compared as LF text.
	text := strings.ReplaceAll(parts["text/plain"], "\r\n", "\n")
	htmlPart := strings.ReplaceAll(parts["text/html"], "\r\n", "\n")
	whole := strings.ReplaceAll(decoded.Body, "\r\n", "\n")
	if text == "" || htmlPart == "" || !strings.Contains(whole, text) || !strings.Contains(whole, htmlPart) {
		t.Fatalf("the digest's parts: %v", parts)
	}
	checkHTML(t, "the digest's HTML part", htmlPart)
	unescaped := html.UnescapeString(htmlPart)
	for _, want := range []string{xssScript, xssAttr, "Zeppelin", `href="https://github.com/evil/repo"`} {
		if !strings.Contains(unescaped, want) {
			t.Errorf("the digest's HTML part lacks %q (escaped):\n%s", want, htmlPart)
		}
	}
	// The text part is plain text: the markup shows as it is, but no control
	// character breaks a line in the middle of a field.
	if !strings.Contains(text, "Zeppelin "+xssScript+" "+xssAttr+" "+xssURL+" Subject: pwned Bcc: victim@example.org X-Injected: yes") {
		t.Errorf("the digest's text part does not show the title on one line:\n%s", text)
	}
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "Bcc:") || strings.HasPrefix(line, "X-Injected:") || strings.ContainsRune(line, '\r') {
			t.Errorf("the digest's text part has the line %q", line)
		}
	}
	if strings.TrimSpace(htmlPart) != strings.TrimSpace(digest.HTML) || strings.TrimSpace(text) != strings.TrimSpace(digest.Text) {
		t.Errorf("the sent digest differs from its preview")
	}
}

// TestArxivPollerTalksToItsHostOnly serves Atom feeds whose entries and feed
// link to another host, then answers the next page with redirects to that host
// (absolute, then scheme-relative): the other host is never contacted, each
// redirect fails the round (and is logged), and the poller finishes the round
// at its own host afterwards.
func TestArxivPollerTalksToItsHostOnly(t *testing.T) {
	t.Parallel()
	var otherHits atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		otherHits.Add(1)
		// Were it followed, this would import a paper.
		w.Header().Set("Content-Type", "application/atom+xml")
		_, _ = fmt.Fprintf(w, `<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><entry><id>http://arxiv.org/abs/2411.09999v1</id>
<published>%s</published><title>Foreign</title><summary>x</summary><author><name>X</name></author></entry></feed>`, time.Now().UTC().Format(time.RFC3339))
	}))
	defer other.Close()
	otherHost := strings.TrimPrefix(other.URL, "http://")

	now := time.Now().UTC().Truncate(time.Second)
	var mu sync.Mutex
	var requests []*url.URL
	redirects := []struct {
		code     int
		location string
	}{{http.StatusFound, other.URL + "/api/query?start=3"}, {http.StatusTemporaryRedirect, "//" + otherHost + "/api/query?start=3"}}
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests = append(requests, r.URL)
		start := r.URL.Query().Get("start")
		var redirect int
		if start == "3" {
			redirect = len(requests) - 2 // the 2nd and 3rd requests redirect
		}
		mu.Unlock()
		if start == "3" && redirect >= 0 && redirect < len(redirects) {
			http.Redirect(w, r, redirects[redirect].location, redirects[redirect].code)
			return
		}
		w.Header().Set("Content-Type", "application/atom+xml")
		var b strings.Builder
		fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
<link href="%[1]s/api/query?start=3" rel="next" type="application/atom+xml"/>
<link href="%[1]s/api/query?self" rel="self" type="application/atom+xml"/>
<opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">6</opensearch:totalResults>
`, other.URL)
		if start == "0" {
			for i, pdf := range []string{other.URL + "/pdf/2411.00001v1", "javascript:alert(1)", ""} {
				id := fmt.Sprintf("2411.%05d", i+1)
				fmt.Fprintf(&b, `<entry><id>http://arxiv.org/abs/%[1]sv1</id><published>%[2]s</published><updated>%[2]s</updated>
<title>Paper %[1]s</title><summary>See %[3]s/abs/%[1]s.</summary><author><name>Ada Lovelace</name></author>
<link href="%[3]s/abs/%[1]sv1" rel="alternate" type="text/html"/>
<link title="doi" href="%[3]s/doi/%[1]s" rel="related"/>
`, id, now.Add(-time.Duration(i+1)*time.Hour).Format(time.RFC3339), other.URL)
				if pdf != "" {
					fmt.Fprintf(&b, `<link title="pdf" href="%s" rel="related" type="application/pdf"/>`, pdf)
				}
				b.WriteString(`<arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" term="cs.LG"/><category term="cs.LG"/></entry>` + "\n")
			}
		}
		b.WriteString("</feed>\n") // past the first page: the end
		_, _ = w.Write([]byte(b.String()))
	}))
	defer api.Close()

	var logs logBuffer
	cfg := testConfig(t)
	cfg.Arxiv = server.ArxivConfig{Categories: []string{"cs.LG"}, URL: api.URL + "/api/query", Interval: 300 * time.Millisecond,
		PageSize: 3, RequestGap: 50 * time.Millisecond, Backfill: 72 * time.Hour}
	ts := startLogging(t, cfg, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	// Three rounds with imports: under the race detector on a busy machine that
	// may take longer than eventually's 5 s.
	secEventually(t, "a finished round", time.Minute, func() bool { return strings.Contains(logs.String(), "arXiv poll done") },
		func() string { return logs.String() })

	mu.Lock()
	var starts []string
	for _, u := range requests {
		starts = append(starts, u.Query().Get("start"))
		if u.Path != "/api/query" {
			t.Errorf("the poller asked for %s", u)
		}
	}
	mu.Unlock()
	// Page 0, then page 3 three times: redirected (round fails), redirected
	// again (the next round resumes there and fails), answered.
	if len(starts) < 4 || strings.Join(starts[:4], ",") != "0,3,3,3" {
		t.Errorf("requests at %v, want 0,3,3,3 first", starts)
	}
	if n := otherHits.Load(); n != 0 {
		t.Errorf("the other host was contacted %d times", n)
	}
	out := logs.String()
	if c := strings.Count(out, "arXiv poll failed"); c < 2 || strings.Count(out, "refusing a redirect to "+otherHost) < 2 {
		t.Errorf("want two failed rounds that name the refused redirect, logs:\n%s", out)
	}
	ctx := testCtx(t)
	one, err := ts.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: "papers/2411.00001"})
	if err != nil {
		t.Fatalf("the page with foreign links was not imported: %v", err)
	}
	// A link to another host is data: stored, never fetched.
	if one.GetPdfUrl() != strings.Replace(other.URL, "http://", "https://", 1)+"/pdf/2411.00001v1" {
		t.Errorf("pdf_url %q", one.GetPdfUrl())
	}
	three, err := ts.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: "papers/2411.00003"})
	if err != nil || three.GetPdfUrl() != "https://arxiv.org/pdf/2411.00003" {
		t.Errorf("the entry without a pdf link: %v %v", three.GetPdfUrl(), err)
	}
	// A javascript: pdf link never becomes a stored URL: today the import
	// refuses the record, and says why; falling back to arXiv's own link would
	// do too.
	two, err := ts.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: "papers/2411.00002"})
	switch {
	case status.Code(err) == codes.NotFound:
		if !regexp.MustCompile(`msg="arXiv record rejected".* paper=2411\.00002 reason="paper\.pdf_url: `).MatchString(out) {
			t.Errorf("the entry with a javascript: pdf link vanished without its rejection logged:\n%s", out)
		}
	case err != nil:
		t.Fatal(err)
	default:
		if u, err := url.Parse(two.GetPdfUrl()); err != nil || (u.Scheme != "https" && u.Scheme != "http") {
			t.Errorf("the entry with a javascript: pdf link was stored with pdf_url %q", two.GetPdfUrl())
		}
	}
	if _, err := ts.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: "papers/2411.09999"}); status.Code(err) != codes.NotFound {
		t.Errorf("the foreign host's paper: %v", err)
	}
}

// The security headers every page carries (site's headers).
var pageSecurityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
	"X-Content-Type-Options":  "nosniff",
	"X-Frame-Options":         "DENY",
	"Referrer-Policy":         "no-referrer",
	"Cache-Control":           "no-store",
}

// TestSecurityHeaders checks the pages' headers on every page route, answers
// and errors alike, and that the REST API answers JSON as application/json.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	ts, smtp, _ := startWithSMTP(t, nil)
	ctx := testCtx(t)
	sc := subscriptionv1.NewSubscriptionServiceClient(ts.conn)
	if _, err := sc.CreateSubscription(ctx, &subscriptionv1.CreateSubscriptionRequest{Subscription: &subscriptionv1.Subscription{
		Email: "ada@example.org"}}); err != nil {
		t.Fatal(err)
	}
	links, _, _ := mailLinks(t, smtp, "ada@example.org")
	manage := links["/subscriptions/manage"]
	same := map[string]string{"Sec-Fetch-Site": "same-origin"}
	cross := map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}
	for _, c := range []struct {
		method, path, form string
		header             map[string]string
		code               int
	}{
		{"GET", "/", "", nil, 200},
		{"GET", "/?q=diffusion", "", nil, 200}, // moved to /search
		{"GET", "/search?q=diffusion", "", nil, 200},
		{"GET", "/search?q=%22open", "", nil, 400},
		{"GET", "/daily/2024-03-05", "", nil, 200},
		{"GET", "/daily/2024-13-05", "", nil, 400},
		{"GET", "/daily/week/2024-W10", "", nil, 200},
		{"GET", "/daily/month/2024-03", "", nil, 200},
		{"GET", "/?tz=Mars%2FBase", "", nil, 400},
		{"GET", "/trending?window=30d", "", nil, 200},
		{"GET", "/organizations/nobody", "", nil, 404},
		{"GET", "/subscriptions/confirm?token=" + links["/subscriptions/confirm"], "", nil, 200},
		{"GET", "/subscriptions/confirm", "", nil, 404},
		{"GET", "/subscribe", "", nil, 200},
		{"GET", "/subscriptions/manage?token=" + manage, "", nil, 200},
		{"GET", "/subscriptions/manage?token=nope", "", nil, 404},
		{"GET", "/unsubscribe?token=" + manage, "", nil, 200},
		{"POST", "/subscribe", "email=grace%40example.org", nil, 200},
		{"POST", "/subscribe", "email=not-an-address", nil, 400},
		{"POST", "/subscribe", "email=eve%40example.org", cross, 403},
		{"POST", "/subscriptions/confirm", "token=nope", same, 404},
		{"POST", "/subscriptions/confirm", "token=" + links["/subscriptions/confirm"], cross, 403},
		{"POST", "/subscriptions/manage", "token=" + manage + "&action=save&query=x", same, 200},
		{"POST", "/unsubscribe?token=" + manage, "List-Unsubscribe=One-Click", nil, 200},
	} {
		code, body, hdr := formRequest(t, c.method, ts.base+c.path, c.form, c.header)
		if code != c.code {
			t.Errorf("%s %s: %d, want %d\n%s", c.method, c.path, code, c.code, body)
		}
		for k, want := range pageSecurityHeaders {
			if got := hdr.Values(k); len(got) != 1 || got[0] != want {
				t.Errorf("%s %s (%d): %s %q, want %q", c.method, c.path, code, k, got, want)
			}
		}
		if ct := hdr.Get("Content-Type"); code != 403 && ct != "text/html; charset=utf-8" {
			t.Errorf("%s %s: Content-Type %q", c.method, c.path, ct)
		}
	}

	// The REST API answers JSON, successes and errors, as application/json.
	create := ts.rest(t, "POST", "/v1/papers?paper_id="+paperID(1), adminToken, map[string]any{"title": "t"})
	if create.Status != 200 {
		t.Fatalf("create: %d %s", create.Status, create.Raw)
	}
	for _, c := range []struct {
		method, path, token string
		body                any
		code                int
	}{
		{"GET", "/v1/papers", "", nil, 200},
		{"GET", "/v1/papers/" + paperID(1), "", nil, 200},
		{"GET", "/v1/papers/" + paperID(2), "", nil, 404},
		{"GET", "/v1/papers?page_size=-1", "", nil, 400},
		{"POST", "/v1/papers?paper_id=" + paperID(3), "wrong", map[string]any{"title": "t"}, 401},
		{"POST", "/v1/papers?paper_id=" + paperID(3), adminToken, "{not json", 400},
		{"POST", "/v1/subscriptions:confirm", "", map[string]any{"token": "nope"}, 404},
		{"GET", "/healthz", "", nil, 200},
		{"GET", "/readyz", "", nil, 200},
	} {
		r := ts.rest(t, c.method, c.path, c.token, c.body)
		if r.Status != c.code || !json.Valid(r.Raw) {
			t.Errorf("%s %s: %d %s, want %d with JSON", c.method, c.path, r.Status, r.Raw, c.code)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s: Content-Type %q, want application/json", c.method, c.path, ct)
		}
		if got := r.Header.Values("X-Content-Type-Options"); len(got) != 1 || got[0] != "nosniff" {
			t.Errorf("%s %s: X-Content-Type-Options %q, want nosniff once", c.method, c.path, got)
		}
	}
}
