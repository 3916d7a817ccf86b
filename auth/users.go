package auth

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/papercatalog/papers/reason"
)

// UsersConfig says how user tokens (JWTs) are verified. Set Secret (HS256) or JWKS
// (a file path or an http(s) URL of a JSON Web Key Set with RSA or P-256 keys:
// RS256 or ES256), not both. The algorithms come from this configuration, never
// from the token; keys come from the set by the token's key id.
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
	keys    jwt.Keyfunc
	stop    context.CancelFunc
}

// NewUsers returns a verifier for cfg. It loads the JWKS now, so a bad key set
// stops the server at start rather than refusing every user later; a JWKS URL is
// refreshed in the background (and on an unknown key id) until Close.
func NewUsers(ctx context.Context, cfg UsersConfig) (*Users, error) {
	u := &Users{cfg: cfg, stop: func() {}}
	switch {
	case cfg.Secret != "" && cfg.JWKS != "":
		return nil, errors.New("set either a JWT secret (HS256) or a JWKS (RS256/ES256), not both")
	case cfg.Secret != "":
		if len(cfg.Secret) < 32 {
			return nil, errors.New("the JWT secret must be at least 32 bytes")
		}
		u.methods = []string{jwt.SigningMethodHS256.Alg()}
		secret := []byte(cfg.Secret)
		u.keys = func(*jwt.Token) (any, error) { return secret, nil }
	case cfg.JWKS != "":
		u.methods = []string{jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg()}
		var k keyfunc.Keyfunc
		var err error
		if strings.HasPrefix(cfg.JWKS, "https://") || strings.HasPrefix(cfg.JWKS, "http://") {
			var refreshCtx context.Context
			refreshCtx, u.stop = context.WithCancel(context.WithoutCancel(ctx))
			k, err = keyfunc.NewDefaultCtx(refreshCtx, []string{cfg.JWKS})
		} else {
			var raw []byte
			if raw, err = os.ReadFile(cfg.JWKS); err == nil {
				k, err = keyfunc.NewJWKSetJSON(raw)
			}
		}
		if err != nil {
			u.stop()
			return nil, fmt.Errorf("read JWKS %s: %w", cfg.JWKS, err)
		}
		u.keys = k.Keyfunc
	}
	return u, nil
}

// Close stops refreshing a JWKS URL.
func (u *Users) Close() { u.stop() }

// Enabled reports whether user tokens can be verified at all.
func (u *Users) Enabled() bool { return u != nil && len(u.methods) > 0 }

// Subject returns the `sub` of the user token in ctx's authorization metadata.
// Without a token it returns "" and ok false; with a bad one, an
// *UnauthenticatedError that says what is wrong.
func (u *Users) Subject(ctx context.Context) (sub string, ok bool, err error) {
	tok, present := bearer(ctx)
	if !present || strings.Count(tok, ".") != 2 {
		return "", false, nil
	}
	if !u.Enabled() {
		return "", false, &UnauthenticatedError{Reason: reason.UserTokensOff, Message: "this server accepts no user tokens (no JWT secret or JWKS configured)"}
	}
	opts := []jwt.ParserOption{jwt.WithValidMethods(u.methods), jwt.WithExpirationRequired(), jwt.WithLeeway(30 * time.Second)}
	if u.cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(u.cfg.Audience))
	}
	if u.cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(u.cfg.Issuer))
	}
	t, err := jwt.Parse(tok, u.keys, opts...)
	if err != nil {
		return "", false, &UnauthenticatedError{Reason: reason.UserTokenInvalid, Message: "invalid user token: " + u.tokenProblem(t, err)}
	}
	sub, err = t.Claims.GetSubject()
	if err != nil || sub == "" || len(sub) > 256 {
		return "", false, &UnauthenticatedError{Reason: reason.UserTokenInvalid, Message: "invalid user token: it has no usable sub claim"}
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
		return "", &UnauthenticatedError{Reason: reason.UserTokenRequired, Message: "this call needs a user token: authorization: Bearer <jwt>"}
	}
	return sub, nil
}

// tokenProblem names what is wrong with a token t (nil when it could not be
// parsed) without echoing it.
func (u *Users) tokenProblem(t *jwt.Token, err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return u.missingClaims(t)
	case errors.Is(err, jwt.ErrTokenExpired):
		return "expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "not valid yet"
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

// missingClaims names the claims this server requires that t lacks.
func (u *Users) missingClaims(t *jwt.Token) string {
	var claims jwt.MapClaims
	if t != nil {
		claims, _ = t.Claims.(jwt.MapClaims)
	}
	required := []string{"exp"}
	if u.cfg.Audience != "" {
		required = append(required, "aud")
	}
	if u.cfg.Issuer != "" {
		required = append(required, "iss")
	}
	var missing []string
	for _, c := range required {
		if v, ok := claims[c]; !ok || v == nil || v == "" {
			missing = append(missing, c)
		} else if list, ok := v.([]any); ok && len(list) == 0 {
			missing = append(missing, c)
		}
	}
	switch len(missing) {
	case 0: // not expected: the parser found one missing
		return "a required claim (" + strings.Join(required, ", ") + ") is missing"
	case 1:
		return "the required claim " + missing[0] + " is missing"
	}
	return "the required claims " + strings.Join(missing, ", ") + " are missing"
}
