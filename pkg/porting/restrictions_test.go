package porting

import (
	"encoding/json"
	"testing"
)

// TestRestrictionsAllow matches calls against restrictions as crossbar
// does: endpoint (else "_"), the first entry whose accounts meet, the
// first rule in written order whose pattern matches, its verbs; anything
// unmatched is refused.
func TestRestrictionsAllow(t *testing.T) {
	const own = "{AUTH_ACCOUNT_ID}"
	auth := []string{"_", "aaaa", own}
	descendant := []string{"_", "bbbb", "{DESCENDANT_ACCOUNT_ID}"}
	readOnly := `{"_": [{"rules": {"#": ["GET"]}}]}`
	ordered := `{"port_requests": [{"rules": {"*/submitted": ["PATCH"], "*/*": ["_"], "#": ["GET"]}}]}`
	reversed := `{"port_requests": [{"rules": {"#": ["GET"], "*/submitted": ["PATCH"]}}]}`
	byAccount := `{"port_requests": [
		{"allowed_accounts": ["{AUTH_ACCOUNT_ID}"], "rules": {"#": ["_"]}},
		{"allowed_accounts": ["{DESCENDANT_ACCOUNT_ID}"], "rules": {"#": ["GET"]}}]}`
	for _, tc := range []struct {
		name         string
		restrictions string
		call         TokenCall
		accounts     []string
		want         bool
	}{
		{"read-only: a read", readOnly, TokenCall{"port_requests", []string{"r1"}, "aaaa", "GET"}, auth, true},
		{"read-only: a write", readOnly, TokenCall{"port_requests", []string{}, "aaaa", "PUT"}, auth, false},
		{"read-only: the listing (no parameters)", readOnly, TokenCall{"port_requests", []string{}, "aaaa", "GET"}, auth, true},
		{"endpoint listed: its entries, not _'s", `{"port_requests": [{"rules": {"#": ["GET"]}}], "_": [{"rules": {"#": ["_"]}}]}`,
			TokenCall{"port_requests", []string{}, "aaaa", "PUT"}, auth, false},
		{"endpoint not listed, no _", `{"users": [{"rules": {"#": ["_"]}}]}`, TokenCall{"port_requests", []string{}, "aaaa", "GET"}, auth, false},
		{"first matching rule decides", ordered, TokenCall{"port_requests", []string{"r1", "submitted"}, "aaaa", "PATCH"}, auth, true},
		{"first matching rule decides: a later one is not tried", reversed, TokenCall{"port_requests", []string{"r1", "submitted"}, "aaaa", "PATCH"}, auth, false},
		{"* is one segment", ordered, TokenCall{"port_requests", []string{"r1", "attachments", "a.pdf"}, "aaaa", "DELETE"}, auth, false},
		{"_ verb", ordered, TokenCall{"port_requests", []string{"r1", "comments"}, "aaaa", "DELETE"}, auth, true},
		{"own account", byAccount, TokenCall{"port_requests", []string{}, "aaaa", "PUT"}, auth, true},
		{"descendant: the first entry whose accounts meet", byAccount, TokenCall{"port_requests", []string{}, "bbbb", "PUT"}, descendant, false},
		{"descendant reads", byAccount, TokenCall{"port_requests", []string{}, "bbbb", "GET"}, descendant, true},
		{"a named account", `{"_": [{"allowed_accounts": ["cccc"], "rules": {"#": ["_"]}}]}`, TokenCall{"port_requests", []string{}, "cccc", "GET"}, []string{"_", "cccc"}, true},
		{"not a named account", `{"_": [{"allowed_accounts": ["cccc"], "rules": {"#": ["_"]}}]}`, TokenCall{"port_requests", []string{}, "bbbb", "GET"}, descendant, false},
		{"no rules", `{"_": [{}]}`, TokenCall{"port_requests", []string{}, "aaaa", "GET"}, auth, false},
		{"an endpoint that is not a list: as absent", `{"port_requests": {"rules": {}}, "_": [{"rules": {"#": ["GET"]}}]}`, TokenCall{"port_requests", []string{}, "aaaa", "GET"}, auth, true},
		{"an endpoint list that does not read: refused", `{"port_requests": [1], "_": [{"rules": {"#": ["GET"]}}]}`, TokenCall{"port_requests", []string{}, "aaaa", "GET"}, auth, false},
		{"none", ``, TokenCall{"port_requests", []string{}, "aaaa", "PUT"}, auth, true},
		{"not restrictions", `[]`, TokenCall{"port_requests", []string{}, "aaaa", "GET"}, auth, false},
	} {
		if got := RestrictionsAllow(ParseRestrictions(json.RawMessage(tc.restrictions)), tc.call, tc.accounts); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestBindingMatches(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		segs    []string
		want    bool
	}{
		{"#", nil, true},
		{"#", []string{"a", "b"}, true},
		{"*", nil, false},
		{"*", []string{"a"}, true},
		{"*", []string{"a", "b"}, false},
		{"*/attachments/#", []string{"r", "attachments"}, true},
		{"*/attachments/#", []string{"r", "attachments", "x.pdf"}, true},
		{"*/attachments/#", []string{"r", "comments"}, false},
		{"#/loa", []string{"r", "loa"}, true},
		{"", nil, true},
		{"", []string{"a"}, false},
	} {
		if got := bindingMatches(splitRule(tc.pattern), tc.segs); got != tc.want {
			t.Errorf("%q on %v: %v, want %v", tc.pattern, tc.segs, got, tc.want)
		}
	}
}
