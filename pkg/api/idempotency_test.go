package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/portreqd/portreqd/pkg/kazoo"
	"github.com/portreqd/portreqd/pkg/porting"
)

// A creation sent again under its Idempotency-Key answers the request the
// first one made, once, however many are sent and however concurrently;
// the key with other data, or after that request was deleted, is 422 and
// creates nothing; a bad key is 400; another account's same key is its
// own; without a key, each PUT creates.
func TestIdempotentCreate(t *testing.T) {
	onBothStores(t, "idem_", testIdempotentCreate)
}

func testIdempotentCreate(t *testing.T, store *kazoo.Store) {
	f := newSessionsFixture(t, store)
	child, err := f.svc.CreateAccount(t.Context(), f.master, f.customer.ID, porting.Fields{"name": json.RawMessage(`"Branch"`)})
	if err != nil {
		t.Fatal(err)
	}
	type answer struct {
		Status   int
		ID       string
		Replayed string
		Message  string
	}
	putRaw := func(account, key, body string) answer {
		t.Helper()
		req, _ := http.NewRequest("PUT", f.srv+"/v2/accounts/"+account+"/port_requests", strings.NewReader(body))
		req.Header.Set("X-Auth-Token", f.keyTok)
		if key != "-" {
			req.Header.Set("Idempotency-Key", key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return answer{}
		}
		defer resp.Body.Close()
		var env struct {
			Message string `json:"message"`
			Data    struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&env)
		a := answer{Status: resp.StatusCode, ID: env.Data.ID, Replayed: resp.Header.Get("Idempotent-Replayed")}
		if resp.StatusCode >= 300 {
			a.Message = env.Message
		}
		return a
	}
	put := func(account, key, name string) answer {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"data": map[string]any{"name": name,
			"numbers": map[string]any{"+13125550177": map[string]any{}}}})
		return putRaw(account, key, string(body))
	}
	count := func(account string) int {
		t.Helper()
		st, env := f.call(t, "GET", "/v2/accounts/"+account+"/port_requests?by_types=all", f.keyTok, nil)
		if st != http.StatusOK {
			t.Fatalf("listing: %d %v", st, env)
		}
		n := 0
		for _, group := range env["data"].([]any) {
			n += len(group.(map[string]any)["port_requests"].([]any))
		}
		return n
	}

	first := put(f.customer.ID, "order-1001", "Move the main line")
	if first.Status != http.StatusCreated || first.ID == "" || first.Replayed != "" {
		t.Fatalf("first PUT under a key: %+v", first)
	}
	if again := put(f.customer.ID, "order-1001", "Move the main line"); again != (answer{Status: http.StatusCreated, ID: first.ID, Replayed: "true"}) {
		t.Errorf("the same PUT again: %+v, want the first request, replayed", again)
	}
	if other := put(f.customer.ID, "order-1001", "Move another line"); other.Status != http.StatusUnprocessableEntity {
		t.Errorf("the key with other data: %+v, want 422", other)
	}
	if n := count(f.customer.ID); n != 1 {
		t.Errorf("requests after three PUTs under one key: %d, want 1", n)
	}

	// Concurrent repeats: one request, every answer names it.
	var wg sync.WaitGroup
	answers := make([]answer, 8)
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = put(f.customer.ID, "order-1002", "Move the fax line")
		}()
	}
	wg.Wait()
	replays := 0
	for _, a := range answers {
		if a.Status != http.StatusCreated || a.ID != answers[0].ID {
			t.Errorf("concurrent PUTs under one key: %+v, want 201 naming %s", a, answers[0].ID)
		}
		if a.Replayed == "true" {
			replays++
		}
	}
	if replays != len(answers)-1 {
		t.Errorf("concurrent PUTs under one key: %d replayed, want %d", replays, len(answers)-1)
	}
	if n := count(f.customer.ID); n != 2 {
		t.Errorf("requests after the concurrent PUTs: %d, want 2", n)
	}

	// The same data with its members in another order is the same data.
	sorted := putRaw(f.customer.ID, "order-1003", `{"data": {"name": "Move the fax", "numbers": {"+13125550178": {"a": 1, "b": 2}}}}`)
	shuffled := putRaw(f.customer.ID, "order-1003", `{"data": {"numbers": {"+13125550178": {"b": 2, "a": 1}}, "name": "Move the fax"}}`)
	if sorted.Status != http.StatusCreated || shuffled != (answer{Status: http.StatusCreated, ID: sorted.ID, Replayed: "true"}) {
		t.Errorf("the same data reordered: %+v then %+v, want one request, replayed", sorted, shuffled)
	}

	// Another account's same key is its own.
	branch := put(child.ID, "order-1001", "Move the main line")
	if branch.Status != http.StatusCreated || branch.ID == first.ID || branch.Replayed != "" {
		t.Errorf("another account's same key: %+v, want a new request", branch)
	}

	// Bad keys change nothing.
	for _, key := range []string{"", strings.Repeat("k", 256), "caf\u00e9"} {
		if a := put(f.customer.ID, key, "Move the main line"); a.Status != http.StatusBadRequest {
			t.Errorf("Idempotency-Key %q: %+v, want 400", key, a)
		}
	}

	// A deleted request's key stays used.
	if st, env := f.call(t, "DELETE", "/v2/accounts/"+f.customer.ID+"/port_requests/"+first.ID, f.keyTok, nil); st != http.StatusOK {
		t.Fatalf("delete: %d %v", st, env)
	}
	if a := put(f.customer.ID, "order-1001", "Move the main line"); a.Status != http.StatusUnprocessableEntity {
		t.Errorf("the key of a deleted request: %+v, want 422", a)
	}

	// Without a key, each PUT creates.
	before := count(f.customer.ID)
	put(f.customer.ID, "-", "Move the main line")
	put(f.customer.ID, "-", "Move the main line")
	if n := count(f.customer.ID); n != before+2 {
		t.Errorf("two PUTs without a key: %d requests, want %d", n, before+2)
	}
}
