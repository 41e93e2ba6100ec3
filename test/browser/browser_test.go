// Package browser drives Monster UI's port screens (the common submodules
// portListing and portWizard of 2600Hz Monster UI) in headless Chromium
// against a real portreqd: a customer files a port request through the
// wizard, comments on it, the port authority's agent moves it to pending,
// scheduled and completed, and the customer sees it completed. Both log in
// through Monster UI's login form, as users the test made through
// portreqd's users API, and portreqd's own user_auth answers.
//
// It needs /usr/bin/chromium, node, test/browser/node_modules (npm ci in
// test/browser) and the Monster UI dist tarball in ../shared/clients beside
// the repository. Without one of them it skips, naming what is missing;
// with CI=true it fails instead.
//
// Run it: go test -count=1 -v ./test/browser
// With BROWSER_SCREENSHOTS_DIR=DIR (relative to the repository root) the
// walk's screenshots are also saved in DIR.
package browser

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	chromiumPath   = "/usr/bin/chromium"
	monsterTarball = "monster-ui-master-3c00cf7-dist.tar.gz"
	masterAPIKey   = "browser-master-key-0123456789abcdef"
	tokenSecret    = "browser-token-secret-0123456789abcdef"
	// The number to port: its NPA-NXX (1 202 555) is in portreqd's sample
	// LNP table, so lnp_lookup names its losing carrier.
	portNumber  = "+12025550123"
	notifyEmail = "carol@customer.example.com"
	walkTimeout = 6 * time.Minute
)

// prerequisites returns what is missing to run the walk (empty: nothing),
// and the paths found.
func prerequisites(repoRoot string) (missing []string, tarball string) {
	if _, err := os.Stat(chromiumPath); err != nil {
		missing = append(missing, chromiumPath+" (Debian package chromium)")
	}
	if _, err := exec.LookPath("node"); err != nil {
		missing = append(missing, "node on PATH (Node.js 18 or later)")
	}
	if _, err := os.Stat(filepath.Join("node_modules", "puppeteer-core", "package.json")); err != nil {
		missing = append(missing, "test/browser/node_modules with puppeteer-core (run: cd test/browser && PUPPETEER_SKIP_DOWNLOAD=1 npm ci)")
	}
	tarball = filepath.Join(filepath.Dir(repoRoot), "shared", "clients", monsterTarball)
	if _, err := os.Stat(tarball); err != nil {
		missing = append(missing, "the Monster UI dist tarball "+tarball)
	}
	return missing, tarball
}

// stepResult is one line "STEP-RESULT {json}" from walk.mjs.
type stepResult struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	OK    bool   `json:"ok"`
	Soft  bool   `json:"soft"`
	Error string `json:"error"`
	MS    int64  `json:"ms"`
}

func TestMonsterUIPortRequestWalk(t *testing.T) {
	repoRoot, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	missing, tarball := prerequisites(repoRoot)
	if len(missing) > 0 {
		msg := "browser walk not runnable; missing:\n  - " + strings.Join(missing, "\n  - ")
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	started := time.Now()

	// portreqd on the embedded store, and the accounts the walk uses: the
	// master (superduper admin and port authority) and a customer below it.
	// lnp_lookup answers from portreqd's sample NPA-NXX table, which holds
	// portNumber's block.
	var extra []string
	if table := filepath.Join(repoRoot, "deploy", "lnp", "sample-npanxx.csv"); fileExists(table) {
		extra = append(extra, "--lnp-table", table)
	} else {
		t.Logf("no %s: lnp_lookup will know no carrier", table)
	}
	srv := startPortreqd(t, buildPortreqd(t), masterAPIKey, tokenSecret, extra...)
	t.Logf("portreqd built and listening at %s (%.1fs)", srv.URL, time.Since(started).Seconds())
	masterToken, masterID := srv.login(t, masterAPIKey)
	created := srv.do(t, http.MethodPut, "/v2/accounts/"+masterID, masterToken,
		map[string]any{"data": map[string]any{"name": "Customer Co"}}, http.StatusCreated)
	customerID, _ := created.data()["id"].(string)
	if customerID == "" {
		t.Fatalf("account create answered no id: %s", created.Raw)
	}
	customerKey, _ := srv.do(t, http.MethodGet, "/v2/accounts/"+customerID+"/api_key", masterToken, nil, http.StatusOK).data()["api_key"].(string)
	customerToken, loggedIn := srv.login(t, customerKey)
	if loggedIn != customerID {
		t.Fatalf("customer key logged in as %s, want %s", loggedIn, customerID)
	}
	master := srv.do(t, http.MethodGet, "/v2/accounts/"+masterID, masterToken, nil, http.StatusOK).data()
	if master["superduper_admin"] != true {
		t.Logf("note: portreqd's master account has no superduper_admin: true (%v); Monster UI hides agent tools without it", master)
	}

	// A user in each account, made through portreqd's users API: the walk
	// logs them in through Monster UI's login form, which portreqd's own
	// user_auth answers. Monster UI hashes the username in lower case.
	masterName, _ := master["name"].(string)
	if masterName == "" {
		t.Fatalf("portreqd's master account has no name to log in with: %v", master)
	}
	agent := walkUser{FirstName: "Alice", LastName: "Agent", Username: "alice@authority.example.com",
		Password: "alice-walks-the-agent-tabs", AccountID: masterID, AccountName: masterName}
	customer := walkUser{FirstName: "Carol", LastName: "Customer", Username: notifyEmail,
		Password: "carol-files-a-port-request", AccountID: customerID, AccountName: "Customer Co"}
	agent.createIn(t, srv, masterToken)
	customer.createIn(t, srv, customerToken)

	gw := startGateway(t, srv.URL)
	ui := startUI(t, unpackMonsterUI(t, tarball), monsterConfig(gw.URL(), masterID))
	t.Logf("Monster UI at %s, API gateway at %s; fixtures:\n%s", ui.URL(), gw.URL(), fixtureTable())

	shots, err := os.MkdirTemp("", "portreqd-browser-shots-")
	if err != nil {
		t.Fatal(err)
	}
	pdfs := t.TempDir()
	extraShots := os.Getenv("BROWSER_SCREENSHOTS_DIR")
	if extraShots != "" && !filepath.IsAbs(extraShots) {
		extraShots = filepath.Join(repoRoot, extraShots)
	}

	env := map[string]string{
		"UI_URL":                  ui.URL(),
		"API_URL":                 gw.URL(),
		"CHROMIUM_PATH":           chromiumPath,
		"CUSTOMER_USERNAME":       customer.Username,
		"CUSTOMER_PASSWORD":       customer.Password,
		"CUSTOMER_ACCOUNT_NAME":   customer.AccountName,
		"CUSTOMER_ACCOUNT_ID":     customerID,
		"CUSTOMER_USER_ID":        customer.ID,
		"CUSTOMER_NAME":           customer.FirstName + " " + customer.LastName,
		"AGENT_USERNAME":          agent.Username,
		"AGENT_PASSWORD":          agent.Password,
		"MASTER_ACCOUNT_NAME":     agent.AccountName,
		"MASTER_ACCOUNT_ID":       masterID,
		"AGENT_USER_ID":           agent.ID,
		"AGENT_NAME":              agent.FirstName + " " + agent.LastName,
		"PORT_NUMBER":             portNumber,
		"NOTIFY_EMAIL":            notifyEmail,
		"BILL_PDF":                writePDF(t, pdfs, "bill.pdf", "Customer Co - phone bill - +1 202 555 0123"),
		"LOA_PDF":                 writePDF(t, pdfs, "loa.pdf", "Letter of authorization - Carol Customer"),
		"SCREENSHOT_DIR":          shots,
		"BROWSER_SCREENSHOTS_DIR": extraShots,
		"PUPPETEER_SKIP_DOWNLOAD": "1",
		"TZ":                      "UTC", // dates the walk checks are computed in the browser's zone
	}
	results, portRequestID, walkErr := runWalk(t, env)

	// What the UI called, who answered it, and how.
	t.Logf("Kazoo APIs Monster UI called through the gateway:\n%s", gw.summary())
	t.Logf("walk steps:\n%s", stepTable(results))
	if missing := ui.missingFiles(); len(missing) > 0 {
		t.Logf("Monster UI asked for files its dist lacks (404, not portreqd's): %s", strings.Join(missing, ", "))
	}

	for _, h := range gw.unexpectedPortreqdErrors() {
		t.Errorf("portreqd answered the UI %d to %s %s?%s (%s)\n    request body: %s\n    response: %s",
			h.Status, h.Method, h.Path, h.Query, h.Template, orNone(h.ReqBody), orNone(h.RespBody))
	}
	for _, msg := range gw.loginProblems([]walkUser{customer, agent}) {
		t.Error(msg)
	}
	for _, h := range gw.unhandled() {
		t.Errorf("the UI called %s %s?%s, which neither portreqd's routes nor a fixture answer (add one to the fixtures table)",
			h.Method, h.Path, h.Query)
	}
	if walkErr != nil {
		t.Errorf("walk.mjs: %v (screenshots kept in %s)", walkErr, shots)
	} else if err := os.RemoveAll(shots); err != nil {
		t.Log(err)
	}
	if walkErr == nil {
		// The UI said completed; so must the API.
		if portRequestID == "" {
			t.Errorf("walk.mjs passed without naming the port request")
		} else {
			got := srv.do(t, http.MethodGet, "/v2/accounts/"+customerID+"/port_requests/"+portRequestID, customerToken, nil, http.StatusOK).data()
			if got["port_state"] != "completed" {
				t.Errorf("after the walk, portreqd has port_state %v, want completed", got["port_state"])
			}
		}
	}
	t.Logf("total %.1fs", time.Since(started).Seconds())
}

// runWalk runs node walk.mjs with env, streaming its output to the test
// log, and returns the steps it reported, the port request it created and
// its failure.
func runWalk(t *testing.T, env map[string]string) ([]stepResult, string, error) {
	t.Helper()
	cmd := exec.Command("node", "walk.mjs")
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	// Its own process group, so that Chromium goes with node.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killGroup := func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }

	var (
		mu            sync.Mutex
		results       []stepResult
		portRequestID string
	)
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "STEP-RESULT "):
				var r stepResult
				if json.Unmarshal([]byte(strings.TrimPrefix(line, "STEP-RESULT ")), &r) == nil {
					mu.Lock()
					results = append(results, r)
					mu.Unlock()
				}
			case strings.HasPrefix(line, "PORT-REQUEST-ID "):
				mu.Lock()
				portRequestID = strings.TrimSpace(strings.TrimPrefix(line, "PORT-REQUEST-ID "))
				mu.Unlock()
			}
			t.Log("walk: " + line)
		}
	}()

	timer := time.AfterFunc(walkTimeout, func() {
		t.Logf("walk.mjs still running after %s: killing it", walkTimeout)
		killGroup()
	})
	<-scanned
	err = cmd.Wait()
	timer.Stop()
	killGroup() // whatever of Chromium outlived node
	mu.Lock()
	defer mu.Unlock()
	if err != nil {
		for _, r := range results {
			if !r.OK {
				return results, portRequestID, fmt.Errorf("%v; first failed step %s (%s): %s", err, r.ID, r.Title, r.Error)
			}
		}
		return results, portRequestID, err
	}
	return results, portRequestID, nil
}

func stepTable(results []stepResult) string {
	if len(results) == 0 {
		return "  (none reported)"
	}
	var b strings.Builder
	for _, r := range results {
		mark := "PASS"
		if !r.OK {
			mark = "FAIL"
			if r.Soft {
				mark = "FAIL (soft)"
			}
		}
		fmt.Fprintf(&b, "  %-11s %-4s %-62s %6.1fs", mark, r.ID, r.Title, float64(r.MS)/1000)
		if r.Error != "" {
			fmt.Fprintf(&b, "  — %s", firstLine(r.Error))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// walkUser is a user the test makes in an account, and logs in through
// the login form.
type walkUser struct {
	FirstName, LastName string
	Username, Password  string
	AccountID           string
	AccountName         string // what the login form's account name field takes
	ID                  string // set by createIn
}

// createIn makes u through portreqd's PUT /v2/accounts/{A}/users with
// token, as an admin of its account.
func (u *walkUser) createIn(t *testing.T, srv *portreqd, token string) {
	t.Helper()
	created := srv.do(t, http.MethodPut, "/v2/accounts/"+u.AccountID+"/users", token, map[string]any{"data": map[string]any{
		"first_name": u.FirstName, "last_name": u.LastName, "username": u.Username, "password": u.Password,
		"email": u.Username, "priv_level": "admin"}}, http.StatusCreated).data()
	u.ID, _ = created["id"].(string)
	if u.ID == "" {
		t.Fatalf("user create answered no id: %v", created)
	}
	if _, ok := created["password"]; ok {
		t.Fatalf("user create echoed the password: %v", created)
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
