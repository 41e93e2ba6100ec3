package collate

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
)

// CompareValues compares two view keys given as Go values, as
// encoding/json decodes them into an any with UseNumber: nil, bool,
// json.Number, string, []any and map[string]any. For speed the common
// types are compared directly (a type switch per element, no encoding);
// float64, the integer types and json.RawMessage are accepted too, and any
// other value is compared as its encoding/json encoding.
//
// A Go map has no member order, while CouchDB compares objects in their
// stored member order: a map[string]any is compared with its members in
// the order encoding/json writes them (names sorted bytewise), which is the
// order of the JSON it came from only if that was sorted too. Compare raw
// JSON with Compare when member order matters.
//
// Numbers keep their JSON meaning: a json.Number without fraction or
// exponent is an exact integer, and a float64 is a double.
func CompareValues(a, b any) int {
	ra, rb := valueRank(a), valueRank(b)
	if ra == rankBad || rb == rankBad {
		return compareEncoded(a, b)
	}
	if ra != rb {
		return sign(ra - rb)
	}
	switch ra {
	case rankNull, rankFalse, rankTrue:
		return 0
	case rankNumber:
		na, oka := valueNumber(a)
		nb, okb := valueNumber(b)
		if !oka || !okb {
			return compareEncoded(a, b)
		}
		return compareNumbers(na, nb)
	case rankString:
		return compareStrings(a.(string), b.(string))
	case rankArray:
		x, y := a.([]any), b.([]any)
		for i := 0; i < len(x) && i < len(y); i++ {
			if r := CompareValues(x[i], y[i]); r != 0 {
				return r
			}
		}
		return cmpInt(int64(len(x)), int64(len(y)))
	default: // rankObject
		x, y := a.(map[string]any), b.(map[string]any)
		kx, ky := sortedNames(x), sortedNames(y)
		for i := 0; i < len(kx) && i < len(ky); i++ {
			if r := compareStrings(kx[i], ky[i]); r != 0 {
				return r
			}
			if r := CompareValues(x[kx[i]], y[ky[i]]); r != 0 {
				return r
			}
		}
		return cmpInt(int64(len(kx)), int64(len(ky)))
	}
}

func sortedNames(m map[string]any) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// valueRank returns the CouchDB type rank of a value CompareValues takes
// directly, rankBad for any other.
func valueRank(v any) int {
	switch v := v.(type) {
	case nil:
		return rankNull
	case bool:
		if v {
			return rankTrue
		}
		return rankFalse
	case json.Number, float64, float32, int, int8, int16, int32, int64,
		uint, uint8, uint16, uint32, uint64:
		return rankNumber
	case string:
		return rankString
	case []any:
		return rankArray
	case map[string]any:
		return rankObject
	}
	return rankBad
}

func valueNumber(v any) (number, bool) {
	switch v := v.(type) {
	case json.Number:
		return parseNumber(string(v))
	case float64:
		return number{kind: numFloat, f: v}, true
	case float32:
		return number{kind: numFloat, f: float64(v)}, true
	case int:
		return number{kind: numInt, i: int64(v)}, true
	case int8:
		return number{kind: numInt, i: int64(v)}, true
	case int16:
		return number{kind: numInt, i: int64(v)}, true
	case int32:
		return number{kind: numInt, i: int64(v)}, true
	case int64:
		return number{kind: numInt, i: v}, true
	case uint:
		return uintNumber(uint64(v)), true
	case uint8:
		return number{kind: numInt, i: int64(v)}, true
	case uint16:
		return number{kind: numInt, i: int64(v)}, true
	case uint32:
		return number{kind: numInt, i: int64(v)}, true
	case uint64:
		return uintNumber(v), true
	}
	return number{}, false
}

func uintNumber(u uint64) number {
	if u <= math.MaxInt64 {
		return number{kind: numInt, i: int64(u)}
	}
	n, _ := parseNumber(fmt.Sprint(u))
	return n
}

// compareEncoded compares values by their encoding/json encodings (a
// json.RawMessage is its own). A value encoding/json cannot encode sorts
// after every value that it can; two such values are equal.
func compareEncoded(a, b any) int {
	ja, erra := encode(a)
	jb, errb := encode(b)
	switch {
	case erra != nil && errb != nil:
		return 0
	case erra != nil:
		return 1
	case errb != nil:
		return -1
	}
	return Compare(ja, jb)
}

func encode(v any) ([]byte, error) {
	if raw, ok := v.(json.RawMessage); ok {
		if !json.Valid(raw) {
			return nil, errInvalid
		}
		return raw, nil
	}
	return json.Marshal(v)
}
