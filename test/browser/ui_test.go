package browser

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// unpackMonsterUI extracts the Monster UI dist tarball into a temporary
// directory and returns the path of its monster-ui/dist.
func unpackMonsterUI(t *testing.T, tarball string) string {
	t.Helper()
	dir := t.TempDir()
	f, err := os.Open(tarball)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", tarball, err)
	}
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", tarball, err)
		}
		name := filepath.Clean(hdr.Name)
		if filepath.IsAbs(name) || name == ".." || strings.HasPrefix(name, ".."+string(filepath.Separator)) {
			t.Fatalf("%s: unsafe path %q", tarball, hdr.Name)
		}
		target := filepath.Join(dir, name)
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				t.Fatal(err)
			}
			out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(out, tr); err != nil {
				out.Close()
				t.Fatal(err)
			}
			if err := out.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	dist := filepath.Join(dir, "monster-ui", "dist")
	if _, err := os.Stat(filepath.Join(dist, "index.html")); err != nil {
		t.Fatalf("%s has no monster-ui/dist/index.html: %v", tarball, err)
	}
	return dist
}

// monsterConfig is js/config.js for the test: the gateway as the Kazoo API
// root, no logout timer, no first-use walkthrough, the master account as
// the port authority (its users are the agents), no Braintree and no
// websockets.
func monsterConfig(apiRoot, authorityID string) string {
	return fmt.Sprintf(`define({
	api: {
		// The test's gateway: portreqd plus Kazoo-shaped fixtures.
		'default': %q
	},
	whitelabel: {
		companyName: 'portreqd test',
		applicationTitle: 'Monster UI',
		logoutTimer: 0,
		disableFirstUseWalkthrough: true,
		port: {
			authority: %q
		}
	},
	disableBraintree: true,
	developerFlags: { showJSErrors: false }
});
`, apiRoot, authorityID)
}

// uiServer serves Monster UI's dist statically with config.js replaced, and
// notes the files the browser asked for that do not exist.
type uiServer struct {
	srv     *httptest.Server
	mu      sync.Mutex
	missing []string
}

func startUI(t *testing.T, dist, config string) *uiServer {
	t.Helper()
	files := http.FileServer(http.Dir(dist))
	u := &uiServer{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if r.URL.Path == "/js/config.js" {
			w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
			_, _ = io.WriteString(w, config)
			return
		}
		if _, err := os.Stat(filepath.Join(dist, filepath.FromSlash(filepath.Clean("/"+r.URL.Path)))); err != nil {
			u.mu.Lock()
			u.missing = append(u.missing, r.URL.Path)
			u.mu.Unlock()
		}
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(u.srv.Close)
	return u
}

// URL is the UI's root, with its trailing slash.
func (u *uiServer) URL() string { return u.srv.URL + "/" }

// missingFiles lists the paths the browser asked for that the dist lacks,
// each with how often ("/undefined" is Monster UI's websocket client with
// no socket configured).
func (u *uiServer) missingFiles() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	counts := map[string]int{}
	var order []string
	for _, p := range u.missing {
		if counts[p] == 0 {
			order = append(order, p)
		}
		counts[p]++
	}
	out := make([]string, len(order))
	for i, p := range order {
		out[i] = fmt.Sprintf("%s ×%d", p, counts[p])
	}
	return out
}
