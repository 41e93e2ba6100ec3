// Package views holds the CouchDB design documents portreqd installs, kept as
// JSON files so that they can be read, diffed and pushed with curl as well as
// embedded in the binary.
//
// Three sets, because portreqd shares its databases with Kazoo:
//
//   - portreqd/<db>.json: portreqd's own views, one design document
//     (_design/portreqd) per database it queries. portreqd owns these and
//     keeps them as the files say. portreqd/class/<class>.json is the
//     same for every database of a class (one per account).
//   - kazoo/<class>/<name>.json: design documents with Kazoo's ids, names,
//     keys and values (written for portreqd from Kazoo's documented
//     behaviour; kazoo/README.md says which Kazoo code reads each view).
//     Installed only where the database has none of that id: Kazoo's own
//     copy, or an operator's, is never touched.
//   - legacy/*.json: design documents that portreqd itself installed under
//     Kazoo's ids before it had its own. Only a stored copy equal to one of
//     these may be replaced.
package views

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

//go:embed portreqd/*.json portreqd/class/*.json legacy/*.json
//go:embed kazoo/accounts/*.json kazoo/port_requests/*.json kazoo/numbers/*.json
//go:embed kazoo/account/*.json kazoo/account_modb/*.json
var files embed.FS

// DesignDoc is one design document destined for database DB (for Kazoo's
// set, a class of databases: see Kazoo).
type DesignDoc struct {
	DB  string
	ID  string
	Doc map[string]any
}

// Views names the views the document defines.
func (d DesignDoc) Views() []string {
	vs, _ := d.Doc["views"].(map[string]any)
	names := make([]string, 0, len(vs))
	for name := range vs {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// OwnID is the id of portreqd's design document in every database.
const OwnID = "_design/portreqd"

// Own returns portreqd's design documents, one per database it queries;
// the file name (less .json) is the database.
func Own() ([]DesignDoc, error) {
	docs, err := read("portreqd", func(name string) string { return strings.TrimSuffix(name, ".json") })
	if err != nil {
		return nil, err
	}
	for _, d := range docs {
		if d.ID != OwnID {
			return nil, fmt.Errorf("views/portreqd: %s has _id %q, want %q", d.DB, d.ID, OwnID)
		}
	}
	return docs, nil
}

// OwnPerClass returns portreqd's design documents for the databases Kazoo
// keeps one of per account (portreqd/class/<class>.json, DB the class):
// installed in each such database when portreqd first queries it there,
// since an installation may hold many thousands of them.
func OwnPerClass() ([]DesignDoc, error) {
	docs, err := read("portreqd/class", func(name string) string { return strings.TrimSuffix(name, ".json") })
	if err != nil {
		return nil, err
	}
	for _, d := range docs {
		if d.ID != OwnID {
			return nil, fmt.Errorf("views/portreqd/class: %s has _id %q, want %q", d.DB, d.ID, OwnID)
		}
	}
	return docs, nil
}

// Database classes of Kazoo's design documents: the global databases by
// name, and the databases Kazoo keeps one of per number prefix, per
// account and per account and month.
const (
	ClassAccounts     = "accounts"
	ClassPortRequests = "port_requests"
	ClassNumbers      = "numbers"      // numbers/+1202…
	ClassAccount      = "account"      // account/xx/yy/rest
	ClassAccountMODB  = "account_modb" // account/xx/yy/rest-YYYYMM
)

// Kazoo returns the Kazoo-compatible design documents; DB is the class
// of database each belongs in (kazoo/<class>/<name>.json).
func Kazoo() ([]DesignDoc, error) {
	var out []DesignDoc
	classes, err := fs.ReadDir(files, "kazoo")
	if err != nil {
		return nil, err
	}
	for _, c := range classes {
		if !c.IsDir() || c.Name() == "testdata" {
			continue
		}
		docs, err := read(path.Join("kazoo", c.Name()), func(string) string { return c.Name() })
		if err != nil {
			return nil, err
		}
		out = append(out, docs...)
	}
	return out, nil
}

// Legacy returns the design documents portreqd installed under Kazoo's
// ids in earlier versions (legacy/<db>-<n>.json), DB their database.
func Legacy() ([]DesignDoc, error) {
	return read("legacy", func(name string) string {
		name = strings.TrimSuffix(name, ".json")
		return name[:strings.LastIndexByte(name, '-')]
	})
}

// read returns the design documents of directory dir, each in the
// database dbOf names after its file.
func read(dir string, dbOf func(file string) string) ([]DesignDoc, error) {
	entries, err := fs.ReadDir(files, dir)
	if err != nil {
		return nil, err
	}
	var out []DesignDoc
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		p := path.Join(dir, e.Name())
		b, err := files.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			return nil, fmt.Errorf("views/%s: %w", p, err)
		}
		id, _ := doc["_id"].(string)
		if !strings.HasPrefix(id, "_design/") {
			return nil, fmt.Errorf("views/%s: _id %q is not a design document", p, id)
		}
		out = append(out, DesignDoc{DB: dbOf(e.Name()), ID: id, Doc: doc})
	}
	return out, nil
}
