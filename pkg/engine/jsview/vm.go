package jsview

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dop251/goja"
)

// prelude builds the sandbox CouchDB's query server gives map functions
// (emit, sum, isArray, toJSON, log; JSON is the engine's own) and returns
// runAll, kept out of the global scope. runAll calls the map functions one
// after the other on one document and hands each one's serialised emits
// (flat: key, value, key, value, ...) or exception to Go. One call per
// document keeps goja's stack and the JavaScript-to-Go crossings down.
// JSON.stringify runs inside the try, so a value it cannot serialise (a
// cycle) skips the document for that view only, like the SpiderMonkey query
// server (CouchDB's QuickJS one fails the whole index instead).
const prelude = `(function (global, sink, done, failed) {
  var out = [], current = -1;
  var stringify = JSON.stringify, objToString = Object.prototype.toString;
  global.emit = function (key, value) {
    out[out.length] = key;
    out[out.length] = value;
  };
  global.sum = function (values) {
    var rv = 0;
    for (var i in values) { rv += values[i]; }
    return rv;
  };
  global.isArray = function (obj) { return objToString.call(obj) === "[object Array]"; };
  global.toJSON = function (val) { return stringify(val); };
  global.log = function (message) {
    if (typeof message != "string") { message = stringify(message); }
    sink(current, String(message));
  };
  return function runAll(funs, doc, from) {
    for (var i = from; i < funs.length; i++) {
      current = i;
      out = [];
      try {
        funs[i](doc);
        var s = stringify(out);
        out = [];
        done(i, s);
      } catch (e) {
        out = [];
        failed(i, e);
      }
    }
    current = -1;
  };
})`

var preludeProg = goja.MustCompile("jsview-prelude", prelude, false)

// maxCallStack bounds recursion in map functions; past it the function
// raises a RangeError and the document is skipped for that view.
const maxCallStack = 10000

// vm is one goja runtime with every map function of a design instantiated.
// It is used by one goroutine at a time.
type vm struct {
	d         *Design
	rt        *goja.Runtime
	funs      []goja.Value
	allFuns   goja.Value // funs as one JavaScript array
	runAll    goja.Callable
	stringify goja.Callable

	scratch scratch

	// the call under way
	which []int
	docID string
	res   *result
	next  int // results recorded so far
}

func (d *Design) newVM() (*vm, error) {
	rt := goja.New()
	rt.SetMaxCallStackSize(maxCallStack)
	freezeAware(rt)
	m := &vm{d: d, rt: rt}
	pre, err := rt.RunProgram(preludeProg)
	if err != nil {
		return nil, fmt.Errorf("jsview: prelude: %w", err)
	}
	build, _ := goja.AssertFunction(pre)
	sink := rt.ToValue(func(call goja.FunctionCall) goja.Value {
		if i := int(call.Argument(0).ToInteger()); d.logf != nil && i >= 0 && i < len(m.which) {
			d.logf(d.views[m.which[i]].Name, m.docID, call.Argument(1).String())
		}
		return goja.Undefined()
	})
	done := rt.ToValue(func(call goja.FunctionCall) goja.Value {
		i := int(call.Argument(0).ToInteger())
		view := d.views[m.which[i]].Name
		rows, err := splitRows(m.docID, couchRaw([]byte(call.Argument(1).String())))
		if err != nil { // not expected from JSON.stringify
			m.res.errs[i] = &MapError{View: view, DocID: m.docID, Message: err.Error()}
		} else {
			m.res.rows[i] = rows
		}
		m.next = i + 1
		return goja.Undefined()
	})
	failed := rt.ToValue(func(call goja.FunctionCall) goja.Value {
		i := int(call.Argument(0).ToInteger())
		m.res.errs[i] = m.thrown(d.views[m.which[i]].Name, m.docID, call.Argument(1))
		m.next = i + 1
		return goja.Undefined()
	})
	api, err := build(goja.Undefined(), rt.GlobalObject(), sink, done, failed)
	if err != nil {
		return nil, fmt.Errorf("jsview: prelude: %w", err)
	}
	m.runAll, _ = goja.AssertFunction(api)
	m.stringify, _ = goja.AssertFunction(rt.Get("JSON").ToObject(rt).Get("stringify"))
	for i, p := range d.progs {
		v, err := rt.RunProgram(p)
		if err != nil {
			return nil, fmt.Errorf("jsview: %s: view %q: map function: %v", d.id, d.views[i].Name, err)
		}
		if _, ok := goja.AssertFunction(v); !ok {
			return nil, fmt.Errorf("jsview: %s: view %q: map function: expression does not evaluate to a function", d.id, d.views[i].Name)
		}
		m.funs = append(m.funs, v)
	}
	m.allFuns = rt.NewArray(toAny(m.funs)...)
	return m, nil
}

type result struct {
	rows [][]Row
	errs []*MapError
}

var errTimeout = errors.New("timeout")

// run maps doc through the views numbered in which (all when nil).
func (d *Design) run(doc []byte, which []int) (*result, error) {
	m, err := d.get()
	if err != nil {
		return nil, err
	}
	res, reusable, err := m.mapDoc(doc, which)
	if reusable {
		d.put(m)
	}
	return res, err
}

func (m *vm) mapDoc(doc []byte, which []int) (res *result, reusable bool, err error) {
	d := m.d
	if which == nil {
		which = make([]int, len(d.views))
		for i := range which {
			which[i] = i
		}
	}
	root, err := parseJS(doc, &m.scratch)
	if err != nil {
		return nil, true, fmt.Errorf("jsview: document is not JSON: %w", err)
	}
	if root.kind != kObject {
		return nil, true, errors.New("jsview: document is not a JSON object")
	}
	var id string
	ok, deleted := false, false
	for i, k := range root.keys {
		switch k {
		case "_id":
			if root.elems[i].kind == kString {
				id = root.elems[i].s
				ok = true
			}
		case "_deleted":
			deleted = root.elems[i].kind == kTrue
		}
	}
	if !ok {
		return nil, true, errors.New("jsview: document has no string _id")
	}
	res = &result{rows: make([][]Row, len(which)), errs: make([]*MapError, len(which))}
	if deleted || strings.HasPrefix(id, "_local/") || (strings.HasPrefix(id, "_design/") && !d.includeDesign) {
		return res, true, nil
	}
	docVal := m.wrap(&root)

	var timer *time.Timer
	if d.timeout > 0 {
		timer = time.AfterFunc(d.timeout, func() { m.rt.Interrupt(errTimeout) })
	}
	m.which, m.docID, m.res, m.next = which, id, res, 0
	funs := m.allFuns
	if len(which) != len(m.funs) {
		fs := make([]any, len(which))
		for k, vi := range which {
			fs[k] = m.funs[vi]
		}
		funs = m.rt.NewArray(fs...)
	}
	for m.next < len(which) {
		_, err := m.runAll(goja.Undefined(), funs, docVal, m.rt.ToValue(m.next))
		if err == nil {
			break
		}
		// Not catchable in JavaScript: the view under way fails; after a
		// timeout the rest fail with it, otherwise the rest still run.
		k := m.next
		res.errs[k] = m.mapError(d.views[which[k]].Name, id, err)
		m.next = k + 1
		var ie *goja.InterruptedError
		if errors.As(err, &ie) {
			msg := res.errs[k].Message
			for k++; k < len(which); k++ {
				res.errs[k] = &MapError{View: d.views[which[k]].Name, DocID: id, Message: msg, Fatal: true}
			}
			break
		}
	}
	m.which, m.docID, m.res = nil, "", nil
	// A timer that already fired may still interrupt this runtime later:
	// such a runtime is not put back in the pool.
	reusable = timer == nil || timer.Stop()
	return res, reusable, nil
}

// mapError describes an exception the way CouchDB's log line does, and marks
// the ones CouchDB treats as fatal.
func (m *vm) mapError(view, id string, err error) *MapError {
	me := &MapError{View: view, DocID: id}
	var ex *goja.Exception
	var ie *goja.InterruptedError
	var so *goja.StackOverflowError
	switch {
	case errors.As(err, &ex):
		return m.thrown(view, id, ex.Value())
	case errors.As(err, &ie):
		me.Message = "timeout: the document took longer than " + m.d.timeout.String()
		me.Fatal = true
	case errors.As(err, &so):
		me.Message = "RangeError: Maximum call stack size exceeded"
	default:
		me.Message = err.Error()
	}
	return me
}

// thrown describes a value a map function threw.
func (m *vm) thrown(view, id string, v goja.Value) *MapError {
	me := &MapError{View: view, DocID: id, Message: m.describe(v)}
	if s, ok := v.Export().(string); ok && s == "fatal_error" {
		me.Fatal = true
	}
	if o, ok := v.(*goja.Object); ok && o.ClassName() == "Array" {
		if first := o.Get("0"); first != nil && first.String() == "fatal" {
			me.Fatal = true
		}
	}
	return me
}

func toAny(vs []goja.Value) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = v
	}
	return out
}

// describe renders a thrown value: "TypeError: ..." for errors, JSON for
// anything else (CouchDB prints it with toSource()).
func (m *vm) describe(v goja.Value) string {
	if o, ok := v.(*goja.Object); ok && o.ClassName() == "Error" {
		return v.String()
	}
	if s, err := m.stringify(goja.Undefined(), v); err == nil && !goja.IsUndefined(s) {
		return s.String()
	}
	return v.String()
}

// splitRows cuts the serialised emits of one map call, [key, value, key,
// value, ...], into rows without decoding them: keys and values stay slices
// of b.
func splitRows(id string, b []byte) ([]Row, error) {
	bad := func() ([]Row, error) {
		return nil, fmt.Errorf("jsview: unexpected map output %.60q", b)
	}
	if len(b) < 2 || b[0] != '[' || b[len(b)-1] != ']' {
		return bad()
	}
	if len(b) == 2 {
		return nil, nil
	}
	var rows []Row
	i := 1
	for {
		kEnd, ok := skipValue(b, i)
		if !ok || kEnd >= len(b) || b[kEnd] != ',' {
			return bad()
		}
		vEnd, ok := skipValue(b, kEnd+1)
		if !ok || vEnd >= len(b) {
			return bad()
		}
		rows = append(rows, Row{ID: id, Key: b[i:kEnd:kEnd], Value: b[kEnd+1 : vEnd : vEnd]})
		switch {
		case b[vEnd] == ']' && vEnd == len(b)-1:
			return rows, nil
		case b[vEnd] != ',':
			return bad()
		}
		i = vEnd + 1
	}
}

// skipValue returns the index just past the compact JSON value starting at i.
func skipValue(b []byte, i int) (int, bool) {
	depth := 0
	for i < len(b) {
		switch b[i] {
		case '"':
			i++
			for i < len(b) && b[i] != '"' {
				if b[i] == '\\' {
					i++
				}
				i++
			}
			if i >= len(b) {
				return i, false
			}
			i++
			if depth == 0 {
				return i, true
			}
			continue
		case '[', '{':
			depth++
		case ']', '}':
			if depth == 0 {
				return i, true
			}
			depth--
			if depth == 0 {
				return i + 1, true
			}
		case ',':
			if depth == 0 {
				return i, true
			}
		}
		i++
	}
	return i, depth == 0
}
