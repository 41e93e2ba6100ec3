//go:build docker

package couchdbtest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/portreqd/portreqd/pkg/engine/couch"
)

// Environment:
//
//	PORTREQ_TEST_COUCHDB_IMAGE    image to run (default couchdb:3, the official
//	                              image, pulled when absent). portreqd/couchdb:*
//	                              images come from couchdb/docker-image and
//	                              must be present: they are never pulled.
//	PORTREQ_TEST_COUCHDB_NETWORK  "host": run on the host network. Implied for
//	                              portreqd/couchdb:* images. The image must then
//	                              honour COUCHDB_PORT and COUCHDB_BIND.
//	PORTREQ_TEST_COUCHDB_KEEP     "1": when the test binary exits, stop the
//	                              container but do not remove it, so that a CI
//	                              script can list it (label portreqd.test=1) and
//	                              remove it itself (.ci/docker-tests does).
//	PORTREQ_TEST_RUN              an id put on the containers as the label
//	                              portreqd.test.run, so that a CI script finds
//	                              the containers of its own run.
//	PORTREQ_TEST_COUCHDB_REPORT   a file to which each test binary appends the
//	                              line describing its container (also written
//	                              to stderr, which go test shows only with -v
//	                              or on failure).
const (
	envImage   = "PORTREQ_TEST_COUCHDB_IMAGE"
	envNetwork = "PORTREQ_TEST_COUCHDB_NETWORK"
	envKeep    = "PORTREQ_TEST_COUCHDB_KEEP"
	envRun     = "PORTREQ_TEST_RUN"
	envReport  = "PORTREQ_TEST_COUCHDB_REPORT"
	// envReaper makes the test binary, re-executed, the reaper of the
	// container it names (see watchContainer).
	envReaper = "PORTREQ_COUCHDBTEST_REAPER"

	defaultImage = "couchdb:3"
	// localImagePrefix names the images couchdb/docker-image builds: they
	// run couchdb-node and are never pulled (there is no such repository).
	localImagePrefix = "portreqd/couchdb:"

	containerUser = "admin"
	containerPass = "secret"

	// labelTest is on every container started here, so that leftovers can be
	// found: docker ps -a --filter label=portreqd.test=1.
	labelTest = "portreqd.test"
	// labelBinary names the test binary (e.g. kazoo.test) that started it.
	labelBinary = "portreqd.test.binary"
	// labelRun is PORTREQ_TEST_RUN, when set: a CI run's id.
	labelRun = "portreqd.test.run"
)

func init() {
	if id := os.Getenv(envReaper); id != "" {
		os.Exit(reap(id))
	}
	startContainer = startOnce
	containerImage = imageName
}

func imageName() string {
	if img := os.Getenv(envImage); img != "" {
		return img
	}
	return defaultImage
}

var (
	once       sync.Once
	startedURL string
	startDesc  string
	errStart   error
)

// startOnce starts one container per test process, shared by every test.
//
// Nothing in the test process terminates it: there is no hook that runs when
// the last test of a package is done without a TestMain in every package that
// uses this helper. Instead a reaper process is started with it (see
// watchContainer), which removes the container when the test binary exits,
// however it exits; testcontainers' own reaper (Ryuk) does the same where its
// image can be pulled. As a last resort every container carries the label
// portreqd.test=1, and .ci/docker-tests removes those by label.
func startOnce() (string, string, error) {
	once.Do(func() { startedURL, startDesc, errStart = start() })
	return startedURL, startDesc, errStart
}

func start() (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	t0 := time.Now()
	img := imageName()
	var (
		c   testcontainers.Container
		u   string
		err error
	)
	if strings.HasPrefix(img, localImagePrefix) || os.Getenv(envNetwork) == "host" {
		c, u, err = startHostNetwork(ctx, img)
	} else {
		c, u, err = startMappedPort(ctx, img)
	}
	if err != nil {
		return "", "", err
	}
	// A fresh single node may lack the system databases (the official image
	// does; couchdb-node creates them); CouchDB logs an error for every
	// request until they exist.
	if err := createSystemDBs(ctx, u); err != nil {
		_ = testcontainers.TerminateContainer(c)
		return "", "", err
	}
	desc := img
	if info, err := c.Inspect(ctx); err == nil {
		desc += " image " + info.Image
	}
	desc += ", container " + shortID(c.GetContainerID())
	line := fmt.Sprintf("couchdbtest: %s: CouchDB: testcontainers %s at %s (ready in %s)\n",
		filepath.Base(os.Args[0]), desc, couch.MaskURL(u), time.Since(t0).Round(100*time.Millisecond))
	// go test shows a passing package's output only with -v; a CI script
	// can collect these lines from PORTREQ_TEST_COUCHDB_REPORT instead.
	fmt.Fprint(os.Stderr, line)
	if report := os.Getenv(envReport); report != "" {
		if f, err := os.OpenFile(report, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err == nil {
			_, _ = f.WriteString(line)
			_ = f.Close()
		}
	}
	return u, desc, nil
}

// testLabels are the labels of every container started here.
func testLabels() map[string]string {
	l := map[string]string{
		labelTest:   "1",
		labelBinary: filepath.Base(os.Args[0]),
	}
	if run := os.Getenv(envRun); run != "" {
		l[labelRun] = run
	}
	return l
}

// startMappedPort runs img on Docker's default network with port 5984
// published on a random host port: the official couchdb:3 image, on a
// machine that can pull it.
func startMappedPort(ctx context.Context, img string) (testcontainers.Container, string, error) {
	c, err := testcontainers.Run(ctx, img,
		testcontainers.WithExposedPorts("5984/tcp"),
		testcontainers.WithEnv(map[string]string{
			"COUCHDB_USER":     containerUser,
			"COUCHDB_PASSWORD": containerPass,
		}),
		testcontainers.WithLabels(testLabels()),
		testcontainers.WithAdditionalLifecycleHooks(reaperHooks()),
		testcontainers.WithWaitStrategy(wait.ForHTTP("/_up").WithPort("5984/tcp").
			WithStartupTimeout(2*time.Minute)),
	)
	if err != nil {
		if c != nil {
			_ = testcontainers.TerminateContainer(c)
		}
		return nil, "", err
	}
	hostPort, err := c.PortEndpoint(ctx, "5984/tcp", "")
	if err != nil {
		_ = testcontainers.TerminateContainer(c)
		return nil, "", err
	}
	return c, fmt.Sprintf("http://%s:%s@%s", containerUser, containerPass, hostPort), nil
}

// errPortTaken: another process listens on the port chosen for the container.
var errPortTaken = errors.New("port taken by another process")

// startHostNetwork runs img on the host network, listening on a free
// loopback port chosen here (COUCHDB_PORT) on 127.0.0.1 (COUCHDB_BIND): no
// bridge network, no published ports, nothing outside loopback.
//
// The provider is made with "host" as its default network: through
// testcontainers.Run the Docker provider insists on a network named bridge
// and, on a daemon without one (dockerd --bridge=none), creates a bridge
// network ("reaper_default") in a private address range.
//
// The image is never pulled when present: testcontainers-go (v0.45,
// DockerProvider.CreateContainer) pulls only when AlwaysPullImage is set, or
// ImageInspect reports the image missing, or an ImagePlatform is requested
// that differs from the local image's; none of these is the case here.
func startHostNetwork(ctx context.Context, img string) (testcontainers.Container, string, error) {
	if strings.HasPrefix(img, localImagePrefix) {
		// Say so plainly rather than let testcontainers try to pull it.
		cli, err := testcontainers.NewDockerClientWithOpts(ctx)
		if err != nil {
			return nil, "", err
		}
		_, err = cli.ImageInspect(ctx, img)
		cli.Close()
		if err != nil {
			return nil, "", fmt.Errorf("image %s (never pulled: build it with couchdb/docker-image): %w", img, err)
		}
	}
	provider, err := testcontainers.NewDockerProvider(testcontainers.WithDefaultBridgeNetwork("host"))
	if err != nil {
		return nil, "", err
	}
	defer provider.Close()
	var errs []error
	// Between choosing the port and the server binding it another process
	// may take it; then try another one.
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freeLoopbackPort()
		if err != nil {
			return nil, "", err
		}
		req := testcontainers.ContainerRequest{
			Image: img,
			Env: map[string]string{
				"COUCHDB_PORT":     strconv.Itoa(port),
				"COUCHDB_BIND":     "127.0.0.1",
				"COUCHDB_USER":     containerUser,
				"COUCHDB_PASSWORD": containerPass,
			},
			Labels: testLabels(),
			HostConfigModifier: func(hc *container.HostConfig) {
				hc.NetworkMode = "host"
			},
			LifecycleHooks: []testcontainers.ContainerLifecycleHooks{reaperHooks()},
		}
		up := &couchUp{port: port}
		if strings.HasPrefix(img, localImagePrefix) {
			// couchdb-node arguments: a node name unique to this container,
			// which tells our server from any other answering on the port.
			up.node = fmt.Sprintf("couchdbtest%d_%d", port, os.Getpid())
			req.Cmd = []string{"-n", up.node}
		}
		req.WaitingFor = up
		c, err := provider.RunContainer(ctx, req)
		if err == nil {
			return c, fmt.Sprintf("http://%s:%s@127.0.0.1:%d", containerUser, containerPass, port), nil
		}
		if c != nil {
			_ = testcontainers.TerminateContainer(c)
		}
		errs = append(errs, err)
		if !errors.Is(err, errPortTaken) {
			break
		}
	}
	return nil, "", errors.Join(errs...)
}

// freeLoopbackPort returns a TCP port that was free on 127.0.0.1 just now.
func freeLoopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// couchUp waits until GET /_up on 127.0.0.1:port answers 200 and, when node
// is set, the server there is the node of that name: our container. It fails
// at once when the container exits.
type couchUp struct {
	port int
	node string
}

func (s *couchUp) String() string {
	return fmt.Sprintf("GET http://127.0.0.1:%d/_up = 200", s.port)
}

func (s *couchUp) WaitUntilReady(ctx context.Context, target wait.StrategyTarget) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	base := fmt.Sprintf("http://127.0.0.1:%d", s.port)
	hc := &http.Client{Timeout: 5 * time.Second}
	for {
		state, err := target.State(ctx)
		if err == nil && !state.Running {
			logs := tailLogs(ctx, target, 15)
			err := fmt.Errorf("container %s before CouchDB was up on 127.0.0.1:%d; its log ends:\n%s",
				state.Status, s.port, logs)
			if strings.Contains(logs, "eaddrinuse") {
				err = fmt.Errorf("%w: %w", errPortTaken, err)
			}
			return err
		}
		if status(ctx, hc, base+"/_up") == http.StatusOK {
			if s.node == "" {
				return nil
			}
			switch name := nodeName(ctx, hc, base); name {
			case s.node + "@127.0.0.1":
				return nil
			default:
				return fmt.Errorf("%w: 127.0.0.1:%d answers as node %q, not %s", errPortTaken, s.port, name, s.node)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("CouchDB not up on 127.0.0.1:%d: %w; container log ends:\n%s",
				s.port, ctx.Err(), tailLogs(context.Background(), target, 15))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// status is the HTTP status of GET url, 0 when there is no answer.
func status(ctx context.Context, hc *http.Client, url string) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0
	}
	req.SetBasicAuth(containerUser, containerPass)
	resp, err := hc.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// nodeName is the Erlang node name of the server at base ("" if unknown).
func nodeName(ctx context.Context, hc *http.Client, base string) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/_node/_local", nil)
	if err != nil {
		return ""
	}
	req.SetBasicAuth(containerUser, containerPass)
	resp, err := hc.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var v struct {
		Name string `json:"name"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&v) != nil {
		return fmt.Sprintf("(HTTP %d)", resp.StatusCode)
	}
	return v.Name
}

// tailLogs returns the last n lines of the container's output.
func tailLogs(ctx context.Context, target wait.StrategyTarget, n int) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rc, err := target.Logs(ctx)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	defer rc.Close()
	var lines []string
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// createSystemDBs creates _users and _replicator unless they exist (412).
// A single node that has just come up may be creating them itself: a 5xx
// answer is retried for a while.
func createSystemDBs(ctx context.Context, u string) error {
	for _, db := range []string{"_users", "_replicator"} {
		var last string
		for attempt := 0; ; attempt++ {
			req, err := http.NewRequestWithContext(ctx, http.MethodPut, u+"/"+db, nil)
			if err != nil {
				return err
			}
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
				resp.Body.Close()
				switch {
				case resp.StatusCode < 300 || resp.StatusCode == http.StatusPreconditionFailed:
					last = ""
				case resp.StatusCode >= 500:
					last = fmt.Sprintf("%s %s", resp.Status, strings.TrimSpace(string(body)))
				default:
					return fmt.Errorf("create %s: %s %s", db, resp.Status, strings.TrimSpace(string(body)))
				}
			} else {
				last = err.Error()
			}
			if last == "" {
				break
			}
			if attempt >= 40 {
				return fmt.Errorf("create %s: %s", db, last)
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("create %s: %s (%w)", db, last, ctx.Err())
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
	return nil
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// reaperPipes are the write ends of the reapers' stdin. They stay open (and
// referenced, so that no finalizer closes them) for the life of this
// process; the kernel closes them when it exits.
var (
	reaperMu    sync.Mutex
	reaperPipes []*os.File
)

// reaperHooks start the reaper as soon as the container exists, before it is
// started and waited for, so that no exit of this process can leak it.
func reaperHooks() testcontainers.ContainerLifecycleHooks {
	return testcontainers.ContainerLifecycleHooks{
		PostCreates: []testcontainers.ContainerHook{
			func(_ context.Context, c testcontainers.Container) error {
				if err := watchContainer(c.GetContainerID()); err != nil {
					// Not fatal: the container outlives this process, and
					// the label finds it.
					fmt.Fprintf(os.Stderr, "couchdbtest: %v; container %s will outlive this test binary: docker rm -f $(docker ps -aq --filter label=%s=1)\n",
						err, shortID(c.GetContainerID()), labelTest)
				}
				return nil
			},
		},
	}
}

// watchContainer starts this test binary again as the reaper of container
// id: a child process that waits for end of file on its stdin, a pipe whose
// only write end this process holds, and then removes the container. End of
// file comes when this process exits, normally or not (os.Exit after the
// tests, a panic, -timeout, SIGKILL).
func watchContainer(id string) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("couchdbtest: reaper: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("couchdbtest: reaper: %w", err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), envReaper+"="+id)
	cmd.Stdin = r
	// No stdout/stderr: go test waits for EOF on the test binary's output,
	// which must not wait for the reaper.
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return fmt.Errorf("couchdbtest: start reaper: %w", err)
	}
	r.Close()
	go func() { _ = cmd.Wait() }()
	reaperMu.Lock()
	reaperPipes = append(reaperPipes, w)
	reaperMu.Unlock()
	return nil
}

// reap is the reaper process (see watchContainer): it returns its exit code.
func reap(id string) int {
	// Outlive a Ctrl-C or hang-up aimed at the whole process group.
	signal.Ignore(os.Interrupt, syscall.SIGHUP)
	_, _ = io.Copy(io.Discard, os.Stdin)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return 1
	}
	defer cli.Close()
	if os.Getenv(envKeep) == "1" {
		timeout := 10
		_, err = cli.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &timeout})
	} else {
		_, err = cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	}
	if err != nil {
		return 1
	}
	return 0
}
