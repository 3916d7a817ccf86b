// Package authtest makes user tokens for tests of paperd's token checks.
package authtest

import (
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// Sign returns claims signed with key by method, with the key id kid in the
// header when it is not empty; it fails t if signing fails.
func Sign(t testing.TB, method jwt.SigningMethod, key any, claims jwt.MapClaims, kid string) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
