package doctest

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	doc := strings.Join([]string{
		"# API", "",
		"```sh", "export PORTREQD=http://localhost:8000", "```", "",
		"```sh", `curl -s -X PUT "$PORTREQD/v2/accounts/$ACCOUNT_ID/port_requests?x=1" \`, `  -H "X-Auth-Token: $TOKEN" -d @- <<EOF`, `{"data":{}}`, "EOF", "```", "",
		"```http", "HTTP/1.1 201 Created", "Content-Type: application/json", "", `{"status": "success"}`, "```",
		"```sh", `curl -sI "$PORTREQD/healthz"`, "```",
		"```http", "HTTP/1.1 200 OK", "```",
	}, "\n")
	got, err := Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		got[i].Command = ""
	}
	want := []Example{
		{Line: 8, Method: "PUT", Path: "/v2/accounts/$ACCOUNT_ID/port_requests", Status: 201,
			Header: map[string]string{"Content-Type": "application/json"}, Body: `{"status": "success"}`},
		{Line: 21, Method: "HEAD", Path: "/healthz", Status: 200, Header: map[string]string{}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Parse (-want +got):\n%s", diff)
	}
}

func TestParseRejects(t *testing.T) {
	for name, doc := range map[string]string{
		"no answer":        "```sh\ncurl \"$PORTREQD/healthz\"\n```\n",
		"prose between":    "```sh\ncurl \"$PORTREQD/healthz\"\n```\ntext\n```http\nHTTP/1.1 200 OK\n```\n",
		"no status line":   "```sh\ncurl \"$PORTREQD/healthz\"\n```\n```http\n{}\n```\n",
		"no $PORTREQD url": "```sh\ncurl http://localhost:8000/healthz\n```\n```http\nHTTP/1.1 200 OK\n```\n",
		"two curls":        "```sh\ncurl \"$PORTREQD/healthz\"\ncurl \"$PORTREQD/healthz\"\n```\n```http\nHTTP/1.1 200 OK\n```\n",
		"unclosed":         "```sh\ncurl \"$PORTREQD/healthz\"\n",
	} {
		if _, err := Parse(doc); err == nil {
			t.Errorf("%s: Parse accepted %q", name, doc)
		}
	}
}

func TestMatch(t *testing.T) {
	vars := map[string]string{"ACCOUNT_ID": "a1"}
	for _, tc := range []struct {
		name, want, got string
		ok              bool
		bound           map[string]string
	}{
		{"extra members allowed", `{"a":1}`, `{"a":1,"b":2}`, true, nil},
		{"missing member", `{"a":1,"c":3}`, `{"a":1}`, false, nil},
		{"wrong value", `{"a":1}`, `{"a":2}`, false, nil},
		{"wildcard any value", `{"a":"…"}`, `{"a":{"x":[1]}}`, true, nil},
		{"wildcard prefix", `{"s":"whsec_…"}`, `{"s":"whsec_abc"}`, true, nil},
		{"wildcard prefix wrong", `{"s":"whsec_…"}`, `{"s":"key_abc"}`, false, nil},
		{"binds", `{"id":"$REQUEST_ID"}`, `{"id":"r9"}`, true, map[string]string{"REQUEST_ID": "r9"}},
		{"bound compared", `{"id":"$ACCOUNT_ID"}`, `{"id":"a2"}`, false, nil},
		{"bound substituted", `{"p":"/v2/accounts/$ACCOUNT_ID/x"}`, `{"p":"/v2/accounts/a1/x"}`, true, nil},
		{"array exact length", `[1,2]`, `[1,2,3]`, false, nil},
		{"array open", `[1,"…"]`, `[1,2,3]`, true, nil},
		{"array element", `[{"a":1}]`, `[{"a":2}]`, false, nil},
		{"text", "%PDF-…", "%PDF-1.7 ...", true, nil},
		{"text wrong", "%PDF-…", "<html>", false, nil},
		{"json documented, text got", `{"a":1}`, `oops`, false, nil},
		{"empty want", ``, `anything`, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Match(tc.want, tc.got, vars)
			if (err == nil) != tc.ok {
				t.Fatalf("Match(%s, %s) = %v, want ok=%v", tc.want, tc.got, err, tc.ok)
			}
			if tc.ok {
				want := map[string]string{"ACCOUNT_ID": "a1"}
				for k, v := range tc.bound {
					want[k] = v
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("bound (-want +got):\n%s", diff)
				}
			}
		})
	}
	if len(vars) != 1 {
		t.Errorf("Match changed its vars: %v", vars)
	}
}

func TestCheckTables(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		errs      int
	}{
		{"good", "| a | b |\n|---|---|\n| `x\\|y` | z |\n", 0},
		{"pipe in code", "| a | b |\n|---|---|\n| `{s:x|y}` | z |\n", 1},
		{"cut by blank line", "| a | b |\n|---|---|\n| x | y |\n\n| p | q |\n", 1},
		{"inside code fence", "```\n| a |\n```\n", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if errs := CheckTables(tc.doc); len(errs) != tc.errs {
				t.Errorf("CheckTables = %v, want %d errors", errs, tc.errs)
			}
		})
	}
}
