package api

import (
	"encoding/json"

	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/pkg/rawjson"
)

// appendData appends v as JSON. Documents (porting.Fields) and listings of
// them are written member by member from their raw values, which came out
// of a JSON decoder or encoder and so are valid already; encoding/json would
// sort, re-validate and re-compact every one of them, which profiles showed
// as a fifth of a 50-row page. Anything else goes through encoding/json.
func appendData(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case porting.Row:
		return v.AppendJSON(b), nil
	case []porting.Row:
		b = append(b, '[')
		for i, r := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = r.AppendJSON(b)
		}
		return append(b, ']'), nil
	case porting.Fields:
		return v.AppendJSON(b), nil
	case []porting.Fields:
		b = append(b, '[')
		for i, f := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = f.AppendJSON(b)
		}
		return append(b, ']'), nil
	case []porting.Group:
		b = append(b, '[')
		for i, g := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"account_id":`...)
			b = rawjson.AppendString(b, g.AccountID)
			b = append(b, `,"account_name":`...)
			b = rawjson.AppendString(b, g.AccountName)
			b = append(b, `,"port_requests":`...)
			var err error
			if b, err = appendData(b, g.PortRequests); err != nil {
				return nil, err
			}
			b = append(b, '}')
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
