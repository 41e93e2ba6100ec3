// Package views holds the CouchDB design documents portreqd installs, kept as
// JSON files so that they can be read, diffed and pushed with curl as well as
// embedded in the binary.
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

//go:embed *.json
var files embed.FS

// DesignDoc is one design document destined for database DB.
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

// All returns every design document, one per JSON file; the file name (less
// .json) is the target database.
func All() ([]DesignDoc, error) {
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		return nil, err
	}
	var out []DesignDoc
	for _, e := range entries {
		b, err := files.ReadFile(e.Name())
		if err != nil {
			return nil, err
		}
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			return nil, fmt.Errorf("views/%s: %w", e.Name(), err)
		}
		id, _ := doc["_id"].(string)
		if !strings.HasPrefix(id, "_design/") {
			return nil, fmt.Errorf("views/%s: _id %q is not a design document", e.Name(), id)
		}
		out = append(out, DesignDoc{DB: strings.TrimSuffix(path.Base(e.Name()), ".json"), ID: id, Doc: doc})
	}
	return out, nil
}
