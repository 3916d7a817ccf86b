package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/papercatalog/papers/auth/authtest"
	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	"github.com/papercatalog/papers/server"
)

const jwtSecret = "a-test-secret-that-is-long-enough-for-hs256"

func userConfig(t *testing.T) server.Config {
	cfg := testConfig(t)
	cfg.JWT.Secret = jwtSecret
	cfg.JWT.Audience = "papers"
	cfg.JWT.Issuer = "https://id.example"
	return cfg
}

func claims(sub string) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{"sub": sub, "aud": "papers", "iss": "https://id.example", "iat": now.Unix(),
		"nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix()}
}

func userToken(t *testing.T, sub string) string {
	return authtest.Sign(t, jwt.SigningMethodHS256, []byte(jwtSecret), claims(sub), "")
}

func asUser(ctx context.Context, token string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}

func TestUpvotesCountEachUserOnceAndSurviveRestart(t *testing.T) {
	t.Parallel()
	cfg := userConfig(t)
	ts := startServer(t, cfg)
	ctx := testCtx(t)
	p := create(t, ts, 1)

	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for u := range 100 {
		tok := userToken(t, fmt.Sprintf("user-%d", u))
		for range 2 {
			wg.Go(func() {
				got, err := ts.client.UpvotePaper(asUser(ctx, tok), &catalogv1.UpvotePaperRequest{Name: p.GetName()})
				if err == nil && !got.GetViewerUpvoted() {
					err = fmt.Errorf("the response does not say the user upvoted")
				}
				errs <- err
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := ts.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: p.GetName()})
	if err != nil || got.GetUpvotes() != 100 || got.GetViewerUpvoted() {
		t.Fatalf("after 100 users upvoted twice: %d upvotes, viewer_upvoted %v (%v); want 100, false", got.GetUpvotes(), got.GetViewerUpvoted(), err)
	}
	mine, err := ts.client.GetPaper(asUser(ctx, userToken(t, "user-7")), &catalogv1.GetPaperRequest{Name: p.GetName()})
	if err != nil || !mine.GetViewerUpvoted() {
		t.Errorf("GetPaper with user-7's token: viewer_upvoted %v (%v)", mine.GetViewerUpvoted(), err)
	}
	other, err := ts.client.GetPaper(asUser(ctx, userToken(t, "someone-else")), &catalogv1.GetPaperRequest{Name: p.GetName()})
	if err != nil || other.GetViewerUpvoted() {
		t.Errorf("GetPaper with a non-voter's token: viewer_upvoted %v (%v)", other.GetViewerUpvoted(), err)
	}
	for range 2 {
		got, err := ts.client.RemovePaperUpvote(asUser(ctx, userToken(t, "user-7")), &catalogv1.RemovePaperUpvoteRequest{Name: p.GetName()})
		if err != nil || got.GetUpvotes() != 99 || got.GetViewerUpvoted() {
			t.Errorf("remove: %d upvotes, viewer_upvoted %v (%v); want 99, false", got.GetUpvotes(), got.GetViewerUpvoted(), err)
		}
	}
	list, err := ts.client.ListPapers(ctx, &catalogv1.ListPapersRequest{Filter: "upvotes = 99"})
	if err != nil || list.GetTotalSize() != 1 {
		t.Errorf("filter on the new count: %v %v", list.GetTotalSize(), err)
	}

	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	again := startServer(t, cfg)
	got, err = again.client.GetPaper(asUser(ctx, userToken(t, "user-8")), &catalogv1.GetPaperRequest{Name: p.GetName()})
	if err != nil || got.GetUpvotes() != 99 || !got.GetViewerUpvoted() {
		t.Errorf("after restart: %d upvotes, viewer_upvoted %v (%v); want 99, true", got.GetUpvotes(), got.GetViewerUpvoted(), err)
	}
	got, err = again.client.UpvotePaper(asUser(ctx, userToken(t, "user-8")), &catalogv1.UpvotePaperRequest{Name: p.GetName()})
	if err != nil || got.GetUpvotes() != 99 {
		t.Errorf("upvoting again after restart: %d (%v), want 99", got.GetUpvotes(), err)
	}
}

func TestBadUserTokensAreRefused(t *testing.T) {
	t.Parallel()
	ts := startServer(t, userConfig(t))
	ctx := testCtx(t)
	p := create(t, ts, 1)
	expired := claims("u")
	expired["exp"] = time.Now().Add(-time.Hour).Unix()
	early := claims("u")
	early["nbf"] = time.Now().Add(time.Hour).Unix()
	noExp := claims("u")
	delete(noExp, "exp")
	wrongAud := claims("u")
	wrongAud["aud"] = "someone-else"
	wrongIss := claims("u")
	wrongIss["iss"] = "https://evil.example"
	noSub := claims("")
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims("u")).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]string{
		"forged with another secret":  authtest.Sign(t, jwt.SigningMethodHS256, []byte("another-secret-that-is-also-long-enough"), claims("u"), ""),
		"expired":                     authtest.Sign(t, jwt.SigningMethodHS256, []byte(jwtSecret), expired, ""),
		"not valid yet":               authtest.Sign(t, jwt.SigningMethodHS256, []byte(jwtSecret), early, ""),
		"without exp":                 authtest.Sign(t, jwt.SigningMethodHS256, []byte(jwtSecret), noExp, ""),
		"wrong audience":              authtest.Sign(t, jwt.SigningMethodHS256, []byte(jwtSecret), wrongAud, ""),
		"wrong issuer":                authtest.Sign(t, jwt.SigningMethodHS256, []byte(jwtSecret), wrongIss, ""),
		"without sub":                 authtest.Sign(t, jwt.SigningMethodHS256, []byte(jwtSecret), noSub, ""),
		"alg none":                    none,
		"another algorithm (RS256)":   authtest.Sign(t, jwt.SigningMethodRS256, rsaKey, claims("u"), ""),
		"HS384 with the right secret": authtest.Sign(t, jwt.SigningMethodHS384, []byte(jwtSecret), claims("u"), ""),
		"garbage":                     "not.a.jwt",
	}
	for name, tok := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := ts.client.UpvotePaper(asUser(ctx, tok), &catalogv1.UpvotePaperRequest{Name: p.GetName()})
			wantCode(t, err, codes.Unauthenticated)
		})
	}
	_, err = ts.client.UpvotePaper(ctx, &catalogv1.UpvotePaperRequest{Name: p.GetName()})
	wantCode(t, err, codes.Unauthenticated)
	if r := ts.rest(t, "POST", "/v1/"+p.GetName()+":upvote", "", map[string]any{}); r.Status != 401 {
		t.Errorf("REST upvote without a token: %d", r.Status)
	}
	if r := ts.rest(t, "POST", "/v1/"+p.GetName()+":upvote", userToken(t, "rest-user"), map[string]any{}); r.Status != 200 || r.Body["upvotes"] != "1" || r.Body["viewer_upvoted"] != true {
		t.Errorf("REST upvote: %d %s", r.Status, r.Raw)
	}
	if r := ts.rest(t, "POST", "/v1/papers/2401.99999:upvote", userToken(t, "rest-user"), map[string]any{}); r.Status != 404 {
		t.Errorf("upvote of a missing paper: %d", r.Status)
	}
	got, _ := ts.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: p.GetName()})
	if got.GetUpvotes() != 1 {
		t.Errorf("refused tokens changed the count: %d, want 1", got.GetUpvotes())
	}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func TestJWKSKeys(t *testing.T) {
	t.Parallel()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecPub, err := ecKey.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	jwks := map[string]any{"keys": []map[string]string{
		{"kty": "RSA", "kid": "r1", "use": "sig", "alg": "RS256", "n": b64(rsaKey.N.Bytes()), "e": b64(big.NewInt(int64(rsaKey.E)).Bytes())},
		{"kty": "EC", "kid": "e1", "use": "sig", "crv": "P-256", "x": b64(ecPub[1:33]), "y": b64(ecPub[33:])},
	}}
	raw, _ := json.Marshal(jwks)
	file := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(file, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	cfg.JWT.JWKS = file
	ts := startServer(t, cfg)
	ctx := testCtx(t)
	p := create(t, ts, 1)

	// The same key set served over HTTP.
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(raw)
	}))
	defer web.Close()
	urlCfg := testConfig(t)
	urlCfg.JWT.JWKS = web.URL
	fromURL := startServer(t, urlCfg)
	up := create(t, fromURL, 1)
	if _, err := fromURL.client.UpvotePaper(asUser(ctx, authtest.Sign(t, jwt.SigningMethodES256, ecKey, claims("url-user"), "e1")),
		&catalogv1.UpvotePaperRequest{Name: up.GetName()}); err != nil {
		t.Errorf("upvote with a key from a JWKS URL: %v", err)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	tests := []struct {
		name  string
		token string
		code  codes.Code
	}{
		{"RS256 with a key of the set", authtest.Sign(t, jwt.SigningMethodRS256, rsaKey, claims("rsa-user"), "r1"), codes.OK},
		{"ES256 with a key of the set", authtest.Sign(t, jwt.SigningMethodES256, ecKey, claims("ec-user"), "e1"), codes.OK},
		{"RS256 with a key outside the set", authtest.Sign(t, jwt.SigningMethodRS256, other, claims("x"), "r1"), codes.Unauthenticated},
		{"ES256 token naming the RSA key", authtest.Sign(t, jwt.SigningMethodES256, ecKey, claims("x"), "r1"), codes.Unauthenticated},
		{"HS256 signed with the RSA modulus as secret", authtest.Sign(t, jwt.SigningMethodHS256, rsaKey.N.Bytes(), claims("x"), "r1"), codes.Unauthenticated},
		{"unknown kid", authtest.Sign(t, jwt.SigningMethodRS256, rsaKey, claims("x"), "nope"), codes.Unauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ts.client.UpvotePaper(asUser(ctx, tt.token), &catalogv1.UpvotePaperRequest{Name: p.GetName()})
			wantCode(t, err, tt.code)
		})
	}
	got, _ := ts.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: p.GetName()})
	if got.GetUpvotes() != 2 {
		t.Errorf("%d upvotes, want 2", got.GetUpvotes())
	}
}

func TestSecondReplicaSeesVotes(t *testing.T) {
	t.Parallel()
	first := startServer(t, userConfig(t))
	ctx := testCtx(t)
	p := create(t, first, 1)
	cfg := userConfig(t)
	cfg.MongoURI = first.DatabaseURI()
	second := startServer(t, cfg)
	if _, err := first.client.UpvotePaper(asUser(ctx, userToken(t, "u1")), &catalogv1.UpvotePaperRequest{Name: p.GetName()}); err != nil {
		t.Fatal(err)
	}
	if _, err := second.client.UpvotePaper(asUser(ctx, userToken(t, "u2")), &catalogv1.UpvotePaperRequest{Name: p.GetName()}); err != nil {
		t.Fatal(err)
	}
	for _, ts := range []*testServer{first, second} {
		eventually(t, "both replicas counting 2 upvotes", func() bool {
			got, err := ts.client.GetPaper(asUser(ctx, userToken(t, "u1")), &catalogv1.GetPaperRequest{Name: p.GetName()})
			return err == nil && got.GetUpvotes() == 2 && got.GetViewerUpvoted()
		})
	}
	if _, err := second.client.RemovePaperUpvote(asUser(ctx, userToken(t, "u1")), &catalogv1.RemovePaperUpvoteRequest{Name: p.GetName()}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the first replica seeing the removal", func() bool {
		got, err := first.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: p.GetName()})
		return err == nil && got.GetUpvotes() == 1
	})
}
