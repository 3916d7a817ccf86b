// Package smtptest runs a real SMTP server (github.com/emersion/go-smtp) on
// loopback for tests: it keeps every message it accepts, and can refuse
// recipients temporarily or permanently.
package smtptest

import (
	"bytes"
	"encoding/base64"
	"io"
	"log"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	smtp "github.com/emersion/go-smtp"
)

// Message is one accepted message.
type Message struct {
	From string
	To   []string
	Data []byte
}

// Server is a running SMTP server.
type Server struct {
	Addr string // host:port
	Host string
	Port int

	mu       sync.Mutex
	msgs     []Message
	tempFail map[string]bool
	permFail map[string]bool
	user     string
	pass     string
	srv      *smtp.Server
	ln       net.Listener
	hold     func([]byte) bool // messages to hold in DATA until Release
	held     chan struct{}
	release  chan bool
}

// Hold makes the server keep a message for which match returns true waiting in
// DATA (the sender sees no answer) until Release. Held reports each one.
func (s *Server) Hold(match func(data []byte) bool) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hold, s.held, s.release = match, make(chan struct{}, 16), make(chan bool, 16)
	return s.held
}

// Release answers a held message: accepted (true) or refused (false).
func (s *Server) Release(accept bool) { s.release <- accept }

// Start starts a server on 127.0.0.1; with user set it requires AUTH PLAIN.
func Start(user, pass string) (*Server, error) { return StartAt("127.0.0.1:0", user, pass) }

// New starts a server without authentication for t, failing t if it cannot,
// and closes it when t ends.
func New(t testing.TB) *Server {
	t.Helper()
	s, err := Start("", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// URL is the smtp:// URL a mailer reaches the server at (no TLS, no AUTH).
func (s *Server) URL() string { return "smtp://" + s.Addr + "?tls=none" }

// StartAt starts a server on addr (a stopped server's Addr starts it again).
func StartAt(addr, user, pass string) (*Server, error) {
	s := &Server{tempFail: map[string]bool{}, permFail: map[string]bool{}, user: user, pass: pass}
	srv := smtp.NewServer(s)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.MaxMessageBytes = 10 << 20
	srv.ErrorLog = log.New(io.Discard, "", 0)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	go func() { _ = srv.Serve(ln) }()
	s.srv, s.ln = srv, ln
	s.Addr = ln.Addr().String()
	host, port, _ := net.SplitHostPort(s.Addr)
	s.Host = host
	s.Port, _ = strconv.Atoi(port)
	return s, nil
}

// Close stops the server. The listener is closed here too: go-smtp closes only
// listeners its Serve has begun with.
func (s *Server) Close() {
	_ = s.ln.Close()
	_ = s.srv.Close()
}

// Messages returns the accepted messages.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// RefuseTemporarily makes RCPT TO of addr answer 451 (on) or accept again (off).
func (s *Server) RefuseTemporarily(addr string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tempFail[addr] = on
}

// RefusePermanently makes RCPT TO of addr answer 550.
func (s *Server) RefusePermanently(addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.permFail[addr] = true
}

// NewSession implements smtp.Backend.
func (s *Server) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }

type session struct {
	s      *Server
	authed bool
	cur    Message
}

func (x *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (x *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != x.s.user || password != x.s.pass {
			return smtp.ErrAuthFailed
		}
		x.authed = true
		return nil
	}), nil
}

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	if x.s.user != "" && !x.authed {
		return smtp.ErrAuthRequired
	}
	x.cur = Message{From: from}
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.s.mu.Lock()
	temp, perm := x.s.tempFail[to], x.s.permFail[to]
	x.s.mu.Unlock()
	switch {
	case temp:
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try again later"}
	case perm:
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}
	}
	x.cur.To = append(x.cur.To, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	x.cur.Data = b
	x.s.mu.Lock()
	hold, held, release := x.s.hold, x.s.held, x.s.release
	x.s.mu.Unlock()
	if hold != nil && hold(b) {
		held <- struct{}{}
		if !<-release {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Held and refused"}
		}
	}
	x.s.mu.Lock()
	x.s.msgs = append(x.s.msgs, x.cur)
	x.s.mu.Unlock()
	return nil
}

func (x *session) Reset()        { x.cur = Message{} }
func (x *session) Logout() error { return nil }

// Decoded is a message as a reader sees it.
type Decoded struct {
	Header netmail.Header
	// Subject is the Subject header, decoded (RFC 2047).
	Subject string
	// Body is every text part in order, decoded from its transfer encoding.
	Body string
}

// Decode parses a message: its header and its text parts, whatever their
// transfer encoding (7bit, 8bit, quoted-printable or base64).
func (m Message) Decode() (*Decoded, error) {
	msg, err := netmail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		return nil, err
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	if err := decodePart(&b, textproto.MIMEHeader(msg.Header), msg.Body); err != nil {
		return nil, err
	}
	return &Decoded{Header: msg.Header, Subject: subject, Body: b.String()}, nil
}

func decodePart(b *strings.Builder, h textproto.MIMEHeader, r io.Reader) error {
	mt, params := "text/plain", map[string]string(nil)
	if ct := h.Get("Content-Type"); ct != "" {
		var err error
		if mt, params, err = mime.ParseMediaType(ct); err != nil {
			return err
		}
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(r, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if err := decodePart(b, p.Header, p); err != nil {
				return err
			}
		}
	}
	switch strings.ToLower(h.Get("Content-Transfer-Encoding")) {
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, r)
	}
	_, err := io.Copy(b, r)
	return err
}
