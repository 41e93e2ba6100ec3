package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	bbolt "go.etcd.io/bbolt"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/engine/jsview"
)

// Listings (views, _all_docs, _changes) read in pages: each page is one
// short read transaction, and the caller's function runs between them,
// never inside one. A callback that writes would otherwise deadlock when
// the write needs to grow the file (bbolt waits for read transactions to
// end before it remaps), and a long transaction would stall writers.
const (
	pageRows  = 256
	pageBytes = 1 << 20
)

// span is a range of keys: lo inclusive (nil: from the first), hi
// exclusive (nil: to the last).
type span struct{ lo, hi []byte }

type step int

const (
	next  step = iota // go on
	pause             // end the page here, resume after this key
	stop              // done
)

type scanSpec struct {
	locate  func(tx *bbolt.Tx) (*bbolt.Bucket, error)
	spans   []span
	desc    bool
	visit   func(tx *bbolt.Tx, k, v []byte) (step, error)
	endSpan func() (step, error) // after each span read to its end
}

// scan visits the keys of s.spans in order (each span descending when
// s.desc), a page per read transaction, calling flush after each page.
// done reports that every span was read to its end (visit did not stop).
func (e *Engine) scan(ctx context.Context, s scanSpec, flush func() error) (done bool, err error) {
	i := 0
	var resume []byte // last key visited in span i
	for {
		st := next
		err := e.read(ctx, func(tx *bbolt.Tx) error {
			b, err := s.locate(tx)
			if err != nil {
				return err
			}
			for i < len(s.spans) {
				lo, hi := s.spans[i].lo, s.spans[i].hi
				if resume != nil {
					if s.desc {
						hi = resume
					} else {
						lo = after(resume)
					}
				}
				c := b.Cursor()
				var k, v []byte
				switch {
				case !s.desc && lo == nil:
					k, v = c.First()
				case !s.desc:
					k, v = c.Seek(lo)
				case hi == nil:
					k, v = c.Last()
				default:
					if k, _ = c.Seek(hi); k == nil {
						k, v = c.Last()
					} else {
						k, v = c.Prev()
					}
				}
				for k != nil {
					if (!s.desc && hi != nil && bytes.Compare(k, hi) >= 0) || (s.desc && lo != nil && bytes.Compare(k, lo) < 0) {
						break
					}
					if st, err = s.visit(tx, k, v); err != nil {
						return err
					}
					if st != next {
						// k is valid only in this transaction: the next
						// page resumes from a copy.
						resume = bytes.Clone(k)
						return nil
					}
					if s.desc {
						k, v = c.Prev()
					} else {
						k, v = c.Next()
					}
				}
				i, resume = i+1, nil
				if s.endSpan != nil {
					if st, err = s.endSpan(); err != nil || st != next {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return false, e.fail(err)
		}
		if err := flush(); err != nil {
			return false, err
		}
		if st == stop {
			return false, nil
		}
		if i >= len(s.spans) {
			return true, nil
		}
	}
}

// rowPage collects the rows of a page, applying skip and limit.
type rowPage struct {
	limit, skip, count int
	rows               []engine.Row
	size               int
}

// skipOne consumes one row of skip.
func (p *rowPage) skipOne() bool {
	if p.skip > 0 {
		p.skip--
		return true
	}
	return false
}

// add adds r and reports that the limit is reached.
func (p *rowPage) add(r engine.Row) bool {
	if p.rows == nil {
		n := pageRows
		if p.limit > 0 {
			n = min(n, p.limit-p.count)
		}
		p.rows = make([]engine.Row, 0, n)
	}
	p.rows = append(p.rows, r)
	p.size += len(r.Key) + len(r.Value) + len(r.Doc) + len(r.ID)
	p.count++
	return p.limit > 0 && p.count >= p.limit
}

func (p *rowPage) step() step {
	if len(p.rows) >= pageRows || p.size >= pageBytes {
		return pause
	}
	return next
}

func (p *rowPage) flush(fn func(engine.Row) error) error {
	rows := p.rows
	p.rows, p.size = nil, 0
	for _, r := range rows {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// reduceQuery reads the reduction of a view: rows grouped (group,
// group_level) in index order, each group reduced with the view's
// built-in; skip and limit count groups.
func (e *Engine) reduceQuery(ctx context.Context, q engine.Query, src string, spans []span,
	locate func(*bbolt.Tx) (*bbolt.Bucket, error), out *rowPage, fn func(engine.Row) error) error {
	if q.IncludeDocs {
		return badRequest("include_docs is invalid for reduce")
	}
	level := jsview.GroupAll
	if q.Group {
		level = jsview.GroupExact
	}
	if q.GroupLevel > 0 {
		level = q.GroupLevel
	}
	if q.Keys != nil && level == jsview.GroupAll {
		return badRequest("multi-key fetches for reduce views must use group=true")
	}
	if _, err := jsview.Reduce(src, nil, level); err != nil {
		return badRequest("reduce: %v", err)
	}
	red := &reducer{fn: src, refn: rereduceOf(src), level: level}
	emit := func(r *engine.Row) step {
		if r == nil || out.skipOne() {
			return next
		}
		if out.add(*r) {
			return stop
		}
		return next
	}
	visit := func(tx *bbolt.Tx, k, v []byte) (step, error) {
		pairs, err := decodePairs(v)
		if err != nil {
			return stop, err
		}
		for i := range pairs {
			p := pairs[i]
			if q.Descending {
				p = pairs[len(pairs)-1-i]
			}
			done, err := red.add(p.key, p.value)
			if err != nil {
				return stop, err
			}
			if emit(done) == stop {
				return stop, nil
			}
		}
		return out.step(), nil
	}
	spec := scanSpec{locate: locate, spans: spans, desc: q.Descending, visit: visit}
	if q.Keys != nil {
		// Each key is its own group, even when two keys of q.Keys are equal.
		spec.endSpan = func() (step, error) {
			r, err := red.finish()
			if err != nil {
				return stop, err
			}
			if emit(r) == stop {
				return stop, nil
			}
			return out.step(), nil
		}
	}
	done, err := e.scan(ctx, spec, func() error { return out.flush(fn) })
	if err != nil || !done {
		return err
	}
	r, err := red.finish()
	if err != nil {
		return e.fail(err)
	}
	emit(r)
	return out.flush(fn)
}

// rereduceOf is the built-in that combines partial results of src, ""
// when they cannot be combined (all rows of a group are then reduced at
// once).
func rereduceOf(src string) string {
	src = strings.TrimSpace(src)
	switch {
	case strings.HasPrefix(src, "_count"), strings.HasPrefix(src, "_sum"):
		return "_sum"
	case strings.HasPrefix(src, "_stats"):
		return "_stats"
	}
	return ""
}

// reduceBatch is how many rows (or partial results) are reduced at once
// (a variable for tests).
var reduceBatch = 1024

// reducer reduces a stream of rows group by group, in batches when the
// built-in allows, so that a group of any size takes bounded memory.
type reducer struct {
	fn, refn string
	level    int
	open     bool
	key      []byte // the current group's key
	rows     []jsview.Row
	partial  []jsview.Row
}

// groupKey is the key of the group of key.
func groupKey(key []byte, level int) []byte {
	switch {
	case level == jsview.GroupAll:
		return []byte("null")
	case level == jsview.GroupExact || len(key) == 0 || key[0] != '[':
		return key
	}
	var elems []json.RawMessage
	if json.Unmarshal(key, &elems) != nil || len(elems) <= level {
		return key
	}
	return append(append([]byte("["), bytes.Join(bytesOf(elems[:level]), []byte(","))...), ']')
}

func bytesOf(rs []json.RawMessage) [][]byte {
	out := make([][]byte, len(rs))
	for i, r := range rs {
		out[i] = r
	}
	return out
}

// add adds a row; a group it ends comes back reduced.
func (r *reducer) add(key, value []byte) (*engine.Row, error) {
	gk := groupKey(key, r.level)
	var done *engine.Row
	if r.open && !bytes.Equal(gk, r.key) {
		var err error
		if done, err = r.finish(); err != nil {
			return nil, err
		}
	}
	if !r.open {
		r.open, r.key = true, bytes.Clone(gk)
	}
	r.rows = append(r.rows, jsview.Row{Key: bytes.Clone(key), Value: bytes.Clone(value)})
	if len(r.rows) >= reduceBatch && r.refn != "" {
		if err := r.fold(); err != nil {
			return nil, err
		}
	}
	return done, nil
}

// fold reduces the rows held into one partial result.
func (r *reducer) fold() error {
	v, err := reduceOne(r.fn, r.rows)
	if err != nil {
		return err
	}
	r.rows = r.rows[:0]
	r.partial = append(r.partial, jsview.Row{Key: []byte("null"), Value: v})
	if len(r.partial) >= reduceBatch {
		v, err := reduceOne(r.refn, r.partial)
		if err != nil {
			return err
		}
		r.partial = append(r.partial[:0], jsview.Row{Key: []byte("null"), Value: v})
	}
	return nil
}

// finish reduces the current group; nil when there is none.
func (r *reducer) finish() (*engine.Row, error) {
	if !r.open {
		return nil, nil
	}
	r.open = false
	var v []byte
	var err error
	if len(r.partial) == 0 {
		v, err = reduceOne(r.fn, r.rows)
	} else {
		if len(r.rows) > 0 {
			if err = r.fold(); err != nil {
				return nil, err
			}
		}
		v, err = reduceOne(r.refn, r.partial)
	}
	r.rows, r.partial = r.rows[:0], nil
	if err != nil {
		return nil, err
	}
	return &engine.Row{Key: r.key, Value: v}, nil
}

// reduceOne reduces rows, one group, to one value.
func reduceOne(fn string, rows []jsview.Row) ([]byte, error) {
	out, err := jsview.Reduce(fn, rows, jsview.GroupAll)
	if err != nil {
		return nil, badRequest("reduce: %v", err)
	}
	if len(out) != 1 {
		return nil, fmt.Errorf("reduce of %d rows gave %d results", len(rows), len(out))
	}
	return out[0].Value, nil
}

// AllDocs lists documents by id (bytewise, CouchDB's raw collation for
// _all_docs): by q.Keys (missing and deleted ids give no row), or the
// live documents of an id range. A row's value is {"rev": …}.
func (e *Engine) AllDocs(ctx context.Context, db string, q engine.Query, fn func(engine.Row) error) error {
	out := &rowPage{limit: q.Limit, skip: q.Skip}
	if q.Keys != nil {
		for i := 0; i < len(q.Keys); {
			st := next
			err := e.read(ctx, func(tx *bbolt.Tx) error {
				d, err := needDB(tx, db)
				if err != nil {
					return err
				}
				for ; i < len(q.Keys) && st == next; i++ {
					var id string
					if json.Unmarshal(q.Keys[i], &id) != nil {
						continue
					}
					r, err := getRecord(d, id)
					if err != nil {
						return err
					}
					if r == nil || r.deleted || out.skipOne() {
						continue
					}
					if out.add(allDocsRow(id, r, q.IncludeDocs)) {
						st = stop
					} else {
						st = out.step()
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
			if err := out.flush(fn); err != nil || st == stop {
				return err
			}
		}
		return nil
	}
	spans, err := idSpans(q)
	if err != nil {
		return err
	}
	visit := func(tx *bbolt.Tx, k, v []byte) (step, error) {
		r, err := decodeRecord(v)
		if err != nil {
			return stop, fmt.Errorf("%s/%s: %w", db, k, err)
		}
		if r.deleted || out.skipOne() {
			return next, nil
		}
		if out.add(allDocsRow(string(k), r, q.IncludeDocs)) {
			return stop, nil
		}
		return out.step(), nil
	}
	locate := func(tx *bbolt.Tx) (*bbolt.Bucket, error) {
		d, err := needDB(tx, db)
		if err != nil {
			return nil, err
		}
		return d.docs(), nil
	}
	_, err = e.scan(ctx, scanSpec{locate: locate, spans: spans, desc: q.Descending, visit: visit}, func() error { return out.flush(fn) })
	return err
}

func allDocsRow(id string, r *record, includeDocs bool) engine.Row {
	row := engine.Row{ID: id, Key: appendJSONString(nil, id), Value: []byte(`{"rev":"` + r.rev + `"}`)}
	if includeDocs {
		row.Doc = bytes.Clone(r.body)
	}
	return row
}

// idSpans is the id range of an _all_docs query. Keys that are not
// strings sort before every id (Erlang's term order, which CouchDB uses
// for _all_docs).
func idSpans(q engine.Query) ([]span, error) {
	str := func(raw []byte) ([]byte, bool) {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil, false
		}
		return []byte(s), true
	}
	start, end := q.StartKey, q.EndKey
	if q.Key != nil {
		start, end = q.Key, q.Key
	}
	s, sok := str(start)
	en, eok := str(end)
	if start != nil && end != nil && sok && eok {
		if c := bytes.Compare(s, en); (c > 0 && !q.Descending) || (c < 0 && q.Descending) {
			return nil, badRequest("no rows can match your key range, reverse your start_key and end_key or set descending=true")
		}
	}
	var sp span
	if !q.Descending {
		if start != nil && sok {
			sp.lo = s
		}
		if end != nil {
			if !eok {
				return nil, nil
			}
			sp.hi = after(en)
			if q.ExclusiveEnd {
				sp.hi = en
			}
		}
	} else {
		if start != nil {
			if !sok {
				return nil, nil
			}
			sp.hi = after(s)
		}
		if end != nil && eok {
			sp.lo = en
			if q.ExclusiveEnd {
				sp.lo = after(en)
			}
		}
	}
	return []span{sp}, nil
}

// Changes reads the changes of db after q.Since, oldest first: each
// document once, at its latest revision, with the update sequence of that
// write ("N"; Since also takes "now" and CouchDB's "N-…" form). A
// continuous feed then waits for commits until ctx ends (nil) or the
// engine closes (ErrUnavailable).
func (e *Engine) Changes(ctx context.Context, db string, q engine.ChangesQuery, fn func(engine.Change) error) error {
	since, now, err := parseSince(q.Since)
	if err != nil {
		return err
	}
	sent := 0
	for {
		wait := e.changed(db)
		for more := true; more; {
			var page []engine.Change
			more = false
			err := e.read(ctx, func(tx *bbolt.Tx) error {
				d, err := needDB(tx, db)
				if err != nil {
					return err
				}
				if now {
					since, now = d.seq().Sequence(), false
				}
				if since == math.MaxUint64 {
					return nil
				}
				c := d.seq().Cursor()
				for k, v := c.Seek(u64(since + 1)); k != nil; k, v = c.Next() {
					seq := binary.BigEndian.Uint64(k)
					r, err := getRecord(d, string(v))
					if err != nil {
						return err
					}
					if r == nil {
						return fmt.Errorf("%s: change %d names %q, which has no record", db, seq, v)
					}
					ch := engine.Change{Seq: strconv.FormatUint(seq, 10), ID: string(v), Rev: r.rev, Deleted: r.deleted}
					if q.IncludeDocs {
						ch.Doc = bytes.Clone(r.body)
					}
					if q.AllLeaves {
						ch.Leaves = []string{r.rev} // one leaf: nothing replicates into this engine
					}
					page = append(page, ch)
					since = seq
					if q.Limit > 0 && sent+len(page) >= q.Limit {
						return nil
					}
					if len(page) >= pageRows {
						more = true
						return nil
					}
				}
				return nil
			})
			if err != nil {
				if q.Continuous && ctx.Err() != nil {
					return nil
				}
				return err
			}
			for _, ch := range page {
				if err := fn(ch); err != nil {
					return err
				}
			}
			sent += len(page)
			if q.Limit > 0 && sent >= q.Limit {
				return nil
			}
		}
		if !q.Continuous {
			return nil
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return nil
		case <-e.closing:
			return fmt.Errorf("%w: engine closed", engine.ErrUnavailable)
		}
	}
}

// parseSince reads a since value: "" or "0" (the start), "now", or a
// sequence ("N", or CouchDB's "N-…").
func parseSince(s string) (since uint64, now bool, err error) {
	switch s {
	case "", "0":
		return 0, false, nil
	case "now":
		return 0, true, nil
	}
	if i := strings.IndexByte(s, '-'); i > 0 {
		s = s[:i]
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, false, badRequest("since %q is not a sequence", s)
	}
	return n, false, nil
}
