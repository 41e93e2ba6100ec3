package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfigEnvFallbackAndFlagsWin(t *testing.T) {
	c, err := parseConfig("portreqd", []string{"--listen", "127.0.0.1:9000"}, env(map[string]string{
		"PORTREQ_LISTEN":                 ":1234",
		"PORTREQ_COUCHDB":                "http://admin:pw@127.0.0.1:5984",
		"PORTREQ_TOKEN_TTL":              "30m",
		"PORTREQ_PORT_ACTIVATION_CHARGE": "2.5",
		"PORTREQ_MAX_UPLOAD_BYTES":       "100",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.listen != "127.0.0.1:9000" || c.couchdb != "http://admin:pw@127.0.0.1:5984" || c.tokenTTL != 30*time.Minute ||
		c.portActivationCharge != 2.5 || c.maxUploadBytes != 100 {
		t.Errorf("config %+v", c)
	}
}

func TestConfigErrorsNameTheSetting(t *testing.T) {
	cases := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--data-dir", ""}, nil, "--data-dir"},
		{[]string{"--couchdb", "ftp://x"}, nil, "--couchdb must be an http"},
		{[]string{"--couchdb", "http://x", "--token-ttl", "-1s"}, nil, "--token-ttl"},
		{[]string{"--couchdb", "http://x", "--max-upload-bytes", "0"}, nil, "--max-upload-bytes"},
		{[]string{"--couchdb", "http://x", "--port-activation-charge", "-1"}, nil, "--port-activation-charge"},
		{[]string{"--completion-grace", "500ms"}, nil, "--completion-grace"},
		{[]string{"--account-cache-ttl", "0s"}, nil, "--account-cache-ttl"},
		{[]string{"--couchdb", "http://x", "--listen", "nope"}, nil, "--listen"},
		{[]string{"--couchdb", "http://x", "--log-format", "xml"}, nil, "--log-format"},
		{nil, map[string]string{"PORTREQ_TOKEN_TTL": "forever"}, "PORTREQ_TOKEN_TTL"},
		{[]string{"--couchdb", "http://x", "extra"}, nil, "unexpected argument"},
		{[]string{"--master-api-key", "x"}, nil, "--master-api-key must be at least 16"},
		{[]string{"--token-secret", "s"}, nil, "--token-secret must be at least 32 bytes"},
		{nil, map[string]string{"PORTREQ_TOKEN_SECRET": "short-secret"}, "--token-secret must be at least 32"},
		{[]string{"--max-numbers-per-request", "0"}, nil, "--max-numbers-per-request must be positive"},
		{[]string{"--login-rate", "0"}, nil, "--login-rate"},
	}
	for _, c := range cases {
		_, err := parseConfig("portreqd", c.args, env(c.env), io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("args %v env %v: error %v, want it to mention %q", c.args, c.env, err, c.want)
		}
	}
}

// pprof's cmdline would show the key and the secret; ours does not.
func TestRedactedArgs(t *testing.T) {
	got := redactedArgs([]string{"portreqd", "--master-api-key", "k-0123456789abcdef", "--token-secret=s3cr3t-0123456789abcdef0123456789ab",
		"-couchdb", "http://admin:pw@h:5984", "--listen", ":8000"})
	for _, secret := range []string{"k-0123456789abcdef", "s3cr3t", "admin:pw"} {
		if strings.Contains(got, secret) {
			t.Errorf("redactedArgs shows %q: %q", secret, got)
		}
	}
	if !strings.Contains(got, ":8000") || !strings.Contains(got, "--token-secret=REDACTED") {
		t.Errorf("redactedArgs = %q", got)
	}
}
