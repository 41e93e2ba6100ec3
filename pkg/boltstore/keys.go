package boltstore

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
)

// tuple builds an index key whose byte order is the order of its parts.
// A string is written with each 0x00 escaped as 0x00 0xFF and ends with
// 0x00; 0xFF never occurs in UTF-8, so the encoding of a prefix of parts is
// a byte prefix of exactly the keys that start with those parts. An int64
// is 8 big-endian bytes with the sign bit flipped, so negatives sort first.
type tuple []byte

func (t tuple) str(s string) tuple {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			t = append(t, 0, 0xFF)
		} else {
			t = append(t, s[i])
		}
	}
	return append(t, 0)
}

func (t tuple) i64(v int64) tuple {
	return binary.BigEndian.AppendUint64(t, uint64(v)^(1<<63))
}

// tail appends s unescaped and unterminated: the last part of a key (the
// document id), read back as the rest of the key.
func (t tuple) tail(s string) tuple { return append(t, s...) }

// readStr reads one string part from b and returns it and the rest of b.
func readStr(b []byte) (string, []byte, bool) {
	var out []byte
	for i := 0; i < len(b); i++ {
		if b[i] != 0 {
			out = append(out, b[i])
			continue
		}
		if i+1 < len(b) && b[i+1] == 0xFF {
			out = append(out, 0)
			i++
			continue
		}
		return string(out), b[i+1:], true
	}
	return "", nil, false
}

// readI64 reads an int64 part.
func readI64(b []byte) (int64, []byte, bool) {
	if len(b) < 8 {
		return 0, nil, false
	}
	return int64(binary.BigEndian.Uint64(b) ^ (1 << 63)), b[8:], true
}

// after is the smallest key greater than every key starting with prefix.
// Tuple prefixes end in 0x00 or a fixed-width part, never in a run of
// 0xFF bytes that would need carrying.
func after(prefix []byte) []byte {
	out := bytes.Clone(prefix)
	for i := len(out) - 1; i >= 0; i-- {
		if out[i] < 0xFF {
			out[i]++
			return out[:i+1]
		}
	}
	return nil // no bound: every key is smaller
}

// The views are JavaScript; these read JSON members as their conditions
// and emits do.

// jsString is a member that is a JSON string.
func jsString(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// jsTruthy is JavaScript truthiness: missing, null, false, 0 and "" are
// false.
func jsTruthy(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return false
	}
	switch string(raw) {
	case "null", "false", `""`:
		return false
	}
	if f, ok := jsNumber(raw); ok {
		return f != 0
	}
	return true
}

// jsNumber is a member that is a JSON number.
func jsNumber(raw json.RawMessage) (float64, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return 0, false
	}
	var f float64
	if json.Unmarshal(raw, &f) != nil {
		return 0, false
	}
	return f, true
}

// keyInt is a number as an index key part: whole seconds, as portreqd and
// Kazoo write them; a fraction rounds down, which keeps the order.
func keyInt(f float64) int64 {
	switch {
	case f >= math.MaxInt64:
		return math.MaxInt64
	case f <= math.MinInt64:
		return math.MinInt64
	}
	return int64(math.Floor(f))
}
