package service

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc/codes"
)

// UsersConfig says how user tokens (JWTs) are verified. Set Secret (HS256) or JWKS
// (a file path or an http(s) URL of a JSON Web Key Set with RSA or P-256 keys:
// RS256 or ES256), not both. The algorithm comes from this configuration, never
// from the token.
type UsersConfig struct {
	Secret   string
	JWKS     string
	Audience string
	Issuer   string
}

// Users verifies user tokens and returns their subject.
type Users struct {
	cfg     UsersConfig
	methods []string

	mu        sync.RWMutex
	keys      map[string]crypto.PublicKey // by kid
	lastFetch time.Time
}

// NewUsers returns a verifier for cfg. It loads the JWKS now, so a bad key set
// stops the server at start rather than refusing every user later.
func NewUsers(ctx context.Context, cfg UsersConfig) (*Users, error) {
	u := &Users{cfg: cfg}
	switch {
	case cfg.Secret != "" && cfg.JWKS != "":
		return nil, errors.New("set either a JWT secret (HS256) or a JWKS (RS256/ES256), not both")
	case cfg.Secret != "":
		if len(cfg.Secret) < 32 {
			return nil, errors.New("the JWT secret must be at least 32 bytes")
		}
		u.methods = []string{jwt.SigningMethodHS256.Alg()}
	case cfg.JWKS != "":
		u.methods = []string{jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg()}
		if err := u.fetch(ctx); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// Enabled reports whether user tokens can be verified at all.
func (u *Users) Enabled() bool { return u != nil && len(u.methods) > 0 }

// Subject returns the `sub` of the user token in ctx's authorization metadata.
// Without a token it returns "" and ok false; with a bad one, an UNAUTHENTICATED
// error that says what is wrong.
func (u *Users) Subject(ctx context.Context) (sub string, ok bool, err error) {
	tok, present := bearer(ctx)
	if !present || strings.Count(tok, ".") != 2 {
		return "", false, nil
	}
	if !u.Enabled() {
		return "", false, errorf(codes.Unauthenticated, "this server accepts no user tokens (no JWT secret or JWKS configured)")
	}
	opts := []jwt.ParserOption{jwt.WithValidMethods(u.methods), jwt.WithExpirationRequired(), jwt.WithLeeway(30 * time.Second)}
	if u.cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(u.cfg.Audience))
	}
	if u.cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(u.cfg.Issuer))
	}
	t, err := jwt.Parse(tok, u.key, opts...)
	if err != nil {
		return "", false, errorf(codes.Unauthenticated, "invalid user token: %s", tokenProblem(err))
	}
	sub, err = t.Claims.GetSubject()
	if err != nil || sub == "" || len(sub) > 256 {
		return "", false, errorf(codes.Unauthenticated, "invalid user token: it has no usable sub claim")
	}
	return sub, true, nil
}

// RequireSubject is Subject for calls that need a user.
func (u *Users) RequireSubject(ctx context.Context) (string, error) {
	sub, ok, err := u.Subject(ctx)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", errorf(codes.Unauthenticated, "this call needs a user token: authorization: Bearer <jwt>")
	}
	return sub, nil
}

// tokenProblem names what is wrong with a token without echoing it.
func tokenProblem(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "not valid yet"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "a required claim (exp) is missing"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "wrong audience"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "wrong issuer"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return "bad signature or algorithm"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed"
	}
	return "not accepted"
}

func (u *Users) key(t *jwt.Token) (any, error) {
	if u.cfg.Secret != "" {
		return []byte(u.cfg.Secret), nil
	}
	kid, _ := t.Header["kid"].(string)
	k := u.lookup(kid)
	if k == nil {
		// The issuer may have rotated its keys: fetch the set again, at most once
		// a minute.
		u.mu.RLock()
		stale := time.Since(u.lastFetch) > time.Minute
		u.mu.RUnlock()
		if stale {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = u.fetch(ctx)
			cancel()
			k = u.lookup(kid)
		}
	}
	switch k.(type) {
	case *rsa.PublicKey:
		if t.Method.Alg() == jwt.SigningMethodRS256.Alg() {
			return k, nil
		}
	case *ecdsa.PublicKey:
		if t.Method.Alg() == jwt.SigningMethodES256.Alg() {
			return k, nil
		}
	}
	return nil, jwt.ErrTokenUnverifiable
}

func (u *Users) lookup(kid string) crypto.PublicKey {
	u.mu.RLock()
	defer u.mu.RUnlock()
	if k, ok := u.keys[kid]; ok {
		return k
	}
	if kid == "" && len(u.keys) == 1 {
		for _, k := range u.keys {
			return k
		}
	}
	return nil
}

// fetch loads the JWKS from its file or URL.
func (u *Users) fetch(ctx context.Context) error {
	var raw []byte
	var err error
	if strings.HasPrefix(u.cfg.JWKS, "https://") || strings.HasPrefix(u.cfg.JWKS, "http://") {
		raw, err = fetchURL(ctx, u.cfg.JWKS)
	} else {
		raw, err = os.ReadFile(u.cfg.JWKS)
	}
	u.mu.Lock()
	u.lastFetch = time.Now()
	u.mu.Unlock()
	if err != nil {
		return fmt.Errorf("read JWKS: %w", err)
	}
	keys, err := parseJWKS(raw)
	if err != nil {
		return err
	}
	u.mu.Lock()
	u.keys = keys
	u.mu.Unlock()
	return nil
}

func fetchURL(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 1<<20))
}

// parseJWKS reads the RSA and P-256 keys of a JSON Web Key Set (RFC 7517); other
// keys are skipped.
func parseJWKS(raw []byte) (map[string]crypto.PublicKey, error) {
	var set struct {
		Keys []struct {
			Kty string `json:"kty"`
			Kid string `json:"kid"`
			Use string `json:"use"`
			Crv string `json:"crv"`
			N   string `json:"n"`
			E   string `json:"e"`
			X   string `json:"x"`
			Y   string `json:"y"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(raw, &set); err != nil {
		return nil, fmt.Errorf("parse JWKS: %w", err)
	}
	keys := map[string]crypto.PublicKey{}
	b64 := base64.RawURLEncoding
	for _, k := range set.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		switch k.Kty {
		case "RSA":
			n, err1 := b64.DecodeString(k.N)
			e, err2 := b64.DecodeString(k.E)
			if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 {
				return nil, fmt.Errorf("JWKS key %q: bad RSA modulus or exponent", k.Kid)
			}
			pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
			if pub.N.BitLen() < 2048 {
				return nil, fmt.Errorf("JWKS key %q: RSA keys must have at least 2048 bits", k.Kid)
			}
			keys[k.Kid] = pub
		case "EC":
			if k.Crv != "P-256" {
				continue
			}
			x, err1 := b64.DecodeString(k.X)
			y, err2 := b64.DecodeString(k.Y)
			if err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 {
				return nil, fmt.Errorf("JWKS key %q: bad P-256 point", k.Kid)
			}
			pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
			if err != nil {
				return nil, fmt.Errorf("JWKS key %q: %w", k.Kid, err)
			}
			keys[k.Kid] = pub
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("the JWKS has no RSA or P-256 signing key")
	}
	return keys, nil
}
