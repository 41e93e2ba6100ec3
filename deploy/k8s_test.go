package deploy

import (
	"maps"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// secretEnv are the variables that carry secrets: they must come from the
// Secret, never from a plain value in the Deployment.
func secretEnv() []string {
	return []string{"PORTREQ_COUCHDB", "PORTREQ_MASTER_API_KEY", "PORTREQ_TOKEN_SECRET", "PORTREQ_SMTP_PASSWORD"}
}

// TestKubernetesManifests checks deploy/k8s without a cluster: each check
// is one thing a cluster would get wrong or refuse. What the manifests ask
// of portreqd itself (its variables, its health routes, replicas on one
// CouchDB) TestKubernetesDeploymentRuns checks against the real binary.
func TestKubernetesManifests(t *testing.T) {
	for _, tc := range []struct {
		name  string
		check func(t *testing.T, m *manifests)
	}{
		{"one of each kind, in no namespace", func(t *testing.T, m *manifests) {
			for _, kind := range []string{"Deployment", "Service", "Secret", "PodDisruptionBudget"} {
				if n := len(m.kinds[kind]); n != 1 {
					t.Errorf("%d %s objects (%v), want 1", n, kind, m.kinds[kind])
				}
			}
			if len(m.namespaced) > 0 {
				t.Errorf("objects name a namespace (choose it when applying): %v", m.namespaced)
			}
		}},
		{"selectors match the pods", func(t *testing.T, m *manifests) {
			pod := m.deployment.Spec.Template.Metadata.Labels
			for what, sel := range map[string]map[string]string{
				"Deployment selector": m.deployment.Spec.Selector.MatchLabels,
				"Service selector":    m.service.Spec.Selector,
				"PodDisruptionBudget": m.pdb.Spec.Selector.MatchLabels,
				"pod anti-affinity":   antiAffinitySelector(m),
			} {
				if !subset(sel, pod) {
					t.Errorf("%s %v does not select the pods %v", what, sel, pod)
				}
			}
			if !maps.Equal(m.service.Spec.Selector, m.deployment.Spec.Selector.MatchLabels) || !maps.Equal(m.pdb.Spec.Selector.MatchLabels, m.deployment.Spec.Selector.MatchLabels) {
				t.Errorf("Service %v and PDB %v select other pods than the Deployment %v", m.service.Spec.Selector, m.pdb.Spec.Selector.MatchLabels, m.deployment.Spec.Selector.MatchLabels)
			}
		}},
		{"replicas survive a disruption", func(t *testing.T, m *manifests) {
			n := m.deployment.Spec.Replicas
			if n < 2 {
				t.Fatalf("replicas %d, want 2 or more", n)
			}
			switch s := m.pdb.Spec; {
			case s.MaxUnavailable != nil && s.MinAvailable == nil:
				if *s.MaxUnavailable < 1 || *s.MaxUnavailable >= n {
					t.Errorf("PDB maxUnavailable %d of %d replicas", *s.MaxUnavailable, n)
				}
			case s.MinAvailable != nil && s.MaxUnavailable == nil:
				if *s.MinAvailable < 1 || *s.MinAvailable >= n {
					t.Errorf("PDB minAvailable %d of %d replicas", *s.MinAvailable, n)
				}
			default:
				t.Errorf("PDB sets neither or both of minAvailable and maxUnavailable")
			}
			if terms := m.deployment.Spec.Template.Spec.Affinity.PodAntiAffinity.Preferred; len(terms) == 0 || terms[0].PodAffinityTerm.TopologyKey != "kubernetes.io/hostname" {
				t.Errorf("replicas are not spread across nodes: %+v", terms)
			}
		}},
		{"one port from listener to Service", func(t *testing.T, m *manifests) {
			c := m.portreqd(t)
			listen, _ := m.env(c, "PORTREQ_LISTEN")
			_, port, err := net.SplitHostPort(listen)
			if err != nil {
				t.Fatalf("PORTREQ_LISTEN %q: %v", listen, err)
			}
			want := containerPort(c, port)
			if want == 0 {
				t.Fatalf("portreqd listens on %s, no container port", port)
			}
			if m.service.Spec.Type != "ClusterIP" || len(m.service.Spec.Ports) != 1 {
				t.Fatalf("Service %+v, want one ClusterIP port", m.service.Spec)
			}
			sp := m.service.Spec.Ports[0]
			if sp.Port != 8000 || containerPort(c, sp.TargetPort) != want {
				t.Errorf("Service port %d → %q, want 8000 → container port %d", sp.Port, sp.TargetPort, want)
			}
			ps := probes(c)
			for _, kind := range []string{"startup", "readiness", "liveness"} {
				p, ok := ps[kind]
				if !ok {
					t.Errorf("no %s probe", kind)
					continue
				}
				ref := ""
				switch {
				case p.HTTPGet != nil:
					ref = p.HTTPGet.Port
				case p.TCPSocket != nil:
					ref = p.TCPSocket.Port
				}
				if containerPort(c, ref) != want {
					t.Errorf("%s probe on port %q, portreqd listens on %d", kind, ref, want)
				}
				// /healthz gives the store 2 s (api.Config.HealthTimeout).
				if p.TimeoutSeconds <= 2 {
					t.Errorf("%s probe times out after %ds, before /healthz gives up on the store", kind, p.TimeoutSeconds)
				}
			}
			if p := ps["readiness"]; p != nil && p.HTTPGet == nil {
				t.Errorf("the readiness probe does not ask /healthz whether the store answers")
			}
		}},
		{"secrets come from the Secret", func(t *testing.T, m *manifests) {
			c := m.portreqd(t)
			used := map[string]bool{}
			for _, e := range c.Env {
				if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
					if slices.Contains(secretEnv(), e.Name) {
						t.Errorf("%s is a secret given as a plain value", e.Name)
					}
					continue
				}
				ref := e.ValueFrom.SecretKeyRef
				if ref.Name != m.secret.Metadata.Name {
					t.Errorf("%s reads Secret %q, the manifests define %q", e.Name, ref.Name, m.secret.Metadata.Name)
				}
				if _, ok := m.secret.StringData[ref.Key]; !ok {
					t.Errorf("%s reads key %q, the Secret has %v", e.Name, ref.Key, sortedKeys(m.secret.StringData))
				}
				used[ref.Key] = true
			}
			for _, name := range secretEnv() {
				if _, ok := m.env(c, name); !ok {
					t.Errorf("%s is not set", name)
				}
			}
			for key, v := range m.secret.StringData {
				if !used[key] {
					t.Errorf("Secret key %q is read by nothing", key)
				}
				if !strings.Contains(v, "REPLACE-ME") {
					t.Errorf("Secret key %q holds a value not marked REPLACE-ME: a real secret in the repository?", key)
				}
			}
			if len(m.secret.Data) > 0 {
				t.Errorf("Secret has base64 data %v: keep the example readable in stringData", sortedKeys(m.secret.Data))
			}
			couch, _ := m.env(c, "PORTREQ_COUCHDB")
			if u, err := url.Parse(couch); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User == nil || u.Host == "" {
				t.Errorf("PORTREQ_COUCHDB %q is not a CouchDB URL with credentials", couch)
			}
		}},
		{"non-root on a read-only root filesystem", func(t *testing.T, m *manifests) {
			pod := m.deployment.Spec.Template.Spec
			if sc := pod.SecurityContext; sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
				t.Error("runAsNonRoot is not true")
			} else if _, err := strconv.Atoi(dockerfileUser(t)); err != nil && (sc.RunAsUser == nil || *sc.RunAsUser == 0) {
				t.Errorf("the image's USER %q is a name: runAsNonRoot needs a numeric runAsUser, got %v", dockerfileUser(t), sc.RunAsUser)
			}
			c := m.portreqd(t)
			sc := c.SecurityContext
			if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || !slices.Contains(sc.Capabilities.Drop, "ALL") {
				t.Errorf("container may escalate privileges or keeps capabilities: %+v", sc)
			}
			if !sc.ReadOnlyRootFilesystem {
				t.Fatal("the root filesystem is writable")
			}
			// Uploads are spooled to os.TempDir() (pkg/api/attachments.go).
			if _, set := m.env(c, "TMPDIR"); set {
				t.Errorf("TMPDIR is set: the writable /tmp below would not be used")
			}
			tmp := ""
			for _, vm := range c.VolumeMounts {
				if vm.MountPath == "/tmp" && !vm.ReadOnly {
					tmp = vm.Name
				}
			}
			if !slices.ContainsFunc(pod.Volumes, func(v volume) bool {
				return v.Name == tmp && v.EmptyDir != nil
			}) {
				t.Errorf("no writable emptyDir at /tmp for spooled uploads (mount %q)", tmp)
			}
		}},
		{"the grace period outlasts the shutdown", func(t *testing.T, m *manifests) {
			c := m.portreqd(t)
			v, ok := m.env(c, "PORTREQ_SHUTDOWN_TIMEOUT")
			if !ok {
				t.Fatal("PORTREQ_SHUTDOWN_TIMEOUT is not set")
			}
			drain, err := time.ParseDuration(v)
			if err != nil {
				t.Fatalf("PORTREQ_SHUTDOWN_TIMEOUT %q: %v", v, err)
			}
			grace := m.deployment.Spec.Template.Spec.TerminationGracePeriodSeconds
			if grace == nil {
				t.Fatal("terminationGracePeriodSeconds is not set")
			}
			preStop := time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
			if time.Duration(*grace)*time.Second <= preStop+drain {
				t.Errorf("terminationGracePeriodSeconds %d ≤ preStop sleep %s + shutdown timeout %s", *grace, preStop, drain)
			}
		}},
		{"memory bounded, the collector below the bound", func(t *testing.T, m *manifests) {
			c := m.portreqd(t)
			if c.Resources.Requests["cpu"] == "" || c.Resources.Requests["memory"] == "" {
				t.Errorf("requests %v lack cpu or memory", c.Resources.Requests)
			}
			limit, err := quantityBytes(c.Resources.Limits["memory"])
			if err != nil {
				t.Fatalf("memory limit: %v", err)
			}
			if v, ok := m.env(c, "GOMEMLIMIT"); ok {
				soft, err := goMemLimitBytes(v)
				if err != nil || soft >= limit {
					t.Errorf("GOMEMLIMIT %q (%v) is not below the memory limit %s", v, err, c.Resources.Limits["memory"])
				}
			}
		}},
		{"the image deploy/Dockerfile builds", func(t *testing.T, m *manifests) {
			image := m.portreqd(t).Image
			repo, _, _ := strings.Cut(image[strings.LastIndex(image, "/")+1:], ":")
			if repo != "portreqd" {
				t.Errorf("image %q, want portreqd as deploy/Dockerfile tags it", image)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.check(t, loadManifests(t)) })
	}
}

// antiAffinitySelector is the selector of the first pod anti-affinity term.
func antiAffinitySelector(m *manifests) map[string]string {
	terms := m.deployment.Spec.Template.Spec.Affinity.PodAntiAffinity.Preferred
	if len(terms) == 0 {
		return nil
	}
	return terms[0].PodAffinityTerm.LabelSelector.MatchLabels
}
