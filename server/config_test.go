package server

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestREADMEConfigurationTableMatchesTheFlags reads the configuration table of
// README.md: it lists every setting once, each with its flag's environment
// variable, and the default the flag has (as the setting reads it: 600/1m is
// 600/1m0s); a setting without a default may describe what empty means instead.
func TestREADMEConfigurationTableMatchesTheFlags(t *testing.T) {
	t.Parallel()
	f, err := os.Open(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	type row struct{ env, def string }
	readme := map[string]row{}
	rowRE := regexp.MustCompile("^\\| `([A-Z_]+)` \\| `--([a-z0-9-]+)` \\| ([^|]*) \\|")
	in := false
	for sc := bufio.NewScanner(f); sc.Scan(); {
		line := sc.Text()
		switch {
		case line == "## Configuration":
			in = true
		case in && strings.HasPrefix(line, "## "):
			in = false
		case in:
			if m := rowRE.FindStringSubmatch(line); m != nil {
				if _, dup := readme[m[2]]; dup {
					t.Errorf("README lists --%s twice", m[2])
				}
				readme[m[2]] = row{env: m[1], def: strings.TrimSpace(m[3])}
			}
		}
	}
	var c Config
	settings := c.settings()
	if len(readme) < len(settings)/2 {
		t.Fatalf("found %d rows in README's configuration table, for %d settings", len(readme), len(settings))
	}
	for i, s := range settings {
		r, ok := readme[s.flag]
		delete(readme, s.flag)
		switch {
		case !ok:
			t.Errorf("README's configuration table lacks --%s", s.flag)
		case r.env != s.env:
			t.Errorf("README gives --%s the variable %s; the flag reads %s", s.flag, r.env, s.env)
		case s.def != "" && !strings.HasPrefix(r.def, "`"):
			t.Errorf("README gives --%s no default; the flag's is %q", s.flag, s.def)
		case s.def != "":
			var fromREADME, fromFlag Config
			errR, errF := fromREADME.settings()[i].parse(strings.Trim(r.def, "`")), fromFlag.settings()[i].parse(s.def)
			if errR != nil || errF != nil || !reflect.DeepEqual(fromREADME, fromFlag) {
				t.Errorf("README gives --%s the default %s; the flag's is %q (%v, %v)", s.flag, r.def, s.def, errR, errF)
			}
		case s.def == "" && strings.HasPrefix(r.def, "`"):
			t.Errorf("README gives --%s the default %s; the flag has none", s.flag, r.def)
		}
	}
	for flag := range readme {
		t.Errorf("README lists --%s, which is no flag", flag)
	}
}

// TestParseConfig: flags win over the environment, which wins over defaults;
// every refused value is named in one error.
func TestParseConfig(t *testing.T) {
	t.Parallel()
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("# admins\n file-token \n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"PAPERD_SYNC_INTERVAL": "soon", "PAPERD_DIGEST_RETRY": "90s", "PAPERD_ADMIN_TOKENS": "a, b,",
		"PAPERD_ADMIN_TOKENS_FILE": tokens, "PAPERD_CORS_ORIGINS": "*", "PAPERD_SEARCH_CONCURRENCY": "3", "PAPERD_UPVOTE_RATE_LIMIT": "off"}
	c, err := ParseConfig([]string{"--sync-interval=2s", "--arxiv-page-size=50"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.SyncInterval != 2*time.Second || c.DigestRetry != 90*time.Second || c.RequestTimeout != 30*time.Second ||
		c.Arxiv.PageSize != 50 || c.Arxiv.Backfill != 72*time.Hour || c.SearchLimits.Concurrent != 3 || c.SearchLimits.MaxExpansions != 1000 ||
		!c.UpvoteRateLimit.Off || c.WriteRateLimit != DefaultWriteRateLimit || c.LogFormat != "text" || c.GRPCAddr != ":9090" ||
		strings.Join(c.AdminTokens, " ") != "a b file-token" || strings.Join(c.CORSOrigins, " ") != "*" {
		t.Errorf("config: %+v", c)
	}

	_, err = ParseConfig([]string{"--shutdown-timeout=-1s", "--log-level=loud", "--otlp-endpoint=ftp://x", "--cors-origins=https://a.example,ftp://b",
		"--write-rate-limit=lots", "--search-concurrency=0", "--arxiv-backfill=-1h", "--arxiv-page-size=big", "--otlp-protocol=udp"},
		func(string) string { return "" }, io.Discard)
	for _, want := range []string{
		`shutdown-timeout: "-1s" is not a positive duration such as 20s`,
		`log-level: "loud" is not debug, info, warn or error`,
		`otlp-endpoint: "ftp://x" is not a URL such as http://localhost:4318`,
		`otlp-protocol: "udp" is neither http/protobuf nor grpc`,
		`cors-origins: "ftp://b" is not an origin such as https://app.example`,
		`write-rate-limit: "lots" is neither off nor N/PERIOD`,
		`search-concurrency: "0" is not a positive number`,
		`arxiv-backfill: "-1h" is not a duration such as 1h`,
		`arxiv-page-size: "big" is not a number`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("the error lacks %q: %v", want, err)
		}
	}
	if err != nil && strings.Contains(err.Error(), "a.example") {
		t.Errorf("a good origin is refused: %v", err)
	}
}
