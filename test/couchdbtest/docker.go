//go:build docker

package couchdbtest

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

const (
	containerImage = "couchdb:3"
	containerUser  = "admin"
	containerPass  = "secret"
)

func init() { startContainer = startOnce }

var (
	once     sync.Once
	started  string
	errStart error
)

// startOnce starts one container per test process, shared by every test.
// It is not terminated here: testcontainers' reaper (Ryuk) removes it when
// the process exits, which is simpler than threading a TestMain through
// every package that uses this helper.
func startOnce() (string, error) {
	once.Do(func() { started, errStart = start() })
	return started, errStart
}

func start() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := testcontainers.Run(ctx, containerImage,
		testcontainers.WithExposedPorts("5984/tcp"),
		testcontainers.WithEnv(map[string]string{
			"COUCHDB_USER":     containerUser,
			"COUCHDB_PASSWORD": containerPass,
		}),
		testcontainers.WithWaitStrategy(wait.ForHTTP("/_up").WithPort("5984/tcp").
			WithStartupTimeout(2*time.Minute)),
	)
	if err != nil {
		return "", err
	}
	hostPort, err := c.PortEndpoint(ctx, "5984/tcp", "")
	if err != nil {
		_ = testcontainers.TerminateContainer(c)
		return "", err
	}
	u := fmt.Sprintf("http://%s:%s@%s", containerUser, containerPass, hostPort)
	// A fresh single node lacks the system databases; CouchDB logs an error
	// for every request until they exist.
	for _, db := range []string{"_users", "_replicator"} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPut, "http://"+hostPort+"/"+db, nil)
		req.SetBasicAuth(containerUser, containerPass)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			_ = testcontainers.TerminateContainer(c)
			return "", err
		}
		resp.Body.Close()
		if resp.StatusCode >= 300 && resp.StatusCode != http.StatusPreconditionFailed {
			_ = testcontainers.TerminateContainer(c)
			return "", fmt.Errorf("create %s: %s", db, strings.TrimSpace(resp.Status))
		}
	}
	return u, nil
}
