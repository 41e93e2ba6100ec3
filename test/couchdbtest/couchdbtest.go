// Package couchdbtest finds a CouchDB server for tests: the one named by
// COUCHDB_URL, else (built with -tags docker) a container started with
// testcontainers — couchdb:3, or the image named by
// PORTREQ_TEST_COUCHDB_IMAGE (see docker.go) — else the test is skipped — or
// fails under CI=true, where a silently skipped storage suite would hide a
// broken set-up.
package couchdbtest

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portreqd/portreqd/pkg/engine/couch"
)

// startContainer and containerImage are set by the docker-tagged file; nil
// without the tag so that ordinary builds do not depend on a Docker engine.
// startContainer returns the server's URL and a description of the container
// (image name and id, container id); containerImage names the image.
var (
	startContainer func() (url, desc string, err error)
	containerImage func() string
)

// containerURL is the URL of the started container, "" before;
// containerDesc describes it.
var (
	containerMu   sync.Mutex
	containerURL  string
	containerDesc string
)

// URL returns the URL of the CouchDB server to test against, credentials
// included.
func URL(t testing.TB) string {
	t.Helper()
	if u := os.Getenv("COUCHDB_URL"); u != "" {
		return u
	}
	if startContainer != nil {
		u, desc, err := startContainer()
		if err != nil {
			t.Fatalf("couchdbtest: start %s container: %v", containerImage(), err)
		}
		containerMu.Lock()
		containerURL, containerDesc = u, desc
		containerMu.Unlock()
		return u
	}
	const how = "set COUCHDB_URL (e.g. from couchdb/dev-server start) or build with -tags docker"
	if os.Getenv("CI") == "true" {
		t.Fatal("COUCHDB_URL is not set under CI=true: " + how)
	}
	t.Skip("no CouchDB: " + how)
	return ""
}

var (
	prefixOnce sync.Once
	prefix     string
)

// Prefix returns a database name prefix unique to this test process
// ("portreqd_test_<unixnano>_"), so that runs sharing one server never see
// each other's data. It is a valid CouchDB name start: a lowercase letter,
// then lowercase letters, digits and underscores.
func Prefix() string {
	prefixOnce.Do(func() {
		prefix = fmt.Sprintf("portreqd_test_%d_", time.Now().UnixNano())
	})
	return prefix
}

// Describe says which server the tests use, password masked, for test logs.
func Describe() string {
	if u := os.Getenv("COUCHDB_URL"); u != "" {
		return "COUCHDB_URL " + couch.MaskURL(u)
	}
	if startContainer != nil {
		containerMu.Lock()
		defer containerMu.Unlock()
		if containerURL == "" {
			return "testcontainers " + containerImage() + " (not started yet)"
		}
		return "testcontainers " + containerDesc + " at " + couch.MaskURL(containerURL)
	}
	return "no CouchDB (COUCHDB_URL unset, built without -tags docker)"
}

// SiteURLsVar names independent CouchDB servers (comma-separated URLs with
// credentials, at least two), each standing for one site, for the tests
// of replication between sites; .ci/run starts them.
const SiteURLsVar = "COUCHDB_SITE_URLS"

// SiteURLs returns the servers of SiteURLsVar. Unset, the test is skipped,
// or fails under CI=true; "none" says that this run has no such servers
// (CI without the CouchDB tarball) and skips.
func SiteURLs(t testing.TB) []string {
	t.Helper()
	if os.Getenv(SiteURLsVar) == "none" {
		t.Skip(SiteURLsVar + "=none: no independent CouchDB servers on this run")
	}
	var urls []string
	for _, u := range strings.Split(os.Getenv(SiteURLsVar), ",") {
		if u = strings.TrimSpace(u); u != "" {
			urls = append(urls, u)
		}
	}
	if len(urls) >= 2 {
		return urls
	}
	const how = SiteURLsVar + " is not set to two or more independent CouchDB servers (couchdb/apache-couchdb start, with a TMPDIR each)"
	if os.Getenv("CI") == "true" {
		t.Fatal(how + " under CI=true")
	}
	t.Skip(how)
	return nil
}
