// Package jsview runs the JavaScript map functions of CouchDB design
// documents in Go (with goja), so that an embedded document engine answers
// view queries from the very design documents CouchDB runs: this repository's
// views/ (its own and the Kazoo-compatible ones) and Kazoo's own, unchanged.
//
// It follows CouchDB's JavaScript query server (share/server/*.js): each
// document is parsed once and every map function sees the same read-only
// copy (writes are silently ignored, push() throws, as on CouchDB's
// deep-frozen document; see doc.go), the map functions of one design document
// share one global scope holding emit, log, sum, isArray, toJSON and JSON,
// and the emitted pairs are serialised with JSON.stringify (undefined and
// functions become null). Keys and values are then re-encoded as CouchDB
// prints them (see encode.go), so rows compare byte for byte with CouchDB's:
// TestAgainstCouchDB checks that against a real server.
//
// A map function that throws for a document is skipped for that document and
// that view only, as CouchDB does: MapAll reports it and never fails the
// write. Built-in reduce functions (_count, _sum, _stats,
// _approx_count_distinct) are provided over rows the caller supplies in index
// order (Reduce). JavaScript reduce functions are not run: none of the
// Kazoo design documents this repository installs or reads has one (they
// use _count and _sum).
package jsview

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/dop251/goja"
)

// Row is one emitted key/value pair. Key and Value are JSON in CouchDB's own
// encoding (integers without ".0", undefined as null, upper-case \u00XX
// escapes), ready to be stored, compared or written into a response.
type Row struct {
	ID    string          // the document's _id
	Key   json.RawMessage // emitted key
	Value json.RawMessage // emitted value
}

// View describes one view of a design document.
type View struct {
	Name   string
	Map    string // JavaScript source as compiled
	Reduce string // built-in name or JavaScript source; "" when none
}

// MapError is a map function failing for one document. CouchDB logs it and
// leaves the document out of that view; MapAll does the same and returns it
// so that the caller can log it.
type MapError struct {
	View    string
	DocID   string
	Message string // e.g. "TypeError: Cannot read property 'slice' of undefined"
	// Fatal is set where CouchDB would not have skipped the document but
	// stopped updating the whole index (queries then fail until the cause
	// goes): the function threw "fatal_error" or ["fatal", ...], recursed past
	// the stack limit, or the document took longer than the timeout. Here the
	// document is skipped all the same; the caller decides what else to do.
	Fatal bool
}

func (e *MapError) Error() string {
	return fmt.Sprintf("jsview: view %q: map function raised %s with doc._id %s", e.View, e.Message, e.DocID)
}

// ErrNotJavaScript is returned by Compile for design documents in another
// language (Mango's "query" indexes, Erlang views).
var ErrNotJavaScript = errors.New("jsview: design document language is not javascript")

// Design is a compiled design document. It is safe for concurrent use: each
// call borrows a JavaScript runtime of its own from a pool, since goja
// runtimes are not goroutine-safe. Pooling matters: setting a runtime up
// costs about as much as mapping a document through every view.
type Design struct {
	id            string
	views         []View
	index         map[string]int // view name → position in views
	progs         []*goja.Program
	includeDesign bool

	timeout time.Duration
	logf    func(view, docID, message string)

	pool chan *vm
}

// Option configures Compile.
type Option func(*Design)

// WithTimeout bounds the JavaScript time spent on one document (all views),
// like CouchDB's os_process_timeout (default 5s; 0 disables it). Views not
// finished in time get a fatal MapError.
func WithTimeout(d time.Duration) Option { return func(ds *Design) { ds.timeout = d } }

// WithLog receives what map functions pass to log(); CouchDB writes it to its
// own log at info level. Without it, log() is a no-op. Concurrent MapAll
// calls call it concurrently.
func WithLog(f func(view, docID, message string)) Option {
	return func(ds *Design) { ds.logf = f }
}

type designJSON struct {
	ID       string                     `json:"_id"`
	Language *string                    `json:"language"`
	Views    map[string]json.RawMessage `json:"views"`
	Options  struct {
		IncludeDesign bool `json:"include_design"`
	} `json:"options"`
}

type viewJSON struct {
	Map    json.RawMessage `json:"map"`
	Reduce json.RawMessage `json:"reduce"`
}

// source reads a function: a string, or (as Kazoo keeps them in its source
// tree, one line per element) an array of strings, joined with newlines.
func source(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var lines []string
	if err := json.Unmarshal(raw, &lines); err != nil {
		return "", errors.New("must be a string or an array of strings")
	}
	return strings.Join(lines, "\n"), nil
}

// Compile parses a design document and compiles each map function once.
// It fails, naming the view, on JavaScript that does not compile or does not
// evaluate to a function; CouchDB refuses such design documents too.
func Compile(designDoc []byte, opts ...Option) (*Design, error) {
	var dj designJSON
	if err := json.Unmarshal(designDoc, &dj); err != nil {
		return nil, fmt.Errorf("jsview: design document: %w", err)
	}
	if dj.Language != nil && *dj.Language != "javascript" {
		return nil, fmt.Errorf("%w: %q", ErrNotJavaScript, *dj.Language)
	}
	d := &Design{id: dj.ID, index: map[string]int{}, includeDesign: dj.Options.IncludeDesign, timeout: 5 * time.Second}
	for _, o := range opts {
		o(d)
	}
	names := make([]string, 0, len(dj.Views))
	for name := range dj.Views {
		if name == "lib" { // CommonJS modules for require(), not a view
			continue
		}
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		var vj viewJSON
		if err := json.Unmarshal(dj.Views[name], &vj); err != nil {
			return nil, fmt.Errorf("jsview: %s: view %q: %w", dj.ID, name, err)
		}
		mapSrc, err := source(vj.Map)
		if err != nil {
			return nil, fmt.Errorf("jsview: %s: view %q: map %w", dj.ID, name, err)
		}
		if strings.TrimSpace(mapSrc) == "" {
			return nil, fmt.Errorf("jsview: %s: view %q: no map function", dj.ID, name)
		}
		redSrc, err := source(vj.Reduce)
		if err != nil {
			return nil, fmt.Errorf("jsview: %s: view %q: reduce %w", dj.ID, name, err)
		}
		if r := strings.TrimSpace(redSrc); strings.HasPrefix(r, "_") {
			if _, ok := builtinFor(r); !ok {
				return nil, fmt.Errorf("jsview: %s: view %q: unknown built-in reduce %q", dj.ID, name, r)
			}
		}
		prog, err := compileFunction(dj.ID+"/_view/"+name, mapSrc)
		if err != nil {
			return nil, fmt.Errorf("jsview: %s: view %q: map function does not compile: %w", dj.ID, name, err)
		}
		d.index[name] = len(d.views)
		d.views = append(d.views, View{Name: name, Map: mapSrc, Reduce: redSrc})
		d.progs = append(d.progs, prog)
	}
	d.pool = make(chan *vm, 2*runtime.GOMAXPROCS(0))
	// Build one runtime now: it evaluates every function (a source that is
	// an expression but not a function fails here) and seeds the pool.
	m, err := d.newVM()
	if err != nil {
		return nil, err
	}
	d.put(m)
	return d, nil
}

// compileFunction compiles a function source as an expression, the way
// CouchDB turns "function(doc) {...}" (an anonymous function statement,
// which is not a valid script) into a value.
func compileFunction(name, src string) (*goja.Program, error) {
	s := strings.TrimSpace(src)
	s = strings.TrimRight(s, "; \t\r\n")
	prog, err := goja.Compile(name, "("+s+"\n)", false)
	if err == nil {
		return prog, nil
	}
	// Not a single expression: a script whose completion value is the
	// function (e.g. "var f = function(doc){...}; f").
	if p2, err2 := goja.Compile(name, src, false); err2 == nil {
		return p2, nil
	}
	return nil, err
}

// ID is the design document's _id.
func (d *Design) ID() string { return d.id }

// Views lists the views, sorted by name.
func (d *Design) Views() []View { return append([]View(nil), d.views...) }

// Map runs one view's map function over doc (the document as CouchDB would
// hand it to the query server: with _id and _rev, attachments as stubs).
// A function that throws yields a *MapError and no rows.
func (d *Design) Map(view string, doc []byte) ([]Row, error) {
	i, ok := d.index[view]
	if !ok {
		return nil, fmt.Errorf("jsview: %s has no view %q", d.id, view)
	}
	res, err := d.run(doc, []int{i})
	if err != nil {
		return nil, err
	}
	if res.errs[0] != nil {
		return nil, res.errs[0]
	}
	return res.rows[0], nil
}

// MapAll maps doc through every view at once, which is what an engine does
// on each write. rows has an entry for every view (nil when the view emitted
// nothing or was skipped); skipped has one for each view whose function threw
// for this document: CouchDB logs those and leaves the document out of that
// view, and so should the caller, without failing the write. err is reserved
// for input CouchDB would never map: not a JSON object, or without a string
// _id. Deleted documents and (unless the design document sets
// options.include_design) design documents emit nothing, as in CouchDB.
func (d *Design) MapAll(doc []byte) (rows map[string][]Row, skipped map[string]*MapError, err error) {
	res, err := d.run(doc, nil)
	if err != nil {
		return nil, nil, err
	}
	rows = make(map[string][]Row, len(d.views))
	for i, v := range d.views {
		rows[v.Name] = res.rows[i]
		if res.errs[i] != nil {
			if skipped == nil {
				skipped = map[string]*MapError{}
			}
			skipped[v.Name] = res.errs[i]
		}
	}
	return rows, skipped, nil
}

// get borrows a runtime; put returns it. The pool holds at most two per CPU;
// runtimes past that are dropped for the garbage collector.
func (d *Design) get() (*vm, error) {
	select {
	case m := <-d.pool:
		return m, nil
	default:
		return d.newVM()
	}
}

func (d *Design) put(m *vm) {
	select {
	case d.pool <- m:
	default:
	}
}
