package jsview

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Grouping of reduced rows, as the group and group_level query parameters
// ask; a positive level is group_level itself.
const (
	GroupAll   = 0  // group=false: one row whose key is null
	GroupExact = -1 // group=true: one row per distinct key
)

// ErrJSReduce is returned for views whose reduce is a JavaScript function:
// only CouchDB's built-ins are run (Kazoo's views and this repository's use
// nothing else).
var ErrJSReduce = errors.New("jsview: JavaScript reduce functions are not supported")

type builtin int

const (
	bCount builtin = iota + 1
	bSum
	bStats
	bApproxCountDistinct
)

// builtinFor recognises a built-in reduce by its prefix, as CouchDB does
// ("_sum" followed by anything is _sum).
func builtinFor(src string) (builtin, bool) {
	src = strings.TrimSpace(src)
	switch {
	case strings.HasPrefix(src, "_count"):
		return bCount, true
	case strings.HasPrefix(src, "_sum"):
		return bSum, true
	case strings.HasPrefix(src, "_stats"):
		return bStats, true
	case strings.HasPrefix(src, "_approx_count_distinct"):
		return bApproxCountDistinct, true
	}
	return 0, false
}

// Reduce applies the view's reduce function (see the package function).
func (d *Design) Reduce(view string, rows []Row, groupLevel int) ([]Row, error) {
	i, ok := d.index[view]
	if !ok {
		return nil, fmt.Errorf("jsview: %s has no view %q", d.id, view)
	}
	if strings.TrimSpace(d.views[i].Reduce) == "" {
		return nil, fmt.Errorf("jsview: %s: view %q has no reduce function", d.id, view)
	}
	return Reduce(d.views[i].Reduce, rows, groupLevel)
}

// Reduce runs the built-in reduce fn (_count, _sum, _stats,
// _approx_count_distinct) over rows, which the caller supplies in index
// order (collation order, then document id) already restricted to the
// queried range. Rows are grouped by GroupAll, GroupExact or a group_level
// (array keys cut to their first groupLevel elements; other keys whole).
// Adjacent rows form a group when their group keys encode identically.
//
// Results follow CouchDB: integers stay exact, floats print as CouchDB does
// (3.0), a _sum over values that are not numbers yields the
// builtin_reduce_error object as the value, and an error is returned where
// CouchDB fails the query (_stats over non-numbers, floats overflowing,
// objects summed with numbers). No input rows give no output rows.
func Reduce(fn string, rows []Row, groupLevel int) ([]Row, error) {
	b, ok := builtinFor(fn)
	if !ok {
		return nil, ErrJSReduce
	}
	if groupLevel < GroupExact {
		return nil, fmt.Errorf("jsview: invalid group level %d", groupLevel)
	}
	var out []Row
	var groupKey []byte
	start := 0
	flush := func(end int) error {
		if end == start {
			return nil
		}
		v, err := reduceGroup(b, rows[start:end])
		if err != nil {
			return err
		}
		out = append(out, Row{Key: groupKey, Value: v})
		return nil
	}
	for i, r := range rows {
		k, err := groupKeyOf(r.Key, groupLevel)
		if err != nil {
			return nil, err
		}
		if i > 0 && !bytes.Equal(k, groupKey) {
			if err := flush(i); err != nil {
				return nil, err
			}
			start = i
		}
		groupKey = k
	}
	if err := flush(len(rows)); err != nil {
		return nil, err
	}
	return out, nil
}

func groupKeyOf(key []byte, level int) ([]byte, error) {
	if level == GroupAll {
		return []byte("null"), nil
	}
	k, err := parseValue(key)
	if err != nil {
		return nil, err
	}
	if level > 0 && k.kind == kArray && len(k.elems) > level {
		k.elems = k.elems[:level]
	}
	return k.encode(), nil
}

func reduceGroup(b builtin, rows []Row) (json []byte, err error) {
	switch b {
	case bCount:
		return intValue(int64(len(rows))).encode(), nil
	case bApproxCountDistinct:
		// CouchDB estimates with a HyperLogLog (precision 11); for the small
		// cardinalities of a group this is the exact count, as here.
		seen := map[string]bool{}
		for _, r := range rows {
			k, err := parseValue(r.Key)
			if err != nil {
				return nil, err
			}
			seen[string(k.encode())] = true
		}
		return intValue(int64(len(seen))).encode(), nil
	}
	values := make([]value, len(rows))
	for i, r := range rows {
		if values[i], err = parseValue(r.Value); err != nil {
			return nil, err
		}
	}
	var v value
	if b == bSum {
		v, err = sumAll(values)
	} else {
		v, err = statsAll(values)
	}
	if err != nil {
		return nil, err
	}
	return v.encode(), nil
}

// _sum

const sumErrorReason = "The _sum function requires that map values be numbers, " +
	"arrays of numbers, or objects. Objects cannot be mixed with other data " +
	"structures. Objects can be arbitrarily nested, provided that the values " +
	"for all fields are themselves numbers, arrays of numbers, or objects."

// sumStop ends a _sum fold early with result as the reduction: CouchDB
// reports unsummable values in the value rather than failing the query.
type sumStop struct{ result value }

func (sumStop) Error() string { return "sum stopped" }

func sumError(cause value) error {
	return sumStop{value{kind: kObject,
		keys:  []string{"error", "reason", "caused_by"},
		elems: []value{{kind: kString, s: "builtin_reduce_error"}, {kind: kString, s: sumErrorReason}, cause}}}
}

func sumAll(values []value) (value, error) {
	acc := intValue(0)
	for _, v := range values {
		next, err := sumValues(v, acc)
		if err != nil {
			var stop sumStop
			if errors.As(err, &stop) {
				return stop.result, nil
			}
			return value{}, err
		}
		acc = next
	}
	return acc, nil
}

func sumValues(v, acc value) (value, error) {
	switch {
	case v.isNumber() && acc.isNumber():
		return addNum(acc, v)
	case v.kind == kArray && acc.kind == kArray:
		return sumArrays(acc.elems, v.elems)
	case v.isNumber() && acc.kind == kArray:
		return sumArrays(acc.elems, []value{v})
	case v.kind == kArray && acc.isNumber():
		return sumArrays([]value{acc}, v.elems)
	case v.kind == kObject:
		for i, k := range v.keys {
			if k == "error" {
				if e := v.elems[i]; e.kind == kString && e.s == "builtin_reduce_error" {
					return value{}, sumStop{v}
				}
				break
			}
		}
		if acc.kind == kInt && acc.i.Sign() == 0 {
			return v, nil
		}
		if acc.kind == kObject {
			return sumObjects(sortedMembers(v), sortedMembers(acc))
		}
		return value{}, fmt.Errorf("jsview: _sum: case_clause: cannot add an object to %s", acc.encode())
	}
	return value{}, sumError(v)
}

func sumArrays(xs, ys []value) (value, error) {
	out := value{kind: kArray, elems: []value{}}
	for {
		switch {
		case len(xs) == 0:
			out.elems = append(out.elems, ys...)
			return out, nil
		case len(ys) == 0:
			out.elems = append(out.elems, xs...)
			return out, nil
		case xs[0].isNumber() && ys[0].isNumber():
			s, err := addNum(xs[0], ys[0])
			if err != nil {
				return value{}, err
			}
			out.elems = append(out.elems, s)
			xs, ys = xs[1:], ys[1:]
		default:
			return value{}, sumError(value{kind: kArray, elems: xs})
		}
	}
}

type member struct {
	key string
	val value
}

func sortedMembers(o value) []member {
	ms := make([]member, len(o.keys))
	for i, k := range o.keys {
		ms[i] = member{k, o.elems[i]}
	}
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].key < ms[j].key })
	return ms
}

// sumObjects merges two objects sorted by member name, adding the values of
// names present in both.
func sumObjects(a, b []member) (value, error) {
	out := value{kind: kObject}
	add := func(k string, v value) {
		out.keys = append(out.keys, k)
		out.elems = append(out.elems, v)
	}
	for len(a) > 0 && len(b) > 0 {
		switch {
		case a[0].key == b[0].key:
			s, err := sumValues(a[0].val, b[0].val)
			if err != nil {
				return value{}, err
			}
			add(a[0].key, s)
			a, b = a[1:], b[1:]
		case a[0].key < b[0].key:
			add(a[0].key, a[0].val)
			a = a[1:]
		default:
			add(b[0].key, b[0].val)
			b = b[1:]
		}
	}
	for _, m := range a {
		add(m.key, m.val)
	}
	for _, m := range b {
		add(m.key, m.val)
	}
	return out, nil
}

// _stats

// stats is one unpacked _stats reduction: {sum, count, min, max, sumsqr}.
type stats struct{ sum, count, min, max, sqr value }

// statAcc is a *stats, or a []statAcc for arrays of numbers.
type statAcc any

func statsAll(values []value) (value, error) {
	acc, err := initialStats(values[0])
	if err != nil {
		return value{}, err
	}
	for _, v := range values[1:] {
		if acc, err = statValues(v, acc); err != nil {
			return value{}, err
		}
	}
	return packStats(acc), nil
}

func numberStats(x value) (*stats, error) {
	sq, err := mulNum(x, x)
	if err != nil {
		return nil, err
	}
	return &stats{sum: x, count: intValue(1), min: x, max: x, sqr: sq}, nil
}

func initialStats(v value) (statAcc, error) {
	switch {
	case v.kind == kArray:
		l := make([]statAcc, len(v.elems))
		for i, e := range v.elems {
			s, err := initialStats(e)
			if err != nil {
				return nil, err
			}
			l[i] = s
		}
		return l, nil
	case v.isNumber():
		return numberStats(v)
	case v.kind == kObject:
		return unpackStats(v)
	}
	return nil, fmt.Errorf("jsview: _stats: non-numeric _stats input: %s", v.encode())
}

func statValues(v value, acc statAcc) (statAcc, error) {
	if v.kind == kArray {
		l, ok := acc.([]statAcc)
		if !ok || len(l) != len(v.elems) {
			return nil, fmt.Errorf("jsview: _stats: arrays of different shapes (%s)", v.encode())
		}
		out := make([]statAcc, len(l))
		for i := range l {
			s, err := statValues(v.elems[i], l[i])
			if err != nil {
				return nil, err
			}
			out[i] = s
		}
		return out, nil
	}
	var s *stats
	var err error
	switch {
	case v.kind == kObject:
		s, err = unpackStats(v)
	case v.isNumber():
		s, err = numberStats(v)
	default:
		err = fmt.Errorf("jsview: _stats: the _stats function requires that map values be numbers or arrays of numbers, not '%s'", v.encode())
	}
	if err != nil {
		return nil, err
	}
	a, ok := acc.(*stats)
	if !ok {
		return nil, fmt.Errorf("jsview: _stats: the _stats function requires that map values be numbers or arrays of numbers, not '%s'", v.encode())
	}
	out := &stats{}
	if out.sum, err = addNum(s.sum, a.sum); err != nil {
		return nil, err
	}
	if out.count, err = addNum(s.count, a.count); err != nil {
		return nil, err
	}
	if out.sqr, err = addNum(s.sqr, a.sqr); err != nil {
		return nil, err
	}
	// Erlang's min/max return their first argument when both compare equal.
	out.min, out.max = s.min, s.max
	if cmpNum(a.min, s.min) < 0 {
		out.min = a.min
	}
	if cmpNum(a.max, s.max) > 0 {
		out.max = a.max
	}
	return out, nil
}

// unpackStats reads a pre-aggregated {sum, count, min, max, sumsqr} value.
func unpackStats(o value) (*stats, error) {
	get := func(name string) (value, error) {
		for i, k := range o.keys {
			if k == name {
				if v := o.elems[i]; v.isNumber() {
					return v, nil
				}
				return value{}, fmt.Errorf("jsview: _stats: non-numeric _stats input received for %s: %s", name, o.elems[i].encode())
			}
		}
		return value{}, fmt.Errorf("jsview: _stats: user _stats input missing required field %s (%s)", name, o.encode())
	}
	var s stats
	var err error
	for _, f := range []struct {
		name string
		dst  *value
	}{{"sum", &s.sum}, {"count", &s.count}, {"min", &s.min}, {"max", &s.max}, {"sumsqr", &s.sqr}} {
		if *f.dst, err = get(f.name); err != nil {
			return nil, err
		}
	}
	return &s, nil
}

func packStats(acc statAcc) value {
	if l, ok := acc.([]statAcc); ok {
		out := value{kind: kArray, elems: make([]value, len(l))}
		for i, a := range l {
			out.elems[i] = packStats(a)
		}
		return out
	}
	s := acc.(*stats)
	return value{kind: kObject,
		keys:  []string{"sum", "count", "min", "max", "sumsqr"},
		elems: []value{s.sum, s.count, s.min, s.max, s.sqr}}
}
