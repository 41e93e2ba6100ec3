package deploy

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// kazooOwned are the routes portreqd answers that a Kazoo site answers
// itself, so that beside Kazoo the gateway leaves them to Crossbar:
// logins, accounts, users and numbers.
var kazooOwned = map[string]bool{
	"/healthz": true, "/v2/api_auth": true, "/v2/user_auth": true, "/v2/auth/tokeninfo": true,
	"/v2/accounts/{account_id}": true, "/v2/accounts/{account_id}/children": true,
	"/v2/accounts/{account_id}/descendants": true, "/v2/accounts/{account_id}/api_key": true,
	"/v2/accounts/{account_id}/phone_numbers": true, "/v2/accounts/{account_id}/users": true,
	"/v2/accounts/{account_id}/users/{user_id}": true,
}

// The gateway recipe (deploy/gateway/nginx.conf), run by a real nginx in
// front of two recording upstreams: every route of portreqd's OpenAPI
// document that Kazoo does not answer itself reaches portreqd, the rest of
// Kazoo's API (and near misses) reach Crossbar, bodies and queries intact.
func TestGatewayRoutes(t *testing.T) {
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("nginx is not installed (.ci/run installs nginx-light)")
		}
		t.Skip("nginx is not installed (apt-get install nginx-light)")
	}
	upstream := func(name string) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]string{"who": name, "uri": r.URL.RequestURI(), "body": string(body)})
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	portreqd, crossbar := upstream("portreqd"), upstream("crossbar")

	conf, err := os.ReadFile("gateway/nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	text := string(conf)
	for from, to := range map[string]string{
		"server portreqd:8000;":           "server " + strings.TrimPrefix(portreqd.URL, "http://") + ";",
		"server crossbar:8000;":           "server " + strings.TrimPrefix(crossbar.URL, "http://") + ";",
		"listen 8080;":                    "listen " + addr + ";",
		"/tmp/portreqd-gateway-nginx.pid": filepath.Join(dir, "nginx.pid"),
		"/tmp/portreqd-gateway-body":      filepath.Join(dir, "body"),
		"/tmp/portreqd-gateway-proxy":     filepath.Join(dir, "proxy"),
	} {
		if !strings.Contains(text, from) {
			t.Fatalf("nginx.conf has no %q", from)
		}
		text = strings.ReplaceAll(text, from, to)
	}
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(nginx, "-e", "stderr", "-p", dir, "-c", confPath, "-g", "daemon off;")
	var log strings.Builder
	cmd.Stderr = &log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its workers go with it
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("nginx:\n%s", log.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx not listening on %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	const acct = "0123456789abcdef0123456789abcdef"
	sample := strings.NewReplacer("{account_id}", acct, "{request_id}", "fedcba9876543210fedcba9876543210",
		"{user_id}", "aaaabbbbccccddddeeeeffff00001111", "{webhook_id}", "11112222333344445555666677778888",
		"{delivery_id}", "d1", "{template_id}", "port_request", "{attachment_name}", "bill.pdf", "{name}", "bill.pdf",
		"{index}", "0")
	cases := map[string]string{ // path: upstream
		"/v2/accounts/" + acct + "/port_requestsx":             "crossbar",
		"/v2/accounts/" + acct + "/descendants":                "crossbar",
		"/v2/accounts/" + acct + "/callflows":                  "crossbar",
		"/v2/accounts/" + acct + "/phone_numbers/+12025550100": "crossbar",
		"/v2/whitelabel/example.com":                           "crossbar",
		"/v2/port_requestsx":                                   "crossbar",
	}
	var doc struct {
		Paths map[string]any `json:"paths"`
	}
	raw, err := os.ReadFile("../pkg/api/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &doc); err != nil || len(doc.Paths) < 40 {
		t.Fatalf("the OpenAPI document: %v (%d paths)", err, len(doc.Paths))
	}
	for p := range doc.Paths {
		want := "portreqd"
		if kazooOwned[p] {
			want = "crossbar"
		}
		cases[sample.Replace(p)] = want
	}
	for path, want := range cases {
		body := `{"data":{"name":"through the gateway"}}`
		req, _ := http.NewRequest(http.MethodPut, "http://"+addr+path+"?paginate=false", strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]string
		_ = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if got["who"] != want || got["uri"] != path+"?paginate=false" || got["body"] != body {
			t.Errorf("%s reached %s as %q with %q, want %s with the path, query and body intact", path, got["who"], got["uri"], got["body"], want)
		}
	}
}

// The gateway's Kubernetes example mounts nginx.conf where nginx reads it,
// from the ConfigMap the kustomization makes of it, and its ports and the
// crossbar Service match the configuration's listen and upstream.
func TestGatewayManifests(t *testing.T) {
	var kust struct {
		Resources          []string `yaml:"resources"`
		ConfigMapGenerator []struct {
			Name  string   `yaml:"name"`
			Files []string `yaml:"files"`
		} `yaml:"configMapGenerator"`
	}
	readYAML(t, "gateway/kustomization.yaml", &kust)
	if len(kust.ConfigMapGenerator) != 1 || len(kust.ConfigMapGenerator[0].Files) != 1 || kust.ConfigMapGenerator[0].Files[0] != "nginx.conf" {
		t.Fatalf("configMapGenerator %+v, want one ConfigMap of nginx.conf", kust.ConfigMapGenerator)
	}
	cm := kust.ConfigMapGenerator[0].Name
	raw, err := os.ReadFile("gateway/gateway.yaml")
	if err != nil {
		t.Fatal(err)
	}
	conf, err := os.ReadFile("gateway/nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(conf), "listen 8080;") || !strings.Contains(string(conf), "server crossbar:8000;") || !strings.Contains(string(conf), "server portreqd:8000;") {
		t.Fatal("nginx.conf no longer listens on 8080 or names crossbar:8000 and portreqd:8000; update the manifests and this test")
	}
	type port struct {
		Name          string `yaml:"name"`
		Port          int    `yaml:"port"`
		ContainerPort int    `yaml:"containerPort"`
		TargetPort    string `yaml:"targetPort"`
	}
	var kinds []string
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	for {
		var m struct {
			Kind     string `yaml:"kind"`
			Metadata struct {
				Name string `yaml:"name"`
			} `yaml:"metadata"`
			Spec struct {
				Type     string `yaml:"type"`
				Ports    []port `yaml:"ports"`
				Template struct {
					Spec struct {
						Containers []struct {
							Ports        []port `yaml:"ports"`
							VolumeMounts []struct {
								Name      string `yaml:"name"`
								MountPath string `yaml:"mountPath"`
								SubPath   string `yaml:"subPath"`
							} `yaml:"volumeMounts"`
						} `yaml:"containers"`
						Volumes []struct {
							Name      string `yaml:"name"`
							ConfigMap struct {
								Name string `yaml:"name"`
							} `yaml:"configMap"`
						} `yaml:"volumes"`
					} `yaml:"spec"`
				} `yaml:"template"`
			} `yaml:"spec"`
		}
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, m.Kind+"/"+m.Metadata.Name)
		switch {
		case m.Kind == "Service" && m.Metadata.Name == "crossbar":
			if m.Spec.Type != "ExternalName" || len(m.Spec.Ports) != 1 || m.Spec.Ports[0].Port != 8000 {
				t.Errorf("the crossbar Service %+v, want ExternalName on 8000 (nginx.conf's upstream)", m.Spec)
			}
		case m.Kind == "Service":
			if len(m.Spec.Ports) != 1 || m.Spec.Ports[0].TargetPort != "http" {
				t.Errorf("the gateway Service %+v, want its one port on the container's http", m.Spec.Ports)
			}
		case m.Kind == "Deployment":
			c := m.Spec.Template.Spec.Containers
			if len(c) != 1 || len(c[0].Ports) != 1 || c[0].Ports[0].ContainerPort != 8080 || c[0].Ports[0].Name != "http" {
				t.Errorf("the gateway's container ports %+v, want http on 8080", c)
			}
			mounted := false
			for _, vm := range c[0].VolumeMounts {
				for _, v := range m.Spec.Template.Spec.Volumes {
					if vm.Name == v.Name && v.ConfigMap.Name == cm && vm.MountPath == "/etc/nginx/nginx.conf" && vm.SubPath == "nginx.conf" {
						mounted = true
					}
				}
			}
			if !mounted {
				t.Errorf("the gateway does not mount ConfigMap %s's nginx.conf at /etc/nginx/nginx.conf", cm)
			}
		}
	}
	if strings.Join(kinds, ",") != "Service/crossbar,Deployment/portreqd-gateway,Service/portreqd-gateway" {
		t.Errorf("gateway.yaml holds %v", kinds)
	}
}

// readYAML parses file (relative to deploy/) into v.
func readYAML(t *testing.T, file string, v any) {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}
