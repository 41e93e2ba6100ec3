package doctest

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"strings"
)

// Wildcard in a documented value stands for any text: "…" alone for any
// value, "whsec_…" for any string starting whsec_.
const Wildcard = "…"

// variable is a placeholder such as $REQUEST_ID.
var variable = regexp.MustCompile(`\$[A-Z][A-Z0-9_]*`)

// Match reports whether an answer body got matches the documented body
// want, and returns vars extended with the placeholders the answer bound.
//
// A JSON body matches member by member: the documented members must be
// there with matching values, others may be left out (answers are
// abridged); an array matches element by element, and one ending in "…"
// may have more elements. A string "$NAME" binds NAME to the answer's
// string the first time and must equal it afterwards; other strings have
// bound placeholders replaced and may use "…". A body that is not JSON is
// compared as text with the same placeholders and wildcards. An empty want
// matches anything. vars is not changed: a failed match binds nothing.
func Match(want, got string, vars map[string]string) (map[string]string, error) {
	bound := maps.Clone(vars)
	if bound == nil {
		bound = map[string]string{}
	}
	if strings.TrimSpace(want) == "" {
		return bound, nil
	}
	var w any
	if json.Unmarshal([]byte(want), &w) != nil {
		if !wildcardMatch(substitute(strings.TrimSpace(want), bound), strings.TrimSpace(got)) {
			return vars, fmt.Errorf("body %q does not match %q", abbreviate(got), want)
		}
		return bound, nil
	}
	var g any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		return vars, fmt.Errorf("documented a JSON body, got %q: %v", abbreviate(got), err)
	}
	if err := value("", w, g, bound); err != nil {
		return vars, err
	}
	return bound, nil
}

// value matches one documented JSON value at path.
func value(path string, w, g any, vars map[string]string) error {
	switch w := w.(type) {
	case string:
		return str(path, w, g, vars)
	case map[string]any:
		gm, ok := g.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: documented an object, got %s", where(path), show(g))
		}
		for k, wv := range w {
			key := substitute(k, vars)
			gv, ok := gm[key]
			if !ok {
				return fmt.Errorf("%s: documented member %q missing from %s", where(path), key, show(g))
			}
			if err := value(path+"."+key, wv, gv, vars); err != nil {
				return err
			}
		}
		return nil
	case []any:
		ga, ok := g.([]any)
		if !ok {
			return fmt.Errorf("%s: documented an array, got %s", where(path), show(g))
		}
		open := len(w) > 0 && w[len(w)-1] == Wildcard
		if open {
			w = w[:len(w)-1]
		}
		if len(ga) < len(w) || (!open && len(ga) != len(w)) {
			return fmt.Errorf("%s: documented %d elements, got %d: %s", where(path), len(w), len(ga), show(g))
		}
		for i := range w {
			if err := value(fmt.Sprintf("%s[%d]", path, i), w[i], ga[i], vars); err != nil {
				return err
			}
		}
		return nil
	default:
		if !reflect.DeepEqual(w, g) {
			return fmt.Errorf("%s: documented %s, got %s", where(path), show(w), show(g))
		}
		return nil
	}
}

// str matches a documented string: a wildcard, a placeholder to bind or
// compare, or text with bound placeholders and wildcards.
func str(path, w string, g any, vars map[string]string) error {
	if w == Wildcard {
		return nil
	}
	gs, ok := g.(string)
	if !ok {
		return fmt.Errorf("%s: documented %q, got %s", where(path), w, show(g))
	}
	if name, ok := strings.CutPrefix(w, "$"); ok && variable.MatchString(w) && len(variable.FindString(w)) == len(w) {
		if have, ok := vars[name]; ok {
			if have != gs {
				return fmt.Errorf("%s: documented $%s (%q), got %q", where(path), name, have, gs)
			}
			return nil
		}
		vars[name] = gs
		return nil
	}
	if !wildcardMatch(substitute(w, vars), gs) {
		return fmt.Errorf("%s: documented %q, got %q", where(path), w, gs)
	}
	return nil
}

// substitute replaces the bound placeholders in s.
func substitute(s string, vars map[string]string) string {
	return variable.ReplaceAllStringFunc(s, func(v string) string {
		if have, ok := vars[v[1:]]; ok {
			return have
		}
		return v
	})
}

// wildcardMatch reports whether got is want with each "…" standing for any text.
func wildcardMatch(want, got string) bool {
	parts := strings.Split(want, Wildcard)
	if len(parts) == 1 {
		return want == got
	}
	if !strings.HasPrefix(got, parts[0]) {
		return false
	}
	got = got[len(parts[0]):]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(got, p)
		if i < 0 {
			return false
		}
		got = got[i+len(p):]
	}
	return strings.HasSuffix(got, parts[len(parts)-1])
}

func where(path string) string {
	if path == "" {
		return "body"
	}
	return strings.TrimPrefix(path, ".")
}

func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return abbreviate(string(b))
}

func abbreviate(s string) string {
	if len(s) > 600 {
		return s[:600] + "…"
	}
	return s
}
