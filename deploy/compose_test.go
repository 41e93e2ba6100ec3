// Package deploy holds the container image and checks the deployment files
// that cannot be run here (no Docker engine): they must at least parse and
// point at things that exist.
package deploy

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

type compose struct {
	Services map[string]struct {
		Image string `yaml:"image"`
		Build struct {
			Context    string `yaml:"context"`
			Dockerfile string `yaml:"dockerfile"`
		} `yaml:"build"`
		Environment map[string]string            `yaml:"environment"`
		DependsOn   map[string]map[string]string `yaml:"depends_on"`
		Volumes     []string                     `yaml:"volumes"`
		Healthcheck struct {
			Test []string `yaml:"test"`
		} `yaml:"healthcheck"`
	} `yaml:"services"`
}

func TestComposeFile(t *testing.T) {
	raw, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatalf("docker-compose.yml does not parse: %v", err)
	}
	couch, ok := c.Services["couchdb"]
	if !ok || couch.Image != "couchdb:3" {
		t.Fatalf("couchdb service: %+v", couch)
	}
	if len(couch.Healthcheck.Test) == 0 {
		t.Error("couchdb has no health check")
	}
	for _, v := range couch.Volumes {
		if src, _, ok := strings.Cut(v, ":"); ok && strings.HasPrefix(src, "./") {
			if _, err := os.Stat(filepath.Join("..", src)); err != nil {
				t.Errorf("couchdb mounts %s: %v", src, err)
			}
		}
	}
	p, ok := c.Services["portreqd"]
	if !ok {
		t.Fatal("no portreqd service")
	}
	if _, err := os.Stat(filepath.Join("..", p.Build.Context, p.Build.Dockerfile)); err != nil {
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
	// Mail goes to the mail catcher unless told otherwise, without TLS
	// (the catcher has none).
	if m, ok := c.Services["mailpit"]; !ok || !strings.HasPrefix(m.Image, "axllent/mailpit:") {
		t.Errorf("no mailpit mail catcher: %+v", m)
	}
	if !strings.Contains(p.Environment["PORTREQ_SMTP_ADDR"], "mailpit:1025") || !strings.Contains(p.Environment["PORTREQ_SMTP_TLS"], "none") {
		t.Errorf("portreqd does not mail the catcher: %v", p.Environment)
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
