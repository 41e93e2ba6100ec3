package bolt

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/portreqd/portreqd/pkg/engine"
)

// A document body as written: its special members read, the others kept as
// raw JSON in their order, as CouchDB keeps them.

// member is one ordinary member of a body: name and compact raw value.
type member struct {
	name string
	raw  []byte
}

// attIn is one entry of a body's _attachments.
type attIn struct {
	name        string
	stub        bool
	data        []byte // decoded inline body (data member), nil for a stub
	contentType string
}

// docIn is a body to write.
type docIn struct {
	id      string
	hasID   bool
	rev     string
	deleted bool
	members []member
	atts    []attIn // sorted by name
}

// ignoredSpecial are members CouchDB accepts in a body and does not store
// as they are (replication metadata, GET options echoed back).
var ignoredSpecial = map[string]bool{
	"_revisions": true, "_revs_info": true, "_conflicts": true,
	"_deleted_conflicts": true, "_local_seq": true,
}

func badRequest(format string, a ...any) error {
	return fmt.Errorf("%w: %s", engine.ErrBadRequest, fmt.Sprintf(format, a...))
}

// parseDoc reads a body; ErrBadRequest when it is not a JSON object or
// has a special member CouchDB refuses. Member values stay slices of raw
// (compacted when they hold whitespace).
func parseDoc(raw []byte) (*docIn, error) {
	if !json.Valid(raw) {
		return nil, badRequest("document is not JSON")
	}
	i := skipWS(raw, 0)
	if raw[i] != '{' {
		return nil, badRequest("document must be a JSON object")
	}
	in := &docIn{}
	var seen map[string]int
	for i = skipWS(raw, i+1); raw[i] != '}'; {
		// raw is valid JSON: a member is a string, ':', a value, then ','
		// or the closing brace.
		end := skipString(raw, i)
		name, err := unquote(raw[i:end])
		if err != nil {
			return nil, badRequest("document member name: %v", err)
		}
		i = skipWS(raw, skipWS(raw, end)+1)
		end = skipValue(raw, i)
		v := raw[i:end]
		if i = skipWS(raw, end); raw[i] == ',' {
			i = skipWS(raw, i+1)
		}
		if !strings.HasPrefix(name, "_") {
			v = compact(v)
			if j, ok := seen[name]; ok {
				in.members[j].raw = v
				continue
			}
			if len(in.members) >= 8 && seen == nil {
				seen = make(map[string]int, 2*len(in.members))
				for j, m := range in.members {
					seen[m.name] = j
				}
			}
			if seen != nil {
				seen[name] = len(in.members)
			} else if j := slices.IndexFunc(in.members, func(m member) bool { return m.name == name }); j >= 0 {
				in.members[j].raw = v
				continue
			}
			in.members = append(in.members, member{name: name, raw: v})
			continue
		}
		switch {
		case name == "_id":
			if err := json.Unmarshal(v, &in.id); err != nil {
				return nil, badRequest("_id must be a string")
			}
			in.hasID = true
		case name == "_rev":
			if string(v) != "null" {
				if err := json.Unmarshal(v, &in.rev); err != nil {
					return nil, badRequest("_rev must be a string")
				}
			}
		case name == "_deleted":
			if err := json.Unmarshal(v, &in.deleted); err != nil {
				return nil, badRequest("_deleted must be a boolean")
			}
		case name == "_attachments":
			if in.atts, err = parseAtts(v); err != nil {
				return nil, err
			}
		case ignoredSpecial[name]:
		default:
			return nil, badRequest("bad special document member: %s", name)
		}
	}
	return in, nil
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the end of the (valid) string starting at b[i].
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// skipValue returns the end of the (valid) value starting at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return len(b)
	}
	for ; i < len(b); i++ {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
	}
	return i
}

// unquote decodes a JSON string literal.
func unquote(lit []byte) (string, error) {
	if bytes.IndexByte(lit, '\\') < 0 && utf8.Valid(lit) {
		return string(lit[1 : len(lit)-1]), nil
	}
	var s string
	err := json.Unmarshal(lit, &s)
	return s, err
}

// parseAtts reads _attachments: stubs and inline (base64 "data") bodies.
func parseAtts(raw []byte) ([]attIn, error) {
	if string(raw) == "null" {
		return nil, nil
	}
	var m map[string]struct {
		ContentType string  `json:"content_type"`
		Data        *string `json:"data"`
		Stub        bool    `json:"stub"`
		Follows     bool    `json:"follows"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, badRequest("_attachments must be an object of objects: %v", err)
	}
	out := make([]attIn, 0, len(m))
	for name, a := range m {
		if err := checkAttName(name); err != nil {
			return nil, err
		}
		switch {
		case a.Data != nil:
			data, err := base64.StdEncoding.DecodeString(*a.Data)
			if err != nil {
				return nil, badRequest("attachment %q: data is not base64: %v", name, err)
			}
			ct := a.ContentType
			if ct == "" {
				ct = "application/octet-stream"
			}
			out = append(out, attIn{name: name, data: data, contentType: ct})
		case a.Stub:
			out = append(out, attIn{name: name, stub: true})
		case a.Follows:
			return nil, badRequest("attachment %q: multipart bodies (follows) are not supported; use PutAttachment", name)
		default:
			return nil, badRequest("attachment %q: neither a stub nor inline data", name)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

func checkAttName(name string) error {
	switch {
	case name == "":
		return badRequest("attachment without a name")
	case strings.HasPrefix(name, "_"):
		return badRequest("attachment name %q starts with '_'", name)
	case !utf8.ValidString(name):
		return badRequest("attachment name is not UTF-8")
	case len(name) > maxIDLen:
		return badRequest("attachment name longer than %d bytes", maxIDLen)
	}
	return nil
}

// checkID applies CouchDB's rules to a document id written: not empty,
// UTF-8, and no leading "_" but for design documents.
func checkID(id string) error {
	switch {
	case id == "":
		return badRequest("empty document id")
	case !utf8.ValidString(id):
		return badRequest("document id is not UTF-8")
	case len(id) > maxIDLen:
		return badRequest("document id longer than %d bytes", maxIDLen)
	case strings.HasPrefix(id, "_") && !(isDesign(id) && len(id) > len("_design/")):
		return badRequest("only reserved document ids may start with underscore: %q", id)
	}
	return nil
}

// compact removes insignificant whitespace from a raw value.
func compact(v []byte) []byte {
	if !bytes.ContainsAny(v, " \t\r\n") {
		return v
	}
	var b bytes.Buffer
	if json.Compact(&b, v) != nil {
		return v
	}
	return b.Bytes()
}

// appendJSONString appends s as a JSON string, escaping as CouchDB prints
// (no HTML escaping; control characters as \n or \u00XX).
func appendJSONString(dst []byte, s string) []byte {
	const hexd = "0123456789ABCDEF"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c == '\b':
				dst = append(dst, '\\', 'b')
			case c == '\f':
				dst = append(dst, '\\', 'f')
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hexd[c>>4], hexd[c&15])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}

// render builds the body of the revision after prev and its id: the
// revision hashes the parent revision and everything the body says but
// _rev, so that the same edit of the same revision has the same id.
func render(id, prev string, members []member, atts []attRec, deleted bool) (rev string, body []byte) {
	size := len(id) + 64
	for _, m := range members {
		size += len(m.name) + len(m.raw) + 4
	}
	rest := make([]byte, 0, size+len(atts)*160)
	for _, m := range members {
		rest = append(rest, ',')
		rest = appendJSONString(rest, m.name)
		rest = append(rest, ':')
		rest = append(rest, m.raw...)
	}
	if len(atts) > 0 {
		rest = append(rest, `,"_attachments":{`...)
		for i, a := range atts {
			if i > 0 {
				rest = append(rest, ',')
			}
			rest = appendJSONString(rest, a.name)
			rest = append(rest, `:{"content_type":`...)
			rest = appendJSONString(rest, a.ctype)
			rest = append(rest, `,"revpos":`...)
			rest = strconv.AppendInt(rest, int64(a.revpos), 10)
			rest = append(rest, `,"digest":`...)
			rest = appendJSONString(rest, a.digest)
			rest = append(rest, `,"length":`...)
			rest = strconv.AppendInt(rest, a.length, 10)
			rest = append(rest, `,"stub":true}`...)
		}
		rest = append(rest, '}')
	}
	if deleted {
		rest = append(rest, `,"_deleted":true`...)
	}
	rest = append(rest, '}')
	idJSON := appendJSONString(nil, id)
	h := md5.New()
	h.Write([]byte(prev))
	h.Write([]byte{0})
	h.Write(idJSON)
	h.Write(rest)
	rev = strconv.Itoa(revGen(prev)+1) + "-" + hex.EncodeToString(h.Sum(nil))
	body = make([]byte, 0, len(idJSON)+len(rev)+len(rest)+20)
	body = append(body, `{"_id":`...)
	body = append(body, idJSON...)
	body = append(body, `,"_rev":"`...)
	body = append(body, rev...)
	body = append(body, '"')
	body = append(body, rest...)
	return rev, body
}

// revGen is the generation of rev ("3-…" → 3), 0 for none or a malformed
// one.
func revGen(rev string) int {
	i := strings.IndexByte(rev, '-')
	if i <= 0 {
		return 0
	}
	n, err := strconv.Atoi(rev[:i])
	if err != nil || n < 0 {
		return 0
	}
	return n
}
