package mailer

import (
	"bytes"
	"errors"
	"net/mail"
	"regexp"
	"strings"
	"testing"
	"time"
)

// headerLine is a header field's first line: a name the message builder writes,
// a colon and a space or the end of the line.
var headerLine = regexp.MustCompile(`^(Date|MIME-Version|Message-ID|Subject|From|To|List-Unsubscribe|List-Unsubscribe-Post|Content-Type|Content-Transfer-Encoding):( |$)`)

// FuzzBuild builds messages from arbitrary addresses, subjects, bodies, message
// ids and unsubscribe links. A header value with a line break is refused, and
// any other refusal is a permanent *SendError. A message that is built has one
// header section of CRLF-ended lines, each a header the builder writes or the
// continuation of one, with From, To, Subject, Date and Message-ID once each
// (so a subject or name can add no Bcc or other header), whose From and To
// still name the one address given.
func FuzzBuild(f *testing.F) {
	f.Add("Paper Catalog <digest@papers.example>", "ada@example.org", "Trending papers · Tue, Nov 3", "Hello\n", "<p>Hello</p>",
		"digest.2026-11-03.ada.example.org@papers.example", "https://papers.example/unsubscribe?token=abc", true, int64(1793692800))
	f.Add("digest@papers.example", "Ada <ada@example.org>", "Hi\r\nBcc: x@evil", "", "", "", "", false, int64(0))
	f.Add("Evil\r\nBcc: x@evil <a@b.example>", "ada@example.org", "x", "a\r\n.\r\nRCPT TO:<x@evil>\r\n", "", "id\n@x", "http://h/x\r\nBcc: y", true, int64(-1))
	f.Add(`"a\" <evil@x>, \"b" <good@y.example>`, `"Ünï, \"x\"" <ada@example.org>`, "=?utf-8?q?Bcc:_x@evil?= \u2028 \x0b\x00",
		strings.Repeat("x", 2000), strings.Repeat("<p>", 400), "<a@b>", "javascript:alert(1)", true, int64(253402300800))
	f.Add("a@b.example", "ada@example.org, eve@evil.example", strings.Repeat("long words ", 40), "\xff", "\x00", "x", "http://", false, int64(1)<<40)
	f.Fuzz(func(t *testing.T, from, to, subject, text, htmlBody, messageID, unsubscribe string, eightBit bool, date int64) {
		m := &Message{From: from, To: to, Subject: subject, Text: text, HTML: htmlBody, MessageID: messageID,
			Date: time.Unix(date, 0).UTC(), ListUnsubscribe: unsubscribe}
		msg, err := build(m, eightBit)
		if err != nil {
			var se *SendError
			if !errors.As(err, &se) || se.Temporary {
				t.Fatalf("refusal %v is not a permanent *SendError", err)
			}
			return
		}
		if strings.ContainsAny(from+to+subject+messageID+unsubscribe, "\r\n") {
			t.Fatalf("a header value with a line break was accepted: %+v", m)
		}
		var buf bytes.Buffer
		if _, err := msg.WriteTo(&buf); err != nil {
			t.Fatalf("write: %v", err)
		}
		head, _, ok := strings.Cut(buf.String(), "\r\n\r\n")
		if !ok {
			t.Fatalf("no end of the header section:\n%q", buf.String())
		}
		count := map[string]int{}
		for i, line := range strings.Split(head, "\r\n") {
			switch {
			case strings.ContainsAny(line, "\r\n"):
				t.Fatalf("header line %d holds a bare line break: %q", i, line)
			case i > 0 && (strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t")):
				// a continuation line
			default:
				h := headerLine.FindStringSubmatch(line)
				if h == nil {
					t.Fatalf("unexpected header line %q in:\n%s", line, head)
				}
				count[h[1]]++
			}
		}
		for _, name := range []string{"From", "To", "Subject", "Date", "Message-ID"} {
			if count[name] != 1 {
				t.Fatalf("%d %s headers in:\n%s", count[name], name, head)
			}
		}
		if (count["List-Unsubscribe"] == 1) != (unsubscribe != "") || count["List-Unsubscribe"] > 1 {
			t.Fatalf("List-Unsubscribe %q gave %d headers", unsubscribe, count["List-Unsubscribe"])
		}

		parsed, err := mail.ReadMessage(strings.NewReader(head + "\r\n\r\n"))
		if err != nil {
			t.Fatalf("the header section does not parse: %v\n%s", err, head)
		}
		for _, h := range []struct{ name, given string }{{"From", from}, {"To", to}} {
			want, err := mail.ParseAddress(h.given)
			if err != nil {
				t.Fatalf("%s %q was accepted, but it is no address: %v", h.name, h.given, err)
			}
			got, err := parsed.Header.AddressList(h.name)
			if err != nil || len(got) != 1 || got[0].Address != want.Address {
				t.Fatalf("%s %q became %q: %v, %v", h.name, h.given, parsed.Header.Get(h.name), got, err)
			}
		}
	})
}
