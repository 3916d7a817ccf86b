package delivery

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
)

// Links builds the links mails to subscribers carry, and signs their manage
// tokens.
type Links struct {
	// PublicURL starts every link, e.g. https://papers.example.
	PublicURL string
	// TokenKey (32 random bytes, shared by the replicas) derives manage tokens.
	TokenKey []byte
}

// ManageToken derives a subscription's manage token from the token key, so that
// digests can carry it while the database holds only its hash. It is the same in
// every mail for the subscription's life: nothing changes the generation any
// more (subscriptions stored before may hold a generation above 0).
func (l Links) ManageToken(id string, generation int) string {
	mac := hmac.New(sha256.New, l.TokenKey)
	_, _ = fmt.Fprintf(mac, "manage|%s|%d", id, generation)
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// URL is the link to path carrying token.
func (l Links) URL(path, token string) string {
	return strings.TrimRight(l.PublicURL, "/") + path + "?token=" + url.QueryEscape(token)
}

// Host is the public URL's host name, which mails' message ids end with
// (localhost without one).
func (l Links) Host() string {
	if u, err := url.Parse(l.PublicURL); err == nil && u.Hostname() != "" {
		return u.Hostname()
	}
	return "localhost"
}
