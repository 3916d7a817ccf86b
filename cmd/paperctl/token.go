package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var userTokenCommand = &command{
	name:    "user-token",
	summary: "make a user token (a JWT) for upvotes, signed with paperd's HS256 secret",
	about: `Prints a user token for --user: an HS256 JWT with the claims paperd checks
(sub, exp, and aud and iss when paperd requires them), signed with the secret
paperd has in PAPERD_JWT_SECRET. It reads the same environment variables as
paperd (PAPERD_JWT_SECRET, PAPERD_JWT_AUDIENCE, PAPERD_JWT_ISSUER), so a shell
that runs both needs no flags but --user; prefer the environment to --secret,
which other users of the machine can see in the process list.

For trying upvotes and for tests: in production, user tokens come from your
identity provider (paperd's --jwks).`,
	examples: `  export PAPERD_JWT_SECRET=$(head -c 32 /dev/urandom | base64)   # paperd must have the same
  TOKEN=$(paperctl user-token --user alice)
  curl -s -X POST localhost:8080/v1/papers/0704.0001:upvote -H "authorization: Bearer $TOKEN"
  paperctl user-token --user bob --ttl 1h --audience papers --issuer https://id.example`,
	flags: func(fs *flag.FlagSet, o *options) {
		fs.StringVar(&o.user, "user", "", "the user, the token's sub claim (required)")
		fs.StringVar(&o.secret, "secret", os.Getenv("PAPERD_JWT_SECRET"), "HS256 `secret`, 32 bytes or more (env PAPERD_JWT_SECRET)")
		fs.StringVar(&o.audience, "audience", os.Getenv("PAPERD_JWT_AUDIENCE"), "the aud claim, if paperd requires one (env PAPERD_JWT_AUDIENCE)")
		fs.StringVar(&o.issuer, "issuer", os.Getenv("PAPERD_JWT_ISSUER"), "the iss claim, if paperd requires one (env PAPERD_JWT_ISSUER)")
		fs.DurationVar(&o.ttl, "ttl", 24*time.Hour, "how long the token is valid")
	},
	run: userTokenCmd,
}

func userTokenCmd(_ context.Context, std streams, o *options, pos []string) error {
	switch {
	case len(pos) != 0:
		return fmt.Errorf("%w: user-token takes no arguments (the user is --user)", errUsage)
	case o.user == "" || len(o.user) > 256:
		return fmt.Errorf("%w: --user must name the user (1 to 256 bytes)", errUsage)
	case o.secret == "":
		return fmt.Errorf("%w: no secret: set PAPERD_JWT_SECRET (as for paperd) or --secret", errUsage)
	case len(o.secret) < 32:
		return fmt.Errorf("%w: the secret must be at least 32 bytes, as paperd requires", errUsage)
	case o.ttl <= 0:
		return fmt.Errorf("%w: --ttl must be positive", errUsage)
	}
	tok, err := userToken(o.secret, o.user, o.audience, o.issuer, time.Now(), o.ttl)
	if err != nil {
		return err
	}
	_, _ = fmt.Fprintln(std.stdout, tok)
	return nil
}

// userToken signs an HS256 JWT for user, valid from now for ttl, with aud and iss
// when they are not empty.
func userToken(secret, user, audience, issuer string, now time.Time, ttl time.Duration) (string, error) {
	claims := jwt.RegisteredClaims{
		Subject:   user,
		Issuer:    issuer,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}
	if audience != "" {
		claims.Audience = jwt.ClaimStrings{audience}
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
	if err != nil {
		return "", fmt.Errorf("sign the token: %w", err)
	}
	return tok, nil
}
