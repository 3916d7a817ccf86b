package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"strings"
	"testing"
	"time"
)

// secretEnv is an environment that holds a secret in every setting that can
// carry one; secrets are the values that must never be printed.
func secretEnv(t *testing.T) (env map[string]string, secrets map[string]string) {
	t.Helper()
	secrets = map[string]string{
		"admin token":      "admin-" + rand.Text(),
		"JWT secret":       "jwt-secret-that-is-long-enough-" + rand.Text(),
		"SMTP password":    "smtp-pw-" + rand.Text(),
		"MongoDB password": "mongo-pw-" + rand.Text(),
	}
	env = map[string]string{
		"PAPERD_ADMIN_TOKENS": "other-token," + secrets["admin token"],
		"PAPERD_JWT_SECRET":   secrets["JWT secret"],
		"SMTP_URL":            "smtp://mailer:" + secrets["SMTP password"] + "@127.0.0.1:1?tls=none",
		"MONGODB_URI":         "mongodb://paperd:" + secrets["MongoDB password"] + "@127.0.0.1:1/?serverSelectionTimeoutMS=500&connectTimeoutMS=500",
		"PAPERD_GRPC_ADDR":    "127.0.0.1:0",
		"PAPERD_HTTP_ADDR":    "127.0.0.1:0",
		"PAPERD_DATA_DIR":     t.TempDir(),
		"PAPERD_LOG_LEVEL":    "debug",
	}
	return env, secrets
}

// noSecrets fails the test if out names any secret.
func noSecrets(t *testing.T, what, out string, secrets map[string]string) {
	t.Helper()
	for name, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("%s shows the %s:\n%s", what, name, out)
		}
	}
}

// TestConfigErrorsDoNotEchoSecrets starts paperd with secrets in every setting
// that takes one and a mistake elsewhere, and checks that neither the error
// paperd exits with nor anything it logged on the way shows a secret: bad
// settings, a MongoDB URI that does not parse, one whose server does not
// answer (logged retries at debug level), and SMTP URLs that are refused.
func TestConfigErrorsDoNotEchoSecrets(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		args []string
		env  map[string]string // changes to secretEnv
		want string            // in the error
		log  string            // in the output, if set
		wait time.Duration     // how long paperd may try
	}{
		{name: "bad settings", env: map[string]string{"PAPERD_LOG_FORMAT": "xml"}, args: []string{"--sync-interval=soon"},
			want: "sync-interval"},
		{name: "MongoDB URI that does not parse", env: map[string]string{"MONGODB_URI": "mongodb://paperd:{MongoDB password}@127.0.0.1:99999/"},
			want: "MongoDB"},
		{name: "MongoDB server that does not answer", want: "create indexes", log: "database not ready; retrying", wait: 3 * time.Second},
		{name: "JSON logs of a MongoDB server that does not answer", env: map[string]string{"PAPERD_LOG_FORMAT": "json"},
			want: "create indexes", log: "database not ready; retrying", wait: 3 * time.Second},
		{name: "SMTP URL of another scheme", env: map[string]string{"MONGODB_URI": "", "SMTP_URL": "ftp://mailer:{SMTP password}@127.0.0.1:1"},
			want: "mailer:xxxxx@127.0.0.1"},
		{name: "SMTP URL with a bad option", env: map[string]string{"MONGODB_URI": "", "SMTP_URL": "smtp://mailer:{SMTP password}@127.0.0.1:1?tls=maybe"},
			want: "tls="},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			env, secrets := secretEnv(t)
			for k, v := range c.env {
				for name, s := range secrets {
					v = strings.ReplaceAll(v, "{"+name+"}", s)
				}
				env[k] = v
			}
			limit := 60 * time.Second
			if c.wait > 0 {
				limit = c.wait
			}
			ctx, cancel := context.WithTimeout(context.Background(), limit)
			defer cancel()
			var out bytes.Buffer
			err := run(ctx, c.args, func(k string) string { return env[k] }, &out)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("paperd exited with %v, want an error about %q; output:\n%s", err, c.want, out.String())
			}
			if c.log != "" && !strings.Contains(out.String(), c.log) {
				t.Errorf("the output lacks %q:\n%s", c.log, out.String())
			}
			// What main prints: "paperd: " and the error.
			noSecrets(t, "the error", "paperd: "+err.Error(), secrets)
			noSecrets(t, "the output", out.String(), secrets)
		})
	}
}

// TestHelpDoesNotEchoSecretsFromTheEnvironment: --help, and the usage printed
// after a mistyped flag, show each setting's default; a secret set in the
// environment must not show as one.
func TestHelpDoesNotEchoSecretsFromTheEnvironment(t *testing.T) {
	t.Parallel()
	env, secrets := secretEnv(t)
	for _, args := range [][]string{{"--help"}, {"--loglevel=debug"}} {
		var out bytes.Buffer
		err := run(context.Background(), args, func(k string) string { return env[k] }, &out)
		if err == nil || (args[0] == "--help") != errors.Is(err, flag.ErrHelp) {
			t.Fatalf("paperd %v: %v", args, err)
		}
		if !strings.Contains(out.String(), "PAPERD_JWT_SECRET") {
			t.Fatalf("paperd %v printed no usage:\n%s", args, out.String())
		}
		noSecrets(t, strings.Join(args, " "), out.String()+err.Error(), secrets)
	}
}
