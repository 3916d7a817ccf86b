package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/papercatalog/papers/auth/authtest"
)

const testSecret = "0123456789abcdef0123456789abcdef"

func testClaims(sub string) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{"sub": sub, "aud": "papers", "iss": "https://id.example", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
}

func newUsers(t *testing.T, cfg UsersConfig) *Users {
	t.Helper()
	u, err := NewUsers(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.Close)
	return u
}

// TestUserTokensWithASecret: an HS256 token signed with the secret, unexpired,
// for the configured audience and issuer, names its subject; anything else is
// refused with a message that says what is wrong; a bearer token that is not
// a JWT (an admin token) is no user at all.
func TestUserTokensWithASecret(t *testing.T) {
	t.Parallel()
	u := newUsers(t, UsersConfig{Secret: testSecret, Audience: "papers", Issuer: "https://id.example"})
	if !u.Enabled() {
		t.Fatal("not enabled with a secret")
	}
	hs := func(c jwt.MapClaims) string {
		return authtest.Sign(t, jwt.SigningMethodHS256, []byte(testSecret), c, "")
	}
	without := func(claims ...string) jwt.MapClaims {
		c := testClaims("ada")
		for _, claim := range claims {
			delete(c, claim)
		}
		return c
	}
	with := func(claim string, v any) jwt.MapClaims {
		c := testClaims("ada")
		c[claim] = v
		return c
	}
	for _, c := range []struct {
		name, token string
		want        string // the subject, or the error's message
	}{
		{"a valid token", hs(testClaims("ada")), "ada"},
		{"expired", hs(with("exp", time.Now().Add(-time.Hour).Unix())), "invalid user token: expired"},
		{"expired within the leeway", hs(with("exp", time.Now().Add(-10*time.Second).Unix())), "ada"},
		{"not valid yet", hs(with("nbf", time.Now().Add(time.Hour).Unix())), "invalid user token: not valid yet"},
		{"without exp", hs(without("exp")), "invalid user token: the required claim exp is missing"},
		{"without iss", hs(without("iss")), "invalid user token: the required claim iss is missing"},
		{"without aud and iss", hs(without("aud", "iss")), "invalid user token: the required claims aud, iss are missing"},
		{"another audience", hs(with("aud", "other")), "invalid user token: wrong audience"},
		{"another issuer", hs(with("iss", "https://evil.example")), "invalid user token: wrong issuer"},
		{"another secret", authtest.Sign(t, jwt.SigningMethodHS256, []byte(strings.Repeat("x", 32)), testClaims("ada"), ""), "invalid user token: bad signature or algorithm"},
		{"HS512, an algorithm not configured", authtest.Sign(t, jwt.SigningMethodHS512, []byte(testSecret), testClaims("ada"), ""), "invalid user token: bad signature or algorithm"},
		{"unsigned", authtest.Sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, testClaims("ada"), ""), "invalid user token: bad signature or algorithm"},
		{"without sub", hs(without("sub")), "invalid user token: it has no usable sub claim"},
		{"a sub too long", hs(testClaims(strings.Repeat("a", 257))), "invalid user token: it has no usable sub claim"},
		{"three dots of garbage", "a.b.c", "invalid user token: malformed"},
	} {
		sub, ok, err := u.Subject(withAuthorization("Bearer " + c.token))
		var unauthenticated *UnauthenticatedError
		switch {
		case err == nil && (!ok || sub != c.want):
			t.Errorf("%s: subject %q, %v; want %q", c.name, sub, ok, c.want)
		case err != nil && (!errors.As(err, &unauthenticated) || err.Error() != c.want):
			t.Errorf("%s: %v; want %q", c.name, err, c.want)
		}
	}
	for name, ctx := range map[string]context.Context{"no token": context.Background(), "an admin token": withAuthorization("Bearer admin-token")} {
		if sub, ok, err := u.Subject(ctx); sub != "" || ok || err != nil {
			t.Errorf("%s: %q %v %v, want no user and no error", name, sub, ok, err)
		}
		if _, err := u.RequireSubject(ctx); err == nil || err.Error() != "this call needs a user token: authorization: Bearer <jwt>" {
			t.Errorf("%s, required: %v", name, err)
		}
	}
}

// TestUserTokensWithAJWKS: keys come from the set by key id, with the
// algorithms of the configuration; a token signed with a key of the right kind
// that is not in the set is refused.
func TestUserTokensWithAJWKS(t *testing.T) {
	t.Parallel()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	set, err := json.Marshal(map[string]any{"keys": []map[string]string{{"kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig", "alg": "ES256",
		"x": b64(key.X.FillBytes(make([]byte, 32))), "y": b64(key.Y.FillBytes(make([]byte, 32)))}}})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(file, set, 0o600); err != nil {
		t.Fatal(err)
	}
	u := newUsers(t, UsersConfig{JWKS: file})
	if sub, err := u.RequireSubject(withAuthorization("Bearer " + authtest.Sign(t, jwt.SigningMethodES256, key, testClaims("grace"), "k1"))); err != nil || sub != "grace" {
		t.Errorf("a token signed with the set's key: %q %v", sub, err)
	}
	if _, err := u.RequireSubject(withAuthorization("Bearer " + authtest.Sign(t, jwt.SigningMethodES256, other, testClaims("grace"), "k1"))); err == nil {
		t.Error("a token signed with another key passed")
	}
	if _, err := u.RequireSubject(withAuthorization("Bearer " + authtest.Sign(t, jwt.SigningMethodHS256, []byte(testSecret), testClaims("grace"), "k1"))); err == nil {
		t.Error("an HS256 token passed a JWKS configuration")
	}
}

// TestUsersConfiguration: a bad configuration stops at start; without one no
// user token is accepted, and the refusal says so.
func TestUsersConfiguration(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]UsersConfig{
		"a short secret":             {Secret: "short"},
		"both a secret and a JWKS":   {Secret: testSecret, JWKS: "jwks.json"},
		"a JWKS file that is absent": {JWKS: filepath.Join(t.TempDir(), "absent.json")},
	} {
		if _, err := NewUsers(context.Background(), cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	none := newUsers(t, UsersConfig{})
	if none.Enabled() {
		t.Error("enabled without a secret or JWKS")
	}
	tok := authtest.Sign(t, jwt.SigningMethodHS256, []byte(testSecret), testClaims("ada"), "")
	if _, _, err := none.Subject(withAuthorization("Bearer " + tok)); err == nil || !strings.Contains(err.Error(), "accepts no user tokens") {
		t.Errorf("a user token without a configuration: %v", err)
	}
	var nilUsers *Users
	if _, err := nilUsers.RequireSubject(withAuthorization("Bearer " + tok)); err == nil {
		t.Error("a nil *Users accepted a token")
	}
}
