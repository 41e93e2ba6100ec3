package api

import (
	"encoding/json"
	"slices"

	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/pkg/rawjson"
	"github.com/portreqd/portreqd/pkg/rows"
)

// appendData appends v as JSON. Rows (rows.Row, encoded once), documents
// (porting.Fields) and listings of them are written member by member from
// their raw values, which came out
// of a JSON decoder or encoder and so are valid already; encoding/json would
// sort, re-validate and re-compact every one of them, which profiles showed
// as a fifth of a 50-row page. Anything else goes through encoding/json.
func appendData(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case rows.Row:
		return v.AppendJSON(b), nil
	case []rows.Row:
		b = append(b, '[')
		for i, r := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = r.AppendJSON(b)
		}
		return append(b, ']'), nil
	case porting.Fields:
		return appendFields(b, v), nil
	case []porting.Fields:
		b = append(b, '[')
		for i, f := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendFields(b, f)
		}
		return append(b, ']'), nil
	default:
		enc, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		return append(b, enc...), nil
	}
}

// appendFields appends f as a JSON object, members sorted by key as
// encoding/json sorts a map's, each raw value copied as it is (values come
// out of a decoder or an encoder, so they are valid already).
func appendFields(b []byte, f porting.Fields) []byte {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = rawjson.AppendString(b, k)
		b = append(b, ':')
		if v := f[k]; len(v) > 0 {
			b = append(b, v...)
		} else {
			b = append(b, "null"...)
		}
	}
	return append(b, '}')
}
