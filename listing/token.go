package listing

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrInvalidToken is returned for a page token that was not issued by this catalog
// for the same query.
var ErrInvalidToken = errors.New("invalid page_token: it does not belong to this filter and order_by, or it was not issued by this server")

// Tokens issues and checks page tokens. A token holds the sort key of the last paper
// of a page, so the next page starts after it whatever was added in between; it is
// bound to the query it came from and signed with HMAC-SHA256, so tokens from other
// queries and forged tokens are refused.
type Tokens struct {
	key []byte
}

// NewTokens returns Tokens signing with key; replicas must share it.
func NewTokens(key []byte) *Tokens {
	return &Tokens{key: key}
}

type tokenBody struct {
	Query string `json:"q"`
	After Key    `json:"a"`
	Extra int64  `json:"x,omitempty"`
}

const macSize = 16

// Encode returns the token that continues query (a string that identifies the
// filter and order) after the paper with sort key after.
func (t *Tokens) Encode(query string, after Key) string {
	return t.EncodeExtra(query, after, 0)
}

// EncodeExtra is Encode with one more number carried in the token, such as the
// reference time a listing was computed at; DecodeExtra returns it.
func (t *Tokens) EncodeExtra(query string, after Key, extra int64) string {
	body, _ := json.Marshal(tokenBody{Query: digest(query), After: after, Extra: extra})
	return base64.RawURLEncoding.EncodeToString(append(body, t.mac(body)...))
}

// Decode checks a token against query and returns the key to continue after.
// Returns ErrInvalidToken for any token that Encode did not make for query.
func (t *Tokens) Decode(query, token string) (Key, error) {
	k, _, err := t.DecodeExtra(query, token)
	return k, err
}

// Resume checks the page token of a list call against the query it must
// belong to: it returns the key to continue after (nil for the first page,
// token "") and the number the token carries. o is the order the key must fit;
// nil skips that check, for callers that need the number to build the order.
// Every token that does not belong is ErrInvalidToken.
func (t *Tokens) Resume(query, token string, o *Order) (Key, int64, error) {
	if token == "" {
		return nil, 0, nil
	}
	after, extra, err := t.DecodeExtra(query, token)
	if err != nil || (o != nil && !o.Valid(after)) {
		return nil, 0, ErrInvalidToken
	}
	return after, extra, nil
}

// DecodeExtra is Decode that also returns the number EncodeExtra carried.
func (t *Tokens) DecodeExtra(query, token string) (Key, int64, error) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) <= macSize {
		return nil, 0, ErrInvalidToken
	}
	body, mac := raw[:len(raw)-macSize], raw[len(raw)-macSize:]
	if !hmac.Equal(mac, t.mac(body)) {
		return nil, 0, ErrInvalidToken
	}
	var tb tokenBody
	if err := json.Unmarshal(body, &tb); err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if tb.Query != digest(query) {
		return nil, 0, ErrInvalidToken
	}
	return tb.After, tb.Extra, nil
}

func (t *Tokens) mac(body []byte) []byte {
	h := hmac.New(sha256.New, t.key)
	h.Write(body)
	return h.Sum(nil)[:macSize]
}

func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}
