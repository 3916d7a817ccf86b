package server_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/papercatalog/papers/auth/authtest"
	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
)

// TestUserTokenMissingClaimIsNamed: a token without a claim the server requires
// is refused with a message that names that claim (it used to say exp whatever
// was missing).
func TestUserTokenMissingClaimIsNamed(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(map[string]any{"keys": []map[string]string{
		{"kty": "RSA", "kid": "r1", "use": "sig", "alg": "RS256", "n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes())},
	}})
	file := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(file, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	cfg.JWT.JWKS = file
	cfg.JWT.Audience = "papers"
	cfg.JWT.Issuer = "https://id.example"
	ts := startServer(t, cfg)
	ctx := testCtx(t)
	p := create(t, ts, 1)
	without := func(names ...string) jwt.MapClaims {
		c := claims("u")
		for _, n := range names {
			delete(c, n)
		}
		return c
	}
	emptyAud := claims("u")
	emptyAud["aud"] = []string{}
	tests := []struct {
		name   string
		claims jwt.MapClaims
		want   string
	}{
		{"without aud", without("aud"), "the required claim aud is missing"},
		{"with an empty aud list", emptyAud, "the required claim aud is missing"},
		{"without exp", without("exp"), "the required claim exp is missing"},
		{"without iss", without("iss"), "the required claim iss is missing"},
		{"without aud and iss", without("aud", "iss"), "the required claims aud, iss are missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ts.client.UpvotePaper(asUser(ctx, authtest.Sign(t, jwt.SigningMethodRS256, key, tt.claims, "r1")),
				&catalogv1.UpvotePaperRequest{Name: p.GetName()})
			if status.Code(err) != codes.Unauthenticated || !strings.Contains(status.Convert(err).Message(), tt.want) {
				t.Errorf("got %v, want UNAUTHENTICATED saying %q", err, tt.want)
			}
		})
	}
}
