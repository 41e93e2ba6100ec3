// Package deploy holds the container images and checks the deployment files:
// without Docker they must at least parse and point at things that exist;
// with it (-tags docker) TestComposeUp runs the compose stack.
package deploy

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

type service struct {
	Image string `yaml:"image"`
	Build struct {
		Context    string            `yaml:"context"`
		Dockerfile string            `yaml:"dockerfile"`
		Args       map[string]string `yaml:"args"`
	} `yaml:"build"`
	Environment map[string]string            `yaml:"environment"`
	DependsOn   map[string]map[string]string `yaml:"depends_on"`
	Volumes     []string                     `yaml:"volumes"`
	NetworkMode string                       `yaml:"network_mode"`
	Profiles    []string                     `yaml:"profiles"`
	Healthcheck struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
}

type compose struct {
	Services map[string]service `yaml:"services"`
}

// readCompose parses a compose file (path relative to the repository root)
// and returns its text too.
func readCompose(t *testing.T, path string) (compose, string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", path))
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatalf("%s does not parse: %v", path, err)
	}
	return c, string(raw)
}

// buildFile is the Dockerfile a service builds, relative to the repository
// root (compose resolves an override's paths from the first file's
// directory, the root, too).
func buildFile(s service) string {
	df := s.Build.Dockerfile
	if df == "" {
		df = "Dockerfile"
	}
	return filepath.Join(s.Build.Context, df)
}

// fileHas fails unless the file (relative to the repository root) holds
// every string.
func fileHas(t *testing.T, path string, want ...string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", path))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		if !strings.Contains(string(raw), w) {
			t.Errorf("%s lacks %q", path, w)
		}
	}
}

func TestComposeFile(t *testing.T) {
	c, raw := readCompose(t, "docker-compose.yml")
	// Nothing is required: the master key and token secret are generated
	// when unset, so a bare `docker compose up` starts.
	if strings.Contains(raw, ":?") {
		t.Error("docker-compose.yml requires a variable (${...:?...})")
	}
	couch, ok := c.Services["couchdb"]
	if !ok {
		t.Fatal("no couchdb service")
	}
	// CouchDB's settings are built into its image on top of the official
	// one: the official entrypoint chowns /opt/couchdb and exits when a
	// read-only mount there refuses.
	if couch.Build.Args["COUCHDB_IMAGE"] != "couchdb:3" {
		t.Errorf("couchdb builds on %q, want couchdb:3", couch.Build.Args["COUCHDB_IMAGE"])
	}
	fileHas(t, buildFile(couch), "ARG COUCHDB_IMAGE", "FROM ${COUCHDB_IMAGE}", "COPY --chown=couchdb:couchdb local.ini /opt/couchdb/etc/default.d/")
	if _, err := os.Stat(filepath.Join("..", couch.Build.Context, "local.ini")); err != nil {
		t.Errorf("couchdb build context: %v", err)
	}
	for _, v := range couch.Volumes {
		if src, dst, _ := strings.Cut(v, ":"); strings.HasPrefix(src, ".") || strings.HasPrefix(src, "/") || strings.HasPrefix(dst, "/opt/couchdb/etc") {
			t.Errorf("couchdb mounts %s: a host file or CouchDB's configuration", v)
		}
	}
	if len(couch.Healthcheck.Test) == 0 {
		t.Error("couchdb has no health check")
	}
	p, ok := c.Services["portreqd"]
	if !ok {
		t.Fatal("no portreqd service")
	}
	if _, err := os.Stat(filepath.Join("..", buildFile(p))); err != nil {
		t.Errorf("portreqd build: %v", err)
	}
	if p.DependsOn["couchdb"]["condition"] != "service_healthy" {
		t.Errorf("portreqd does not wait for a healthy couchdb: %v", p.DependsOn)
	}
	if !slices.Equal(p.Healthcheck.Test, []string{"CMD", "/portreqd", "healthcheck"}) {
		t.Errorf("portreqd health check %v", p.Healthcheck.Test)
	}
	if !strings.Contains(p.Environment["PORTREQ_COUCHDB"], "@couchdb:5984") {
		t.Errorf("PORTREQ_COUCHDB %q does not name the couchdb service", p.Environment["PORTREQ_COUCHDB"])
	}
	for _, k := range []string{"PORTREQ_MASTER_API_KEY", "PORTREQ_TOKEN_SECRET"} {
		if v := p.Environment[k]; v != "${"+k+":-}" {
			t.Errorf("%s: %q, want it passed through when set, empty (generated) otherwise", k, v)
		}
	}
	// Mail goes to the mail catcher unless told otherwise, without TLS
	// (the catcher has none).
	if m, ok := c.Services["mailpit"]; !ok || !strings.HasPrefix(m.Image, "axllent/mailpit:") {
		t.Errorf("no mailpit mail catcher: %+v", m)
	}
	if !strings.Contains(p.Environment["PORTREQ_SMTP_ADDR"], "mailpit:1025") || !strings.Contains(p.Environment["PORTREQ_SMTP_TLS"], "none") {
		t.Errorf("portreqd does not mail the catcher: %v", p.Environment)
	}
}

// TestComposeLocalOverride checks deploy/compose.local.yml, which
// TestComposeUp (-tags docker) runs: nothing in it may need a registry.
func TestComposeLocalOverride(t *testing.T) {
	base, _ := readCompose(t, "docker-compose.yml")
	c, _ := readCompose(t, "deploy/compose.local.yml")
	for name := range c.Services {
		if _, inBase := base.Services[name]; !inBase && name != "portreqd-local" {
			t.Errorf("override adds service %s", name)
		}
	}
	// Services that would pull, or publish ports on a bridge network,
	// stand aside behind a profile.
	for name, profile := range map[string]string{"portreqd": "registry", "mailpit": "mail"} {
		if !slices.Equal(c.Services[name].Profiles, []string{profile}) {
			t.Errorf("%s: profiles %v, want [%s]", name, c.Services[name].Profiles, profile)
		}
	}
	couch := c.Services["couchdb"]
	if !strings.Contains(couch.Build.Args["COUCHDB_IMAGE"], "${PORTREQ_COUCHDB_IMAGE") {
		t.Errorf("couchdb builds on %q, not the local image", couch.Build.Args["COUCHDB_IMAGE"])
	}
	local, ok := c.Services["portreqd-local"]
	if !ok {
		t.Fatal("no portreqd-local service")
	}
	fileHas(t, buildFile(local), "FROM scratch", "COPY portreqd /portreqd", "USER 65532", `ENTRYPOINT ["/portreqd"]`)
	fileHas(t, filepath.Join(local.Build.Context, ".gitignore"), "/portreqd")
	if !slices.Equal(local.Healthcheck.Test, []string{"CMD", "/portreqd", "healthcheck"}) {
		t.Errorf("portreqd-local health check %v", local.Healthcheck.Test)
	}
	if local.DependsOn["couchdb"]["condition"] != "service_healthy" {
		t.Errorf("portreqd-local does not wait for a healthy couchdb: %v", local.DependsOn)
	}
	// Host network, on loopback: no bridge, no address in a private range.
	tests := []struct {
		name, got, prefix string
	}{
		{"couchdb network", couch.NetworkMode, "host"},
		{"portreqd-local network", local.NetworkMode, "host"},
		{"COUCHDB_BIND", couch.Environment["COUCHDB_BIND"], "127.0.0.1"},
		{"COUCHDB_PORT", couch.Environment["COUCHDB_PORT"], "${PORTREQ_LOCAL_COUCHDB_PORT:-"},
		{"PORTREQ_LISTEN", local.Environment["PORTREQ_LISTEN"], "127.0.0.1:${PORTREQ_LOCAL_PORT:-"},
		{"PORTREQ_COUCHDB", local.Environment["PORTREQ_COUCHDB"], "http://${COUCHDB_USER:-admin}:${COUCHDB_PASSWORD:-secret}@127.0.0.1:${PORTREQ_LOCAL_COUCHDB_PORT:-"},
		{"PORTREQ_MASTER_API_KEY", local.Environment["PORTREQ_MASTER_API_KEY"], "${PORTREQ_MASTER_API_KEY:-}"},
	}
	for _, tt := range tests {
		if !strings.HasPrefix(tt.got, tt.prefix) {
			t.Errorf("%s: %q, want %q...", tt.name, tt.got, tt.prefix)
		}
	}
}

func TestDockerfile(t *testing.T) {
	raw, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(raw)
	for _, want := range []string{"CGO_ENABLED=0", "./cmd/portreqd", "nonroot", "ENTRYPOINT"} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}
