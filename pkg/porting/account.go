package porting

import (
	"cmp"
	"encoding/json"
	"slices"
	"strings"
)

// Account is a Kazoo account document from the `accounts` database. Known
// fields are typed; every other member is kept in Other so that documents
// replicated from Kazoo survive a round trip through portreqd.
type Account struct {
	ID              string
	Rev             string
	Name            string
	Tree            []string // ancestor ids, root first
	APIKey          string
	SuperDuperAdmin bool
	PortAuthority   bool
	Created         int64
	Modified        int64
	Other           Fields
}

// AccountDB is Kazoo's per-account database name for id ("account/ab/cd/…").
func AccountDB(id string) string {
	if len(id) < 4 {
		return "account/" + id
	}
	return "account/" + id[:2] + "/" + id[2:4] + "/" + id[4:]
}

// EncodedDB is a database name as Kazoo writes it into pvt_account_db
// ("account%2Fab%2Fcd%2F…"), so that documents look the same as Kazoo's.
func EncodedDB(name string) string { return strings.ReplaceAll(name, "/", "%2F") }

// ParentID is the direct parent of the account, "" for a root.
func (a *Account) ParentID() string {
	if len(a.Tree) == 0 {
		return ""
	}
	return a.Tree[len(a.Tree)-1]
}

// HasAncestor reports whether id is a strict ancestor of a.
func (a *Account) HasAncestor(id string) bool {
	for _, t := range a.Tree {
		if t == id {
			return true
		}
	}
	return false
}

// Within reports whether a is id itself or one of its descendants: the test
// for "may a token of account id act on a".
func (a *Account) Within(id string) bool { return a.ID == id || a.HasAncestor(id) }

// accountKnown lists the members Account types itself.
var accountKnown = map[string]bool{
	"_id": true, "_rev": true, "name": true, "pvt_tree": true, "pvt_api_key": true,
	"pvt_superduper_admin": true, "port_authority": true, "pvt_created": true,
	"pvt_modified": true, "pvt_type": true, "pvt_account_id": true,
}

// MarshalJSON writes the Kazoo account document.
func (a Account) MarshalJSON() ([]byte, error) {
	doc := a.Other.Clone()
	doc.Set("_id", a.ID)
	if a.Rev != "" {
		doc.Set("_rev", a.Rev)
	}
	doc.Set("name", a.Name)
	tree := a.Tree
	if tree == nil {
		tree = []string{}
	}
	doc.Set("pvt_tree", tree)
	doc.Set("pvt_type", "account")
	doc.Set("pvt_account_id", a.ID)
	if _, ok := doc["pvt_account_db"]; !ok {
		doc.Set("pvt_account_db", EncodedDB(AccountDB(a.ID)))
	}
	doc.Set("pvt_api_key", a.APIKey)
	if a.SuperDuperAdmin {
		doc.Set("pvt_superduper_admin", true)
	}
	if a.PortAuthority {
		doc.Set("port_authority", true)
	}
	doc.Set("pvt_created", a.Created)
	doc.Set("pvt_modified", a.Modified)
	return json.Marshal(map[string]json.RawMessage(doc))
}

// UnmarshalJSON reads a Kazoo account document.
func (a *Account) UnmarshalJSON(b []byte) error {
	var doc Fields
	if err := json.Unmarshal(b, &doc); err != nil {
		return err
	}
	var out Account
	out.ID = doc.String("_id")
	out.Rev = doc.String("_rev")
	out.Name = doc.String("name")
	if raw, ok := doc["pvt_tree"]; ok {
		if err := json.Unmarshal(raw, &out.Tree); err != nil {
			return err
		}
	}
	out.APIKey = doc.String("pvt_api_key")
	out.SuperDuperAdmin = doc.Bool("pvt_superduper_admin")
	out.PortAuthority = doc.Bool("port_authority")
	_ = json.Unmarshal(doc["pvt_created"], &out.Created)
	_ = json.Unmarshal(doc["pvt_modified"], &out.Modified)
	out.Other = Fields{}
	if doc.String("pvt_account_db") == EncodedDB(AccountDB(out.ID)) {
		delete(doc, "pvt_account_db") // derived; kept only when it differs
	}
	for k, v := range doc {
		if !accountKnown[k] {
			out.Other[k] = v
		}
	}
	*a = out
	return nil
}

// Public is the account as the API shows it: public members plus id; no
// private (`pvt_`) or CouchDB (`_`) members.
func (a *Account) Public() Fields {
	out := Fields{}
	for k, v := range a.Other {
		if !strings.HasPrefix(k, "pvt_") && !strings.HasPrefix(k, "_") {
			out[k] = v
		}
	}
	out.Set("id", a.ID)
	out.Set("name", a.Name)
	if a.SuperDuperAdmin {
		out.Set("superduper_admin", true)
	}
	out.Set("port_authority", a.PortAuthority)
	out.Set("created", a.Created)
	out.Set("updated", a.Modified)
	return out
}

// SortAccounts puts accounts in the order every listing of accounts uses:
// by name, then id, comparing bytes. Stores call it so that CouchDB (ICU
// collation), pouchdb-server (code points) and the embedded store answer
// alike.
func SortAccounts(accts []*Account) {
	slices.SortStableFunc(accts, func(a, b *Account) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
}
