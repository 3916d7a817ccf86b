package mailer_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/papercatalog/papers/mailer"
	"github.com/papercatalog/papers/mailer/smtptest"
)

func message(to string) *mailer.Message {
	return &mailer.Message{
		From: "Paper Catalog <digest@papers.example>", To: to, Subject: "Trending papers · Tue, Nov 3",
		Text: "Hello\n", HTML: "<p>Hello</p>", MessageID: "digest.2026-11-03." + strings.ReplaceAll(to, "@", ".") + "@papers.example",
		Date: time.Date(2026, 11, 3, 8, 0, 0, 0, time.UTC), ListUnsubscribe: "https://papers.example/unsubscribe?token=abc",
	}
}

func TestSMTPSendsWithAuthAndClassifiesRefusals(t *testing.T) {
	srv, err := smtptest.Start("digest", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	m, err := mailer.NewSMTP(fmt.Sprintf("smtp://digest:s3cret@%s?tls=none", srv.Addr))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = m.Close() }()
	ctx := context.Background()
	for _, to := range []string{"ada@example.org", "alan@example.org"} {
		if err := m.Send(ctx, message(to)); err != nil {
			t.Fatalf("send to %s: %v", to, err)
		}
	}
	got := srv.Messages()
	if len(got) != 2 || got[0].To[0] != "ada@example.org" || got[0].From != "digest@papers.example" {
		t.Fatalf("received %+v", got)
	}
	data := string(got[0].Data)
	for _, want := range []string{
		"List-Unsubscribe: <https://papers.example/unsubscribe?token=abc>",
		"List-Unsubscribe-Post: List-Unsubscribe=One-Click",
		"Message-ID: <digest.2026-11-03.ada.example.org@papers.example>",
		"Date: Tue, 03 Nov 2026 08:00:00 +0000",
		"multipart/alternative", "text/plain", "text/html",
	} {
		if !strings.Contains(data, want) {
			t.Errorf("message lacks %q:\n%s", want, data)
		}
	}

	srv.RefuseTemporarily("busy@example.org", true)
	err = m.Send(ctx, message("busy@example.org"))
	if err == nil || !mailer.IsTemporary(err) {
		t.Errorf("451: %v (temporary %v)", err, mailer.IsTemporary(err))
	}
	srv.RefuseTemporarily("busy@example.org", false)
	if err := m.Send(ctx, message("busy@example.org")); err != nil {
		t.Errorf("after the refusal ended: %v", err)
	}
	srv.RefusePermanently("gone@example.org")
	if err := m.Send(ctx, message("gone@example.org")); err == nil || mailer.IsTemporary(err) {
		t.Errorf("550: %v (temporary %v)", err, mailer.IsTemporary(err))
	}
	if n := len(srv.Messages()); n != 3 {
		t.Errorf("%d messages accepted, want 3", n)
	}
}

func TestSMTPServerAwayIsTemporary(t *testing.T) {
	srv, err := smtptest.Start("", "")
	if err != nil {
		t.Fatal(err)
	}
	addr := srv.Addr
	srv.Close()
	m, err := mailer.NewSMTP("smtp://" + addr + "?tls=none&timeout=2s")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Send(context.Background(), message("ada@example.org")); err == nil || !mailer.IsTemporary(err) {
		t.Errorf("server away: %v (temporary %v)", err, mailer.IsTemporary(err))
	}
}

// TestSMTPServerRestartedMeanwhile sends on a kept connection the server closed
// when it restarted: the message goes on a new connection, not as a failure.
func TestSMTPServerRestartedMeanwhile(t *testing.T) {
	srv, err := smtptest.Start("", "")
	if err != nil {
		t.Fatal(err)
	}
	m, err := mailer.NewSMTP("smtp://" + srv.Addr + "?tls=none&connections=1")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = m.Close() }()
	if err := m.Send(context.Background(), message("ada@example.org")); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	back, err := smtptest.StartAt(srv.Addr, "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	if err := m.Send(context.Background(), message("alan@example.org")); err != nil {
		t.Fatalf("after the restart: %v", err)
	}
	if msgs := back.Messages(); len(msgs) != 1 || msgs[0].To[0] != "alan@example.org" {
		t.Errorf("the restarted server got %d messages", len(msgs))
	}
}

func TestBadSMTPURLs(t *testing.T) {
	for _, u := range []string{"", "http://mail.example", "smtp://", "smtp://mail.example?tls=maybe",
		"smtp://u:p@mail.example?auth=cram", "smtp://mail.example:99999", "smtp://mail.example?timeout=soon",
		"smtp://mail.example?connections=0", "smtp://mail.example?connections=many"} {
		if _, err := mailer.NewSMTP(u); err == nil {
			t.Errorf("%q accepted", u)
		} else if strings.Contains(err.Error(), "p@") {
			t.Errorf("%q: the error shows the password: %v", u, err)
		}
	}
}

func TestOutboxWritesEmlFiles(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	o := &mailer.Outbox{Dir: filepath.Join(dir, "outbox"), Sent: func(p string) { paths = append(paths, p) }}
	if err := o.Send(context.Background(), message("ada@example.org")); err != nil {
		t.Fatal(err)
	}
	if len(paths) != 1 || filepath.Ext(paths[0]) != ".eml" {
		t.Fatalf("paths %v", paths)
	}
	b, err := os.ReadFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "To: <ada@example.org>") || !strings.Contains(string(b), "List-Unsubscribe-Post") {
		t.Errorf("eml:\n%s", b)
	}
}

func TestHeaderInjectionIsRefused(t *testing.T) {
	o := &mailer.Outbox{Dir: t.TempDir()}
	for _, m := range []*mailer.Message{
		{From: "a@example.org", To: "b@example.org\r\nBcc: evil@example.org", Subject: "x", Text: "x"},
		{From: "a@example.org", To: "b@example.org", Subject: "Hi\r\nBcc: evil@example.org", Text: "x"},
		{From: "a@example.org", To: "b@example.org", Subject: "x", Text: "x", ListUnsubscribe: "https://x/u\r\nX-Injected: 1"},
	} {
		err := o.Send(context.Background(), m)
		if err == nil || mailer.IsTemporary(err) {
			t.Errorf("%+v: %v", m, err)
		}
	}
	entries, _ := os.ReadDir(o.Dir)
	if len(entries) != 0 {
		t.Errorf("%d files written", len(entries))
	}
}

// TestSMTPSendsOnSeveralConnections: with connections=3, three messages are in
// flight at once, a fourth waits for a free connection, and all arrive.
func TestSMTPSendsOnSeveralConnections(t *testing.T) {
	srv, err := smtptest.Start("", "")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	m, err := mailer.NewSMTP("smtp://" + srv.Addr + "?tls=none&connections=3")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = m.Close() }()
	if m.Connections() != 3 {
		t.Fatalf("connections %d, want 3", m.Connections())
	}
	held := srv.Hold(func(data []byte) bool { return strings.Contains(string(data), "To: <reader") })
	ctx := context.Background()
	errs := make(chan error, 3)
	for i := range 3 {
		go func() { errs <- m.Send(ctx, message(fmt.Sprintf("reader%d@example.org", i))) }()
	}
	for range 3 {
		select {
		case <-held:
		case <-time.After(10 * time.Second):
			t.Fatal("fewer than three messages in flight at once")
		}
	}
	// Every connection is busy: a fourth message waits, here until its deadline.
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if err := m.Send(short, message("late@example.org")); err == nil || !mailer.IsTemporary(err) {
		t.Errorf("a message beyond the connections: %v, want a temporary failure", err)
	}
	for range 3 {
		srv.Release(true)
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if err := m.Send(ctx, message("late@example.org")); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Messages()); n != 4 {
		t.Errorf("the server received %d messages, want 4", n)
	}
}

// TestSMTPSends8bitWhenLinesFit: the server takes 8BITMIME, so a message whose
// lines fit SMTP's 998 octets goes as it is; one with a longer line is encoded
// quoted-printable. Both read back as sent.
func TestSMTPSends8bitWhenLinesFit(t *testing.T) {
	srv, err := smtptest.Start("", "")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	m, err := mailer.NewSMTP("smtp://" + srv.Addr + "?tls=none")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = m.Close() }()
	short := message("short@example.org")
	short.Text, short.HTML = "Trending papers · Tue, Nov 3\nÜber α=β\n", "<p>Über α=β ▲ 3</p>\n"
	long := message("long@example.org")
	long.Text, long.HTML = strings.Repeat("word ", 300)+"\n", "<p>"+strings.Repeat("é", 600)+"</p>\n"
	for _, msg := range []*mailer.Message{short, long} {
		if err := m.Send(context.Background(), msg); err != nil {
			t.Fatal(err)
		}
	}
	got := srv.Messages()
	if len(got) != 2 {
		t.Fatalf("%d messages", len(got))
	}
	for i, c := range []struct {
		msg      *mailer.Message
		encoding string
	}{{short, "8bit"}, {long, "quoted-printable"}} {
		if n := strings.Count(string(got[i].Data), "Content-Transfer-Encoding: "+c.encoding); n != 2 {
			t.Errorf("%s: %d parts %s, want 2:\n%s", c.msg.To, n, c.encoding, got[i].Data)
		}
		d, err := got[i].Decode()
		if err != nil {
			t.Fatal(err)
		}
		if want := strings.ReplaceAll(c.msg.Text+c.msg.HTML, "\n", "\r\n"); d.Body != want {
			t.Errorf("%s reads back as\n%q\nwant\n%q", c.msg.To, d.Body, want)
		}
	}
}
