package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestCompletionCutByKill9 kills portreqd (SIGKILL) while it completes a
// batch of pending requests, restarts it with a short --completion-grace and
// checks the completion invariant once its recovery pass has run: every
// request is completed with all its numbers in service, or still pending
// with none of them; and every request left pending can then be completed.
// The kill moment adapts until some completion was caught half-done (the
// restarted process logs the rollback), so the test proves the cut-off case
// rather than hoping for it.
func TestCompletionCutByKill9(t *testing.T) { forEachStore(t, testCompletionCutByKill9) }

const rollbackLog = "rolling back a completion cut off half-done"

func testCompletionCutByKill9(t *testing.T, e *env) {
	s := e.start(t)
	mtok, master := s.login(t, e.apiKey)
	tok, acct := s.customer(t, mtok, master, "Kill Complete")
	base := "/v2/accounts/" + acct + "/port_requests/"
	const batch, perRequest, minRounds, maxRounds = 8, 4, 3, 8
	delay := 20 * time.Millisecond // adapted: shorter when the kill came late, longer when early
	if e.kind == storeCouch {
		delay = 60 * time.Millisecond // a completion is more round trips there
	}
	rolledBack, serial := 0, 0
	for round := 0; round < maxRounds && (rolledBack == 0 || round < minRounds); round++ {
		numbers := map[string][]string{}
		var ids []string
		for i := range batch {
			var ns []string
			for range perRequest {
				serial++
				ns = append(ns, fmt.Sprintf("+1720555%04d", serial))
			}
			id := s.createRequest(t, tok, acct, fmt.Sprintf("kill %d.%d", round, i), ns...)
			s.do(t, "PATCH", base+id+"/submitted", tok, nil).expect(t, 200)
			s.do(t, "PATCH", base+id+"/pending", mtok, nil).expect(t, 200)
			numbers[id] = ns
			ids = append(ids, id)
		}
		var wg sync.WaitGroup
		for _, id := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// The answer is lost with the process; only the store counts.
				req, _ := http.NewRequestWithContext(withTest(context.Background(), t), "PATCH", s.URL+base+id+"/completed", nil)
				req.Header.Set("X-Auth-Token", mtok)
				if resp, err := apiClient.Do(req); err == nil {
					resp.Body.Close()
				}
			}()
		}
		time.Sleep(delay)
		s.kill9(t)
		wg.Wait()

		time.Sleep(1100 * time.Millisecond) // every intent is now older than the grace
		s = e.start(t, "--completion-grace", "1s")
		states := waitWhole(t, s, tok, acct, base, ids, numbers)
		completed := strings.Count(strings.Join(states, ","), "completed")
		rolled := strings.Count(s.logs.String(), rollbackLog)
		t.Logf("round %d: kill after %s: %d of %d completed, %d rolled back at restart", round, delay, completed, batch, rolled)
		rolledBack += rolled
		switch {
		case completed == batch:
			delay = delay * 2 / 3
		case completed == 0 && rolled == 0:
			delay = delay * 3 / 2
		}
		// Nothing is stuck: what stayed pending completes now.
		for i, id := range ids {
			if states[i] == "pending" {
				s.do(t, "PATCH", base+id+"/completed", mtok, nil).expect(t, 200)
			}
		}
		waitWhole(t, s, tok, acct, base, ids, numbers)
	}
	if rolledBack == 0 {
		t.Fatalf("no kill in %d rounds caught a completion half-done: the cut-off case went untested", maxRounds)
	}
}

// waitWhole waits (10 s at most) until every request of ids is whole:
// completed with all its numbers in service, or pending with none; it
// returns their states in the order of ids.
func waitWhole(t *testing.T, s *server, tok, acct, base string, ids []string, numbers map[string][]string) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		inService, _ := s.do(t, "GET", "/v2/accounts/"+acct+"/phone_numbers", tok, nil).expect(t, 200).data()["numbers"].(map[string]any)
		var states, broken []string
		for _, id := range ids {
			ns := numbers[id]
			state := s.do(t, "GET", base+id, tok, nil).expect(t, 200).data()["port_state"]
			states = append(states, fmt.Sprint(state))
			in := 0
			for _, n := range ns {
				if _, ok := inService[n]; ok {
					in++
				}
			}
			if !(state == "completed" && in == len(ns)) && !(state == "pending" && in == 0) {
				broken = append(broken, fmt.Sprintf("%s %v with %d of %d numbers in service", id, state, in, len(ns)))
			}
		}
		if len(broken) == 0 {
			return states
		}
		if time.Now().After(deadline) {
			t.Fatalf("not whole 10 s after restart: %v", broken)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
