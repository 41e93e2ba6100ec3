package porting

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/portreqd/portreqd/pkg/rawjson"
)

// Fields is a JSON object kept as raw members. Documents written by Kazoo (or
// by clients) carry keys portreqd does not model; keeping them raw means a
// read-modify-write never drops them.
type Fields map[string]json.RawMessage

// Clone returns a shallow copy; raw values are immutable by convention.
func (f Fields) Clone() Fields {
	out := make(Fields, len(f))
	for k, v := range f {
		out[k] = v
	}
	return out
}

// Set marshals v under key.
//
// Scalars are written without encoding/json: listings set several members
// on every row.
func (f Fields) Set(key string, v any) {
	switch v := v.(type) {
	case string:
		f[key] = rawjson.AppendString(nil, v)
		return
	case State:
		f[key] = rawjson.AppendString(nil, string(v))
		return
	case int64:
		f[key] = strconv.AppendInt(nil, v, 10)
		return
	case int:
		f[key] = strconv.AppendInt(nil, int64(v), 10)
		return
	case bool:
		f[key] = strconv.AppendBool(nil, v)
		return
	case json.RawMessage:
		f[key] = v
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic("porting: marshal " + key + ": " + err.Error())
	}
	f[key] = b
}

// String returns the member key as a string, "" when absent or not a string.
func (f Fields) String(key string) string {
	if raw, ok := f[key]; ok {
		return rawjson.String(raw)
	}
	return ""
}

// Bool returns the member key as a bool, false when absent or not a bool.
func (f Fields) Bool(key string) bool {
	if raw, ok := f[key]; ok {
		return rawjson.Bool(raw)
	}
	return false
}

// isNull reports whether raw is JSON null (or empty).
func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

// jsonType names the JSON type of raw as JSON Schema does.
func jsonType(raw json.RawMessage) string {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return "null"
	}
	switch t[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

// UnmarshalRaw decodes a raw JSON object into f; anything else leaves f
// empty. Optional objects (bill, notifications) are read this way.
func (f *Fields) UnmarshalRaw(raw json.RawMessage) error {
	if isNull(raw) || jsonType(raw) != "object" {
		*f = Fields{}
		return nil
	}
	return json.Unmarshal(raw, f)
}

// asObject decodes raw as a JSON object; false when it is not one.
func asObject(raw json.RawMessage) (Fields, bool) {
	if jsonType(raw) != "object" {
		return nil, false
	}
	var f Fields
	if json.Unmarshal(raw, &f) != nil || f == nil {
		return nil, false
	}
	return f, true
}

// Number returns the member key as a number, 0 when absent or not one.
func (f Fields) Number(key string) float64 {
	var n float64
	_ = json.Unmarshal(f[key], &n)
	return n
}

// JSON encodes f. Its members are raw JSON that came out of a decoder or
// an encoder, so encoding cannot fail.
func (f Fields) JSON() json.RawMessage {
	b, err := json.Marshal(map[string]json.RawMessage(f))
	if err != nil {
		panic("porting: encode fields: " + err.Error())
	}
	return b
}
