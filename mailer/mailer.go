// Package mailer sends mail: over SMTP (plain, STARTTLS or implicit TLS, with
// AUTH) configured by an smtp:// URL, or, without one, into an outbox directory
// as .eml files a newcomer can open. Failures say whether they are temporary (try
// again later) or permanent (the address or the message is refused).
package mailer

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	mail "github.com/wneessen/go-mail"
)

// Message is one mail.
type Message struct {
	From      string // "Name <address>" or an address
	To        string
	Subject   string
	Text      string
	HTML      string // optional alternative part
	MessageID string // without angle brackets, e.g. "digest.2024-03-05.sub1@papers.example"
	Date      time.Time
	// ListUnsubscribe, if set, is the https URL of one-click unsubscription
	// (RFC 8058: List-Unsubscribe and List-Unsubscribe-Post headers).
	ListUnsubscribe string
}

// Mailer sends messages.
type Mailer interface {
	// Send sends m. An error is a *SendError when it is about m; other errors
	// are temporary.
	Send(ctx context.Context, m *Message) error
	// Close releases connections.
	Close() error
}

// SendError is a failure to send one message.
type SendError struct {
	Temporary bool
	Err       error
}

func (e *SendError) Error() string {
	kind := "permanent"
	if e.Temporary {
		kind = "temporary"
	}
	return fmt.Sprintf("%s mail failure: %v", kind, e.Err)
}

func (e *SendError) Unwrap() error { return e.Err }

// IsTemporary reports whether err is worth retrying later.
func IsTemporary(err error) bool {
	var se *SendError
	if errors.As(err, &se) {
		return se.Temporary
	}
	return err != nil
}

// build turns m into a go-mail message, refusing header values with line breaks
// (header injection) rather than trusting every setter to encode them.
//
// With eightBit, a message whose lines all fit SMTP's limit (998 octets) is
// sent as it is (8bit, RFC 6152) rather than quoted-printable: nothing to
// encode, and fewer octets. The caller must know that the server takes 8BITMIME.
func build(m *Message, eightBit bool) (*mail.Msg, error) {
	for name, v := range map[string]string{"From": m.From, "To": m.To, "Subject": m.Subject,
		"Message-ID": m.MessageID, "List-Unsubscribe": m.ListUnsubscribe} {
		if strings.ContainsAny(v, "\r\n") {
			return nil, &SendError{Err: fmt.Errorf("%s holds a line break", name)}
		}
	}
	opts := []mail.MsgOption{mail.WithNoDefaultUserAgent()}
	if eightBit && fitsLines(m.Text) && fitsLines(m.HTML) {
		opts = append(opts, mail.WithEncoding(mail.NoEncoding))
	}
	msg := mail.NewMsg(opts...)
	if err := msg.From(m.From); err != nil {
		return nil, &SendError{Err: fmt.Errorf("from %q: %w", m.From, err)}
	}
	if err := msg.To(m.To); err != nil {
		return nil, &SendError{Err: fmt.Errorf("to %q: %w", m.To, err)}
	}
	msg.Subject(m.Subject)
	if m.MessageID != "" {
		msg.SetMessageIDWithValue(m.MessageID)
	} else {
		msg.SetMessageID()
	}
	date := m.Date
	if date.IsZero() {
		date = time.Now()
	}
	msg.SetDateWithValue(date)
	switch {
	case strings.HasPrefix(m.ListUnsubscribe, "https://"):
		if err := msg.SetListUnsubscribeOneClick(m.ListUnsubscribe); err != nil {
			return nil, &SendError{Err: fmt.Errorf("list-unsubscribe %q: %w", m.ListUnsubscribe, err)}
		}
	case m.ListUnsubscribe != "":
		// RFC 8058's one-click needs HTTPS; a plain http link (a local setup) still
		// gets List-Unsubscribe. The value has no line break (checked above).
		if u, err := url.Parse(m.ListUnsubscribe); err != nil || u.Scheme != "http" || u.Host == "" {
			return nil, &SendError{Err: fmt.Errorf("list-unsubscribe %q is not an http(s) URL", m.ListUnsubscribe)}
		}
		msg.SetListUnsubscribe(m.ListUnsubscribe)
	}
	msg.SetBodyString(mail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(mail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// maxLine is the longest line SMTP carries unencoded, in octets without CRLF
// (RFC 5321, 4.5.3.1.6).
const maxLine = 998

// fitsLines reports whether every line of s is at most maxLine octets.
func fitsLines(s string) bool {
	for len(s) > maxLine {
		i := strings.IndexByte(s[:maxLine+1], '\n')
		if i < 0 {
			return false
		}
		s = s[i+1:]
	}
	return true
}

// Outbox writes messages as .eml files into a directory instead of sending them.
type Outbox struct {
	Dir string
	// Sent, if set, is told the path of every file written.
	Sent func(path string)
}

// Send implements Mailer. The file is named after the message id, so writing the
// same message again replaces it.
func (o *Outbox) Send(_ context.Context, m *Message) error {
	msg, err := build(m, false)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.Dir, 0o750); err != nil {
		return err
	}
	id := strings.Trim(msg.GetMessageID(), "<>")
	name := strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r < ' ' {
			return '_'
		}
		return r
	}, id) + ".eml"
	path := filepath.Join(o.Dir, name)
	tmp := path + ".tmp"
	if err := msg.WriteToFile(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if o.Sent != nil {
		o.Sent(path)
	}
	return nil
}

// Close implements Mailer.
func (o *Outbox) Close() error { return nil }

// SMTP sends over a few SMTP connections at once, each kept open between
// messages and opened again when it fails.
type SMTP struct {
	idle  chan *smtpConn // the connections not in use; all of them when none is
	conns int
	// no8bit is set once the server turned out not to take 8BITMIME: messages
	// are encoded quoted-printable from then on.
	no8bit atomic.Bool
}

// smtpConn is one connection's client.
type smtpConn struct {
	client   *mail.Client
	open     bool
	lastUsed time.Time
}

// maxIdle is how long a connection may wait unused before it is opened afresh
// rather than trusted: messages on a busy connection need no NOOP before them,
// and a server may close a quiet one.
const maxIdle = 5 * time.Second

// DefaultConnections is how many connections an SMTP mailer opens at most
// unless its URL says otherwise.
const DefaultConnections = 4

// NewSMTP returns a mailer for an SMTP URL:
//
//	smtp://[user:password@]host[:port][?tls=starttls|ssl|none][&auth=plain|login][&timeout=15s][&connections=4]
//
// TLS defaults to mandatory STARTTLS (port 587); ssl is implicit TLS (port 465);
// none is plain SMTP (port 25), for a relay on the same host or network.
// connections is how many messages may be in flight at once, each on its own
// connection (default DefaultConnections).
func NewSMTP(rawURL string) (*SMTP, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" {
		return nil, fmt.Errorf("SMTP URL %q: want smtp://[user:password@]host[:port][?tls=starttls|ssl|none]", redact(rawURL))
	}
	q, host := u.Query(), u.Hostname()
	// No NOOP before each message (a connection idle too long is opened afresh
	// instead) and no RSET after it (a delivered message ends its transaction):
	// two round trips fewer a message.
	opts := []mail.Option{mail.WithTimeout(15 * time.Second), mail.WithoutNoop(), mail.WithoutRset()}
	if s := q.Get("timeout"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("SMTP URL: timeout %q is not a duration such as 15s", s)
		}
		opts = append(opts, mail.WithTimeout(d))
	}
	port := 0
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil || port <= 0 || port > 65535 {
			return nil, fmt.Errorf("SMTP URL: port %q is not a port number", p)
		}
	}
	mode := q.Get("tls")
	if u.Scheme == "smtps" && mode == "" {
		mode = "ssl"
	}
	switch mode {
	case "none":
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
		port = cmp.Or(port, 25)
	case "ssl":
		opts = append(opts, mail.WithSSL())
		port = cmp.Or(port, 465)
	case "", "starttls":
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
		port = cmp.Or(port, 587)
	default:
		return nil, fmt.Errorf("SMTP URL: tls=%q is not starttls, ssl or none", mode)
	}
	opts = append(opts, mail.WithPort(port), mail.WithTLSConfig(&tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}))
	if u.User != nil {
		pass, _ := u.User.Password()
		auth := mail.SMTPAuthPlain
		switch strings.ToLower(q.Get("auth")) {
		case "", "plain":
		case "login":
			auth = mail.SMTPAuthLogin
		default:
			return nil, fmt.Errorf("SMTP URL: auth=%q is not plain or login", q.Get("auth"))
		}
		if mode == "none" { // credentials in clear text only when asked for so plainly
			auth = map[mail.SMTPAuthType]mail.SMTPAuthType{mail.SMTPAuthPlain: mail.SMTPAuthPlainNoEnc,
				mail.SMTPAuthLogin: mail.SMTPAuthLoginNoEnc}[auth]
		}
		opts = append(opts, mail.WithSMTPAuth(auth), mail.WithUsername(u.User.Username()), mail.WithPassword(pass))
	}
	conns := DefaultConnections
	if v := q.Get("connections"); v != "" {
		if conns, err = strconv.Atoi(v); err != nil || conns < 1 || conns > 100 {
			return nil, fmt.Errorf("SMTP URL: connections=%q is not a number from 1 to 100", v)
		}
	}
	s := &SMTP{idle: make(chan *smtpConn, conns), conns: conns}
	for range conns {
		c, err := mail.NewClient(host, opts...)
		if err != nil {
			return nil, fmt.Errorf("SMTP URL %s: %w", redact(rawURL), err)
		}
		s.idle <- &smtpConn{client: c}
	}
	return s, nil
}

// Connections is how many messages the mailer sends at once at most.
func (s *SMTP) Connections() int { return s.conns }

// redact hides the password of a URL for messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

// Send implements Mailer.
func (s *SMTP) Send(ctx context.Context, m *Message) error {
	msg, err := build(m, !s.no8bit.Load())
	if err != nil {
		return err
	}
	var c *smtpConn
	select {
	case c = <-s.idle:
	case <-ctx.Done():
		return &SendError{Temporary: true, Err: ctx.Err()}
	}
	defer func() { s.idle <- c }()
	if c.open && time.Since(c.lastUsed) > maxIdle {
		_ = c.client.Close()
		c.open = false
	}
	reused := c.open
	if !c.open {
		if err := c.client.DialWithContext(ctx); err != nil {
			return &SendError{Temporary: temporary(err), Err: err}
		}
		c.open = true
	}
	c.lastUsed = time.Now()
	err = c.client.Send(msg)
	if se := (*mail.SendError)(nil); reused && errors.As(err, &se) && se.Reason == mail.ErrSMTPMailFrom && se.ErrorCode() == 0 {
		// A kept connection the server closed meanwhile (it restarted, say):
		// nothing was sent, so the message goes once more on a new one.
		_ = c.client.Close()
		c.open = false
		if err := c.client.DialWithContext(ctx); err != nil {
			return &SendError{Temporary: temporary(err), Err: err}
		}
		c.open = true
		err = c.client.Send(msg)
	}
	if se := (*mail.SendError)(nil); errors.As(err, &se) && se.Reason == mail.ErrNoUnencoded {
		// Refused before anything was sent: the server has no 8BITMIME.
		s.no8bit.Store(true)
		if msg, err = build(m, false); err != nil {
			return err
		}
		err = c.client.Send(msg)
	}
	if err != nil {
		t := temporary(err)
		if t {
			// The connection may be broken; open a new one next time.
			_ = c.client.Close()
			c.open = false
		}
		return &SendError{Temporary: t, Err: err}
	}
	return nil
}

// Close implements Mailer: it waits for the messages in flight and closes every
// connection.
func (s *SMTP) Close() error {
	taken := make([]*smtpConn, s.conns)
	var errs []error
	for i := range taken {
		taken[i] = <-s.idle
		if taken[i].open {
			taken[i].open = false
			errs = append(errs, taken[i].client.Close())
		}
	}
	for _, c := range taken { // a closed connection opens again if used
		s.idle <- c
	}
	return errors.Join(errs...)
}

// temporary classifies an SMTP failure: 4xx replies and failures without a reply
// (network, timeouts) are temporary; 5xx replies are permanent.
func temporary(err error) bool {
	var se *mail.SendError
	if errors.As(err, &se) {
		switch se.Reason {
		case mail.ErrGetSender, mail.ErrGetRcpts, mail.ErrNoUnencoded:
			return false
		}
		if se.ErrorCode() == 0 {
			return true
		}
		return se.IsTemp()
	}
	var tpe *textproto.Error
	if errors.As(err, &tpe) {
		return tpe.Code/100 == 4
	}
	return true
}
