package jsview

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestAgainstCouchDB stores a corpus of Kazoo-shaped documents (port
// requests and accounts like the repository's fixtures, plus odd ones) with
// every design document of views/ (portreqd/, kazoo/) and testdata/*.json in a real
// CouchDB, queries every view, and expects the rows jsview computes to be
// CouchDB's: the same ids, keys and values byte for byte. Rows are compared
// as multisets (the order of rows is the collation package's business); for
// views with a reduce, jsview's Reduce over its own rows, put in CouchDB's
// order, must give CouchDB's answer for group=false, group=true and
// group_level 1 to 3.
//
// It runs when COUCHDB_URL names a server (with credentials), e.g.
//
//	URL=$(couchdb/apache-couchdb start | tail -n1)
//	COUCHDB_URL=$URL go test -count=1 ./pkg/engine/jsview
func TestAgainstCouchDB(t *testing.T) {
	base := os.Getenv("COUCHDB_URL")
	if base == "" {
		t.Skip("COUCHDB_URL is not set: no CouchDB to compare with")
	}
	c := &couchClient{t: t, http: &http.Client{Timeout: 2 * time.Minute}}
	c.db = strings.TrimRight(base, "/") + fmt.Sprintf("/jsview_test_%d", time.Now().UnixNano())
	c.must("PUT", "", nil, http.StatusCreated)
	t.Cleanup(func() { c.do("DELETE", "", nil) })

	// Design documents: the repository's, this package's test ones, and any
	// named by JSVIEW_DESIGN_DOCS (a glob, e.g. over a Kazoo checkout's
	// */priv/couchdb/views/*.json).
	files := repoDesignFiles(t)
	more, _ := filepath.Glob("testdata/*.json")
	files = append(files, more...)
	if g := os.Getenv("JSVIEW_DESIGN_DOCS"); g != "" {
		extra, err := filepath.Glob(g)
		if err != nil || len(extra) == 0 {
			t.Fatalf("JSVIEW_DESIGN_DOCS=%s: no files (%v)", g, err)
		}
		files = append(files, extra...)
	}
	designs := map[string]*Design{}
	var designIDs []string
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		d, err := Compile(raw)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if designs[d.ID()] != nil {
			// One id in several databases (_design/portreqd,
			// _design/numbers): here all go into one, under ids of
			// their own.
			var doc map[string]any
			if err := json.Unmarshal(raw, &doc); err != nil {
				t.Fatal(err)
			}
			doc["_id"] = fmt.Sprintf("%s_%d", d.ID(), len(designIDs))
			if raw, err = json.Marshal(doc); err != nil {
				t.Fatal(err)
			}
			if d, err = Compile(raw); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
		}
		designs[d.ID()] = d
		designIDs = append(designIDs, d.ID())
		c.must("PUT", "/"+d.ID(), couchDesign(t, raw), http.StatusCreated)
	}
	sort.Strings(designIDs)

	docs := corpus(t)
	resp := c.must("POST", "/_bulk_docs", map[string]any{"docs": docs}, http.StatusCreated)
	var results []struct {
		ID    string `json:"id"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(resp, &results); err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.Error != "" {
			t.Fatalf("storing %s: %s", r.ID, r.Error)
		}
	}

	// Map every stored document as CouchDB hands it over (with _rev and
	// attachment stubs); design documents included, which must emit nothing.
	var all struct {
		Rows []struct {
			ID  string          `json:"id"`
			Doc json.RawMessage `json:"doc"`
		} `json:"rows"`
	}
	if err := json.Unmarshal(c.must("GET", "/_all_docs?include_docs=true", nil, http.StatusOK), &all); err != nil {
		t.Fatal(err)
	}
	if len(all.Rows) != len(docs)+len(designs) {
		t.Fatalf("%d documents stored, %d read back", len(docs)+len(designs), len(all.Rows))
	}
	ours := map[string][]Row{} // "ddoc/view" → rows
	skips := 0
	for _, id := range designIDs {
		d := designs[id]
		for _, r := range all.Rows {
			rows, skipped, err := d.MapAll(r.Doc)
			if err != nil {
				t.Fatalf("%s: map %s: %v", id, r.ID, err)
			}
			for view, rs := range rows {
				ours[id+"/"+view] = append(ours[id+"/"+view], rs...)
			}
			for _, e := range skipped {
				if e.Fatal {
					t.Errorf("%s: fatal %v", id, e)
				}
				skips++
			}
		}
	}
	t.Logf("%d documents, %d design documents, %d (view, document) pairs skipped for errors", len(docs), len(designs), skips)

	nViews, nRows, nReduce := 0, 0, 0
	for _, id := range designIDs {
		d := designs[id]
		for _, v := range d.Views() {
			nViews++
			path := "/" + id + "/_view/" + v.Name
			q := ""
			if v.Reduce != "" {
				q = "?reduce=false"
			}
			theirs := c.viewRows(path + q)
			mine := ours[id+"/"+v.Name]
			nRows += len(theirs)
			if !sameRows(t, id+"/"+v.Name, theirs, mine) || v.Reduce == "" {
				continue
			}
			if !strings.HasPrefix(v.Reduce, "_") {
				// jsview reduces with CouchDB's built-in functions only
				// (Kazoo's ledgers views have their own; the embedded
				// engine installs no Kazoo design documents): their map
				// rows are compared above.
				continue
			}
			ordered := inCouchOrder(theirs, mine)
			for _, g := range []struct {
				query string
				level int
			}{{"", GroupAll}, {"?group=true", GroupExact}, {"?group_level=1", 1}, {"?group_level=2", 2}, {"?group_level=3", 3}} {
				nReduce++
				want := c.viewRows(path + g.query)
				got, err := d.Reduce(v.Name, ordered, g.level)
				if err != nil {
					t.Errorf("%s%s: %v", path, g.query, err)
					continue
				}
				if a, b := rowLines(want, false), rowLines(got, false); strings.Join(a, "\n") != strings.Join(b, "\n") {
					t.Errorf("%s%s:\nCouchDB %q\n jsview %q", path, g.query, a, b)
				}
			}
		}
	}
	t.Logf("compared %d views, %d rows, %d reduce queries", nViews, nRows, nReduce)
}

// sameRows compares two row multisets and reports the differences.
func sameRows(t *testing.T, name string, theirs, mine []Row) bool {
	t.Helper()
	a, b := rowLines(theirs, true), rowLines(mine, true)
	sort.Strings(a)
	sort.Strings(b)
	if strings.Join(a, "\n") == strings.Join(b, "\n") {
		return true
	}
	count := map[string]int{}
	for _, l := range a {
		count[l]++
	}
	for _, l := range b {
		count[l]--
	}
	var diff []string
	for l, n := range count {
		switch {
		case n > 0:
			diff = append(diff, fmt.Sprintf("only CouchDB (%d): %s", n, l))
		case n < 0:
			diff = append(diff, fmt.Sprintf("only jsview (%d): %s", -n, l))
		}
	}
	sort.Strings(diff)
	if len(diff) > 20 {
		diff = append(diff[:20], "…")
	}
	t.Errorf("%s: %d rows from CouchDB, %d from jsview:\n%s", name, len(a), len(b), strings.Join(diff, "\n"))
	return false
}

func rowLines(rows []Row, withID bool) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		if withID {
			out[i] = r.ID + " " + string(r.Key) + " " + string(r.Value)
		} else {
			out[i] = string(r.Key) + " " + string(r.Value)
		}
	}
	return out
}

// inCouchOrder puts mine (the same multiset as theirs) in CouchDB's order:
// the order the collation package will give them.
func inCouchOrder(theirs, mine []Row) []Row {
	pos := map[string][]int{}
	for i, l := range rowLines(theirs, true) {
		pos[l] = append(pos[l], i)
	}
	out := make([]Row, len(mine))
	for i, l := range rowLines(mine, true) {
		out[pos[l][0]] = mine[i]
		pos[l] = pos[l][1:]
	}
	return out
}

type couchClient struct {
	t    *testing.T
	http *http.Client
	db   string
}

func (c *couchClient) do(method, path string, body any) (int, []byte) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.db+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode, b
}

func (c *couchClient) must(method, path string, body any, status int) []byte {
	c.t.Helper()
	code, b := c.do(method, path, body)
	if code != status {
		c.t.Fatalf("%s %s: %d %s", method, path, code, b)
	}
	return b
}

// viewRows queries a view; keys and values keep CouchDB's bytes.
func (c *couchClient) viewRows(path string) []Row {
	c.t.Helper()
	var res struct {
		Rows []struct {
			ID    string          `json:"id"`
			Key   json.RawMessage `json:"key"`
			Value json.RawMessage `json:"value"`
		} `json:"rows"`
	}
	if err := json.Unmarshal(c.must("GET", path, nil, http.StatusOK), &res); err != nil {
		c.t.Fatal(err)
	}
	rows := make([]Row, len(res.Rows))
	for i, r := range res.Rows {
		rows[i] = Row{ID: r.ID, Key: r.Key, Value: r.Value}
	}
	return rows
}

// couchDesign turns a design document file into what CouchDB accepts:
// functions kept as arrays of lines (Kazoo's form) are joined, as Kazoo
// does before it saves them.
func couchDesign(t *testing.T, raw []byte) map[string]any {
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	views, _ := doc["views"].(map[string]any)
	for _, v := range views {
		fns, _ := v.(map[string]any)
		for k, f := range fns {
			if lines, ok := f.([]any); ok {
				var s []string
				for _, l := range lines {
					s = append(s, l.(string))
				}
				fns[k] = strings.Join(s, "\n")
			}
		}
	}
	return doc
}

// corpus is the documents stored: port requests in every state and
// accounts shaped like the repository's fixtures, then odd documents.
func corpus(t *testing.T) []json.RawMessage {
	var docs []json.RawMessage
	add := func(v any) {
		b, ok := v.([]byte)
		if !ok {
			var err error
			if b, err = json.Marshal(v); err != nil {
				t.Fatal(err)
			}
		}
		docs = append(docs, b)
	}
	const master = "1f2e3d4c5b6a79881f2e3d4c5b6a7988"
	accounts := []string{"8a2b4c6d8e0f1a3b5c7d9e1f3a5b7c9d", "0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e", "c0ffee00c0ffee00c0ffee00c0ffee00"}
	reseller := "5e11e75e11e75e11e75e11e75e11e75e"

	// The repository's Kazoo fixtures, as they are.
	for i, f := range []string{"../../porting/storetest/testdata/kazoo_port_request.json", "../../../test/e2e/testdata/kazoo_port_request.json"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s := strings.NewReplacer("{ACCOUNT_ID}", accounts[1], "{MASTER_ID}", master).Replace(string(b))
		if i == 1 {
			s = strings.Replace(s, `"84e0a824c6b74fe1e3ec48962a600ef2"`, `"e2e-fixture"`, 1)
		}
		add([]byte(s))
	}

	states := []string{"unconfirmed", "submitted", "pending", "scheduled", "rejected", "completed", "canceled"}
	for i := 0; i < 35; i++ {
		acct := accounts[i%len(accounts)]
		tree := []string{master, acct}
		if i%4 == 0 {
			tree = []string{master, reseller, acct}
		}
		numbers := map[string]any{}
		for n := 0; n <= i%3; n++ {
			num := map[string]any{}
			if n == 1 {
				num["used_by"] = "callflow"
			}
			numbers[fmt.Sprintf("+1415555%04d", i*10+n)] = num
		}
		doc := map[string]any{
			"_id":            fmt.Sprintf("pr%03d", i),
			"name":           fmt.Sprintf("Port %d", i),
			"numbers":        numbers,
			"carrier":        "PACIFIC BELL",
			"bill":           map[string]any{"name": "Acme Corp", "locality": "San Francisco", "postal_code": "95109"},
			"notifications":  map[string]any{"email": map[string]any{"send_to": "someone@example.com"}},
			"pvt_type":       "port_request",
			"pvt_port_state": states[i%len(states)],
			"pvt_account_id": acct,
			"pvt_account_db": "account%2F" + acct[:2] + "%2F" + acct[2:4] + "%2F" + acct[4:],
			"pvt_tree":       tree,
			"pvt_created":    63900000000 + i*37,
			"pvt_modified":   63990000000 + i*1009,
			"pvt_vsn":        "1",
			"pvt_sent":       i%5 == 0,
			"pvt_transitions": []any{map[string]any{
				"timestamp":  63900000100 + i,
				"transition": map[string]any{"new": states[i%len(states)], "previous": "unconfirmed"},
				"type":       "transition",
			}},
		}
		if i%9 == 0 {
			doc["pvt_deleted"] = true
		}
		if i%6 == 0 {
			doc["ported_numbers"] = map[string]any{fmt.Sprintf("+1415666%04d", i): map[string]any{}}
		}
		if i == 7 {
			doc["_attachments"] = map[string]any{
				"form.pdf": map[string]any{"content_type": "application/pdf", "data": base64.StdEncoding.EncodeToString([]byte("%PDF-1.4 test"))},
				"bill.pdf": map[string]any{"content_type": "application/pdf", "data": base64.StdEncoding.EncodeToString([]byte("%PDF-1.4 bill"))},
			}
		}
		add(doc)
	}

	add(map[string]any{"_id": master, "pvt_type": "account", "name": "Master", "pvt_tree": []string{}, "pvt_superduper_admin": true, "pvt_created": 63700000000, "pvt_api_key": "k-master", "realm": "master.example"})
	add(map[string]any{"_id": reseller, "pvt_type": "account", "name": "Reseller Ünïcode", "pvt_tree": []string{master}, "pvt_created": 63700000100, "pvt_account_id": reseller})
	for i, a := range accounts {
		add(map[string]any{"_id": a, "pvt_type": "account", "name": []string{"Acme Corp", "Zürich ☎ 電話 😀", "beta"}[i], "pvt_tree": []string{master, reseller}[:1+i%2],
			"pvt_api_key": fmt.Sprintf("k-%d", i), "pvt_created": 63700001000 + i, "pvt_account_id": a, "flags": []string{"x"}[:i%2]})
	}
	add(map[string]any{"_id": "acct-deleted", "pvt_type": "account", "name": "Gone", "pvt_tree": []string{master}, "pvt_deleted": true, "pvt_api_key": "k-gone"})
	add(map[string]any{"_id": "acct-sda-child", "pvt_type": "account", "name": "Child admin", "pvt_tree": []string{master}, "pvt_superduper_admin": true})

	// Odd documents: missing fields, wrong types, unicode, numbers at the
	// edges. Raw JSON so that the numbers stay as written.
	for _, s := range []string{
		`{"_id":"odd-empty"}`,
		`{"_id":"odd-type-number","pvt_type":1}`,
		`{"_id":"odd-type-null","pvt_type":null,"name":null}`,
		`{"_id":"odd-tree-string","pvt_type":"port_request","pvt_account_id":"a1","pvt_port_state":"submitted","pvt_tree":"notarray","pvt_modified":1}`,
		`{"_id":"odd-tree-null","pvt_type":"port_request","pvt_account_id":"a1","pvt_port_state":"pending","pvt_tree":null,"numbers":null}`,
		`{"_id":"odd-tree-mixed","pvt_type":"account","name":"Mixed","pvt_tree":[null,5,"m",{"a":1},"m"]}`,
		`{"_id":"odd-account-no-tree","pvt_type":"account","name":"No tree"}`,
		`{"_id":"odd-numbers-array","pvt_type":"port_request","pvt_account_id":"a2","pvt_port_state":"scheduled","numbers":["+15550001","+15550002"]}`,
		`{"_id":"odd-numbers-string","pvt_type":"port_request","pvt_account_id":"a2","pvt_port_state":"submitted","numbers":"+1555"}`,
		`{"_id":"odd-numbers-indexlike","pvt_type":"port_request","pvt_account_id":"a2","pvt_port_state":"submitted","numbers":{"10":{},"2":{},"+1":{},"0":{},"4294967296":{},"01":{}}}`,
		`{"_id":"odd-number-null-entry","pvt_type":"port_request","pvt_account_id":"a2","pvt_port_state":"pending","numbers":{"+15550003":null}}`,
		`{"_id":"odd-modified-string","pvt_type":"port_request","pvt_account_id":"a3","pvt_port_state":"submitted","pvt_modified":"yesterday","pvt_created":"x"}`,
		`{"_id":"odd-modified-float","pvt_type":"port_request","pvt_account_id":"a3","pvt_port_state":"submitted","pvt_modified":1.5,"pvt_created":2.25,"flt":1.0}`,
		`{"_id":"odd-modified-big","pvt_type":"port_request","pvt_account_id":"a3","pvt_port_state":"submitted","pvt_modified":12345678901234567890,"pvt_created":1e21,"flt":-0.0}`,
		`{"_id":"odd-modified-negative","pvt_type":"port_request","pvt_account_id":"a3","pvt_port_state":"submitted","pvt_modified":-5,"pvt_created":-1234,"flt":1e-7}`,
		`{"_id":"odd-modified-tiny","pvt_type":"port_request","pvt_account_id":"a3","pvt_port_state":"submitted","pvt_modified":0.1,"pvt_created":5e-324,"flt":123456789.125}`,
		`{"_id":"odd-deleted-string","pvt_type":"port_request","pvt_account_id":"a4","pvt_port_state":"submitted","pvt_deleted":"yes","numbers":{"+15550004":{}}}`,
		`{"_id":"odd-deleted-zero","pvt_type":"port_request","pvt_account_id":"a4","pvt_port_state":"submitted","pvt_deleted":0,"numbers":{"+15550005":{}}}`,
		`{"_id":"odd-deleted-false","pvt_type":"account","name":"Not deleted","pvt_deleted":false,"pvt_tree":["m"],"pvt_api_key":"k-nd"}`,
		`{"_id":"odd-unicode-ü-☎","pvt_type":"port_request","pvt_account_id":"ä-account","pvt_port_state":"submitted","name":"Zürich ☎ 電話 😀 \u00e9\u0301","numbers":{"+4930☎":{"used_by":"ü"},"😀":{}}}`,
		`{"_id":"odd-control","pvt_type":"port_request","pvt_account_id":"a5","pvt_port_state":"pending","name":"tab\there\u0001\u001f\u007f / \\ \"q\"","numbers":{"+1\n555":{}}}`,
		`{"_id":"odd-account-object","pvt_type":"port_request","pvt_account_id":{"b":1,"a":[2,3]},"pvt_port_state":["x"],"pvt_modified":true,"numbers":{"+15550006":{}}}`,
		`{"_id":"odd-no-state","pvt_type":"port_request","pvt_account_id":"a6","numbers":{"+15550007":{}}}`,
		`{"_id":"odd-limits","pvt_type":"limits","twoway_trunks":5}`,
		`{"_id":"odd-deep","pvt_type":"other","name":"deep","nested":[[[[{"a":[[1]]}]]]]}`,
		`{"_id":"odd-duplicate-keys","pvt_type":"account","name":"First","name":"Second","pvt_tree":["m"]}`,
		// Other Kazoo document types that Kazoo's own views read.
		`{"_id":"acct-full","pvt_type":"account","name":"Full Account","realm":"Full.Example.COM","pvt_account_id":"acct-full","pvt_account_db":"account%2Fac%2Fct%2F-full","pvt_tree":["` + master + `"],"pvt_whitelabel_domain":"Portal.Example.com","ips":[{"ip":"10.0.0.1","owner_id":"u1"},{"ip":"10.0.0.2"}],"sso":{"provider":"google","ids":["g-1","g-2"]},"descendants_count":3,"flags":["a","b"]}`,
		`{"_id":"user-1","pvt_type":"user","first_name":"Ada","last_name":"Lovelace","pvt_account_id":"acct-full"}`,
		`{"_id":"user-2","pvt_type":"user","first_name":"Nameless"}`,
		`{"_id":"callflow-1","pvt_type":"callflow","numbers":["+14155550100","2000"],"patterns":["^\\+1(\\d{10})$"]}`,
		`{"_id":"webhook-1","pvt_type":"webhook","pvt_account_id":"acct-full","hook":"channel_create","name":"Hook One"}`,
		`{"_id":"webhook-2","pvt_type":"webhook","pvt_account_id":"acct-full","hook":"channel_destroy","name":"Hook Two","pvt_deleted":true}`,
		`{"_id":"webhook-attempt-1","pvt_type":"webhook_attempt","pvt_account_id":"acct-full","hook_id":"webhook-1","pvt_created":63900000005}`,
		`{"_id":"rate-1","pvt_type":"rate","prefix":"1415","rate_name":"US-CA","rate_cost":0.01,"rate_surcharge":0,"carrier":"c1","description":"San Francisco","ratedeck_id":"default"}`,
		`{"_id":"rate-2","pvt_type":"rate","prefix":"044","rate_name":"UK","rate_cost":0.025,"ratedeck_id":"default"}`,
		`{"_id":"rate-3","pvt_type":"rate","prefix":"x1","deleted":true}`,
		`{"_id":"+14155550100","pvt_type":"number","pvt_assigned_to":"acct-full","pvt_state":"in_service","pvt_module_name":"knm_local"}`,
		`{"_id":"+14155550101","pvt_type":"number","pvt_state":"discovery","pvt_module_name":"knm_bandwidth2"}`,
		`{"_id":"+14155550102","pvt_type":"number","pvt_state":"available"}`,
	} {
		add([]byte(s))
	}
	return docs
}
