package deploy

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The part of the Kubernetes API the manifests under k8s/ use and the
// tests check. Fields left out are not checked, not refused.

type objectMeta struct {
	Name      string            `yaml:"name"`
	Namespace string            `yaml:"namespace"`
	Labels    map[string]string `yaml:"labels"`
}

type labelSelector struct {
	MatchLabels map[string]string `yaml:"matchLabels"`
}

type deployment struct {
	Metadata objectMeta `yaml:"metadata"`
	Spec     struct {
		Replicas int           `yaml:"replicas"`
		Selector labelSelector `yaml:"selector"`
		Template struct {
			Metadata objectMeta `yaml:"metadata"`
			Spec     podSpec    `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type podSpec struct {
	TerminationGracePeriodSeconds *int `yaml:"terminationGracePeriodSeconds"`
	SecurityContext               struct {
		RunAsNonRoot *bool `yaml:"runAsNonRoot"`
		RunAsUser    *int  `yaml:"runAsUser"`
	} `yaml:"securityContext"`
	Affinity struct {
		PodAntiAffinity struct {
			Preferred []struct {
				PodAffinityTerm struct {
					TopologyKey   string        `yaml:"topologyKey"`
					LabelSelector labelSelector `yaml:"labelSelector"`
				} `yaml:"podAffinityTerm"`
			} `yaml:"preferredDuringSchedulingIgnoredDuringExecution"`
		} `yaml:"podAntiAffinity"`
	} `yaml:"affinity"`
	Containers []container `yaml:"containers"`
	Volumes    []volume    `yaml:"volumes"`
}

type volume struct {
	Name     string    `yaml:"name"`
	EmptyDir *struct{} `yaml:"emptyDir"`
}

type container struct {
	Name  string `yaml:"name"`
	Image string `yaml:"image"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	Env       []envVar `yaml:"env"`
	Resources struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	StartupProbe   *probe `yaml:"startupProbe"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	Lifecycle      struct {
		PreStop struct {
			Sleep struct {
				Seconds int `yaml:"seconds"`
			} `yaml:"sleep"`
		} `yaml:"preStop"`
	} `yaml:"lifecycle"`
	SecurityContext struct {
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   bool  `yaml:"readOnlyRootFilesystem"`
		Capabilities             struct {
			Drop []string `yaml:"drop"`
		} `yaml:"capabilities"`
	} `yaml:"securityContext"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	} `yaml:"volumeMounts"`
}

type envVar struct {
	Name      string `yaml:"name"`
	Value     string `yaml:"value"`
	ValueFrom *struct {
		SecretKeyRef *struct {
			Name string `yaml:"name"`
			Key  string `yaml:"key"`
		} `yaml:"secretKeyRef"`
	} `yaml:"valueFrom"`
}

// probe ports are a number or a container port's name: both decode as text.
type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
	TCPSocket *struct {
		Port string `yaml:"port"`
	} `yaml:"tcpSocket"`
	TimeoutSeconds int `yaml:"timeoutSeconds"`
}

type kubeService struct {
	Metadata objectMeta `yaml:"metadata"`
	Spec     struct {
		Type     string            `yaml:"type"`
		Selector map[string]string `yaml:"selector"`
		Ports    []struct {
			Name       string `yaml:"name"`
			Port       int    `yaml:"port"`
			TargetPort string `yaml:"targetPort"`
		} `yaml:"ports"`
	} `yaml:"spec"`
}

type secret struct {
	Metadata   objectMeta        `yaml:"metadata"`
	StringData map[string]string `yaml:"stringData"`
	Data       map[string]string `yaml:"data"`
}

type podDisruptionBudget struct {
	Metadata objectMeta `yaml:"metadata"`
	Spec     struct {
		MinAvailable   *int          `yaml:"minAvailable"`
		MaxUnavailable *int          `yaml:"maxUnavailable"`
		Selector       labelSelector `yaml:"selector"`
	} `yaml:"spec"`
}

// manifests is everything kustomization.yaml lists, one object of each kind
// portreqd needs.
type manifests struct {
	kinds      map[string][]string // kind → "file: name" of each object
	namespaced []string            // objects that name a namespace
	deployment deployment
	service    kubeService
	secret     secret
	pdb        podDisruptionBudget
}

// loadManifests reads every file kustomization.yaml lists, each possibly
// several YAML documents.
func loadManifests(t *testing.T) *manifests {
	t.Helper()
	raw, err := os.ReadFile("k8s/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var kust struct {
		Resources []string `yaml:"resources"`
	}
	if err := yaml.Unmarshal(raw, &kust); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	onDisk, err := filepath.Glob("k8s/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range onDisk {
		if name := filepath.Base(f); name != "kustomization.yaml" && !slices.Contains(kust.Resources, name) {
			t.Errorf("k8s/%s is not listed in kustomization.yaml", name)
		}
	}
	m := &manifests{kinds: map[string][]string{}}
	for _, file := range kust.Resources {
		raw, err := os.ReadFile(filepath.Join("k8s", file))
		if err != nil {
			t.Fatalf("kustomization.yaml lists %s: %v", file, err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		for {
			var doc yaml.Node
			if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s does not parse: %v", file, err)
			}
			m.add(t, file, &doc)
		}
	}
	return m
}

// add decodes one document into the object of its kind.
func (m *manifests) add(t *testing.T, file string, doc *yaml.Node) {
	t.Helper()
	var head struct {
		APIVersion string     `yaml:"apiVersion"`
		Kind       string     `yaml:"kind"`
		Metadata   objectMeta `yaml:"metadata"`
	}
	if err := doc.Decode(&head); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if head.Kind == "" {
		t.Fatalf("%s: a document without a kind", file)
	}
	where := file + ": " + head.Metadata.Name
	m.kinds[head.Kind] = append(m.kinds[head.Kind], where)
	if head.Metadata.Namespace != "" {
		m.namespaced = append(m.namespaced, where)
	}
	// The kinds portreqd's manifests hold, each with the API version that
	// serves it.
	apiVersions := map[string]string{
		"Deployment":          "apps/v1",
		"Service":             "v1",
		"Secret":              "v1",
		"PodDisruptionBudget": "policy/v1",
	}
	if want, ok := apiVersions[head.Kind]; !ok {
		t.Errorf("%s: unexpected kind %s", where, head.Kind)
		return
	} else if head.APIVersion != want {
		t.Errorf("%s: %s apiVersion %q, want %q", where, head.Kind, head.APIVersion, want)
	}
	var into any
	switch head.Kind {
	case "Deployment":
		into = &m.deployment
	case "Service":
		into = &m.service
	case "Secret":
		into = &m.secret
	case "PodDisruptionBudget":
		into = &m.pdb
	}
	if err := doc.Decode(into); err != nil {
		t.Fatalf("%s: %v", where, err)
	}
}

// portreqd is the Deployment's portreqd container.
func (m *manifests) portreqd(t *testing.T) *container {
	t.Helper()
	cs := m.deployment.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("the Deployment has %d containers, want 1", len(cs))
	}
	return &cs[0]
}

// env returns the value the container's env gives name, and whether it
// gives one; a variable from the Secret reads the Secret's value.
func (m *manifests) env(c *container, name string) (string, bool) {
	for _, e := range c.Env {
		if e.Name != name {
			continue
		}
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			v, ok := m.secret.StringData[e.ValueFrom.SecretKeyRef.Key]
			return v, ok
		}
		return e.Value, true
	}
	return "", false
}

// resolvedEnv is the environment the container starts with.
func (m *manifests) resolvedEnv(t *testing.T, c *container) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, e := range c.Env {
		v, ok := m.env(c, e.Name)
		if !ok {
			t.Fatalf("env %s names no key of the Secret", e.Name)
		}
		out[e.Name] = v
	}
	return out
}

// containerPort resolves a port reference (a number or a port's name) to
// the container's port number; 0 when the container has no such port.
func containerPort(c *container, ref string) int {
	for _, p := range c.Ports {
		if ref == p.Name || ref == strconv.Itoa(p.ContainerPort) {
			return p.ContainerPort
		}
	}
	return 0
}

// probes names the container's probes.
func probes(c *container) map[string]*probe {
	out := map[string]*probe{}
	for name, p := range map[string]*probe{"startup": c.StartupProbe, "readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if p != nil {
			out[name] = p
		}
	}
	return out
}

// subset reports whether every label of sel is in labels, and sel names at
// least one.
func subset(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// sortedKeys lists a map's keys in order, for stable messages.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// dockerfileUser is the USER the image runs as.
func dockerfileUser(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	user := ""
	for line := range strings.Lines(string(raw)) {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "USER "); ok {
			user = strings.TrimSpace(rest)
		}
	}
	return user
}
