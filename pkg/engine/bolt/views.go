package bolt

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	bbolt "go.etcd.io/bbolt"
	"go.uber.org/zap"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/engine/collate"
	"github.com/portreqd/portreqd/pkg/engine/jsview"
)

// Views. A design document is stored as a document and compiled (jsview);
// each of its views is an index bucket of rows keyed by collation key and
// document id (keys.go), maintained in the transaction of every document
// write: the rows a document emitted before (found through the design's
// ids bucket) are removed and the rows its new revision emits are added.
// An index records the signature of what it was built from (the design's
// language, views and options, and indexVersion); when a design document
// is written with other views, or an index is missing or of another
// signature, the index is rebuilt from every document of the database in
// the transaction that finds it so. (A rebuild of a large database is one
// large transaction: bbolt holds its changes in memory until the commit.)

var (
	keySig = []byte("sig")
	keyIDs = []byte("ids")
)

func viewBucket(name string) []byte { return []byte("v:" + name) }

// compiled is a design document's compiled form, for one revision. The
// views are shared by every design document with the same signature
// (Kazoo keeps the same design documents in many databases), so that each
// set of JavaScript runtimes exists once.
type compiled struct {
	rev string
	*viewSet
}

type viewSet struct {
	design *jsview.Design // nil when err is set
	err    error
	sig    []byte
	views  []jsview.View // sorted by name
	index  map[string]int
}

// compileDesign compiles the body of design document id at rev, or finds
// its views compiled already.
func (e *Engine) compileDesign(db, id, rev string, body []byte) *compiled {
	sig := designSig(body)
	e.designMu.Lock()
	vs := e.viewSets[string(sig)]
	e.designMu.Unlock()
	if vs != nil {
		return &compiled{rev: rev, viewSet: vs}
	}
	vs = &viewSet{sig: sig}
	d, err := jsview.Compile(body, jsview.WithLog(func(view, docID, message string) {
		e.log.Info("view log", zap.String("view", view), zap.String("doc", docID), zap.String("message", message))
	}))
	if err != nil {
		vs.err = err
	} else {
		vs.design, vs.views, vs.index = d, d.Views(), map[string]int{}
		for i, v := range vs.views {
			vs.index[v.Name] = i
		}
	}
	e.designMu.Lock()
	if had := e.viewSets[string(sig)]; had != nil {
		vs = had
	} else {
		e.viewSets[string(sig)] = vs
	}
	e.designMu.Unlock()
	return &compiled{rev: rev, viewSet: vs}
}

// designSig is what an index of the design is built from.
func designSig(body []byte) []byte {
	var dj struct {
		Language json.RawMessage `json:"language"`
		Views    json.RawMessage `json:"views"`
		Options  json.RawMessage `json:"options"`
	}
	_ = json.Unmarshal(body, &dj)
	h := md5.New()
	h.Write([]byte(strconv.Itoa(indexVersion)))
	for _, part := range [][]byte{dj.Language, dj.Views, dj.Options} {
		h.Write([]byte{0})
		h.Write(compact(part))
	}
	return h.Sum(nil)
}

func designKey(db, id string) string { return db + "\x00" + id }

// keepDesign caches c as design id of db.
func (e *Engine) keepDesign(db, id string, c *compiled) {
	e.designMu.Lock()
	e.designs[designKey(db, id)] = c
	e.designMu.Unlock()
}

// designFor returns design document id of db, at the revision of r,
// compiled (from the cache when it holds that revision).
func (e *Engine) designFor(db, id string, r *record) *compiled {
	e.designMu.Lock()
	c := e.designs[designKey(db, id)]
	e.designMu.Unlock()
	if c != nil && c.rev == r.rev {
		return c
	}
	c = e.compileDesign(db, id, r.rev, r.body)
	if c.err != nil && !errors.Is(c.err, jsview.ErrNotJavaScript) {
		e.log.Warn("design document does not compile; its views are not maintained",
			zap.String("db", db), zap.String("design", id), zap.Error(c.err))
	}
	e.keepDesign(db, id, c)
	return c
}

// forgetDesigns drops the cached designs of db.
func (e *Engine) forgetDesigns(db string) {
	e.designMu.Lock()
	defer e.designMu.Unlock()
	for k := range e.designs {
		if strings.HasPrefix(k, db+"\x00") {
			delete(e.designs, k)
		}
	}
}

type designRef struct {
	id string
	c  *compiled
}

// designRefs lists the live design documents of d, compiled.
func (e *Engine) designRefs(d *dbTx) ([]designRef, error) {
	var out []designRef
	prefix := []byte("_design/")
	c := d.docs().Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		r, err := decodeRecord(v)
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", d.name, k, err)
		}
		if r.deleted {
			continue
		}
		out = append(out, designRef{id: string(k), c: e.designFor(d.name, string(k), r)})
	}
	return out, nil
}

// reindex brings every view of d up to date with the write of id, now r.
func (e *Engine) reindex(tx *bbolt.Tx, d *dbTx, id string, r *record) error {
	refs, err := e.designRefs(d)
	if err != nil {
		return err
	}
	var body []byte
	if !r.deleted {
		body = r.body
	}
	for _, ref := range refs {
		ib, rebuilt, err := e.ensureIndex(tx, d, ref)
		if err != nil {
			return err
		}
		if rebuilt || ib == nil {
			continue
		}
		if err := e.updateRows(ib, ref, id, body); err != nil {
			return err
		}
	}
	if isDesign(id) && r.deleted && d.vw().Bucket([]byte(id)) != nil {
		return d.vw().DeleteBucket([]byte(id))
	}
	return nil
}

// ensureIndex returns the index of ref, rebuilding it when missing or
// built from another signature; nil when the design has no usable views.
func (e *Engine) ensureIndex(tx *bbolt.Tx, d *dbTx, ref designRef) (ib *bbolt.Bucket, rebuilt bool, err error) {
	key := []byte(ref.id)
	ib = d.vw().Bucket(key)
	if ref.c.design == nil {
		if ib != nil {
			return nil, false, d.vw().DeleteBucket(key)
		}
		return nil, false, nil
	}
	if ib != nil && bytes.Equal(ib.Get(keySig), ref.c.sig) {
		return ib, false, nil
	}
	ib, err = e.rebuild(d, ref)
	return ib, true, err
}

// rebuild builds the index of ref from every document of d.
func (e *Engine) rebuild(d *dbTx, ref designRef) (*bbolt.Bucket, error) {
	key := []byte(ref.id)
	if d.vw().Bucket(key) != nil {
		if err := d.vw().DeleteBucket(key); err != nil {
			return nil, err
		}
	}
	ib, err := d.vw().CreateBucket(key)
	if err != nil {
		return nil, err
	}
	if err := ib.Put(keySig, bytes.Clone(ref.c.sig)); err != nil {
		return nil, err
	}
	ids, err := ib.CreateBucket(keyIDs)
	if err != nil {
		return nil, err
	}
	vbs := make([]*bbolt.Bucket, len(ref.c.views))
	for i, v := range ref.c.views {
		if vbs[i], err = ib.CreateBucket(viewBucket(v.Name)); err != nil {
			return nil, err
		}
	}
	n := 0
	c := d.docs().Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		r, err := decodeRecord(v)
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", d.name, k, err)
		}
		if r.deleted {
			continue
		}
		if err := e.writeRows(ids, vbs, ref, string(k), r.body, nil); err != nil {
			return nil, err
		}
		n++
	}
	e.log.Info("view index built", zap.String("db", d.name), zap.String("design", ref.id), zap.Int("documents", n))
	return ib, nil
}

// updateRows replaces the rows of id in the index ib with those of body
// (nil: none).
func (e *Engine) updateRows(ib *bbolt.Bucket, ref designRef, id string, body []byte) error {
	ids := ib.Bucket(keyIDs)
	vbs := make([]*bbolt.Bucket, len(ref.c.views))
	for i, v := range ref.c.views {
		vbs[i] = ib.Bucket(viewBucket(v.Name))
		if vbs[i] == nil || ids == nil {
			return fmt.Errorf("index of %s: view %s missing", ref.id, v.Name)
		}
	}
	return e.writeRows(ids, vbs, ref, id, body, ids.Get([]byte(id)))
}

// rowEntry is a document's row in view vi: its stored key and the
// key/value pairs emitted under it.
type rowEntry struct {
	vi  int
	rk  []byte
	val []byte
}

// writeRows writes the rows of id's body (nil: none) into the view
// buckets vbs, removing those of oldBack (the back index entry of id) that
// are gone.
func (e *Engine) writeRows(ids *bbolt.Bucket, vbs []*bbolt.Bucket, ref designRef, id string, body, oldBack []byte) error {
	var news []rowEntry
	if body != nil {
		news = e.mapRows(ref, id, body)
	}
	if len(oldBack) > 0 {
		olds, err := decodeBack(oldBack)
		if err != nil {
			return fmt.Errorf("index of %s, document %s: %w", ref.id, id, err)
		}
		var have map[string]bool
		if len(olds)*len(news) > 64 {
			have = make(map[string]bool, len(news))
			for _, n := range news {
				have[backKey(n.vi, n.rk)] = true
			}
		}
		for _, o := range olds {
			if o.vi >= len(vbs) {
				continue
			}
			kept := false
			if have != nil {
				kept = have[backKey(o.vi, o.rk)]
			} else {
				for _, n := range news {
					if n.vi == o.vi && bytes.Equal(n.rk, o.rk) {
						kept = true
						break
					}
				}
			}
			if !kept {
				if err := vbs[o.vi].Delete(o.rk); err != nil {
					return err
				}
			}
		}
	}
	for _, n := range news {
		if old := vbs[n.vi].Get(n.rk); old != nil && bytes.Equal(old, n.val) {
			continue
		}
		if err := vbs[n.vi].Put(n.rk, n.val); err != nil {
			return err
		}
	}
	back := encodeBack(news)
	switch {
	case len(back) == 0 && oldBack != nil:
		return ids.Delete([]byte(id))
	case len(back) > 0 && !bytes.Equal(back, oldBack):
		return ids.Put([]byte(id), back)
	}
	return nil
}

func backKey(vi int, rk []byte) string {
	return string(append(binary.AppendUvarint(nil, uint64(vi)), rk...))
}

// mapRows maps body through every view of ref. A map function that throws
// leaves the document out of that view (as CouchDB does, logging it); a
// key that cannot be stored leaves the row out.
func (e *Engine) mapRows(ref designRef, id string, body []byte) []rowEntry {
	rows, skipped, err := ref.c.design.MapAll(body)
	if err != nil {
		e.log.Warn("view map failed", zap.String("design", ref.id), zap.String("doc", id), zap.Error(err))
		return nil
	}
	for _, me := range skipped {
		e.log.Info("map function raised; document left out of the view", zap.String("design", ref.id),
			zap.String("view", me.View), zap.String("doc", id), zap.String("error", me.Message), zap.Bool("fatal", me.Fatal))
	}
	var out []rowEntry
	for vi, v := range ref.c.views {
		start := len(out)
		var at map[string]int
		for _, row := range rows[v.Name] {
			ck, err := collate.Key(row.Key)
			if err != nil {
				e.log.Warn("view key not collatable; row left out", zap.String("design", ref.id), zap.String("view", v.Name),
					zap.String("doc", id), zap.Error(err))
				continue
			}
			rk := rowKey(ck, id)
			if len(rk) > maxRowKey {
				e.log.Warn("view key too long to store; row left out", zap.String("design", ref.id), zap.String("view", v.Name),
					zap.String("doc", id), zap.Int("bytes", len(rk)))
				continue
			}
			j := -1
			if at != nil {
				if i, ok := at[string(rk)]; ok {
					j = i
				}
			} else {
				for i := start; i < len(out); i++ {
					if bytes.Equal(out[i].rk, rk) {
						j = i
						break
					}
				}
			}
			if j < 0 {
				j = len(out)
				out = append(out, rowEntry{vi: vi, rk: rk})
				if at == nil && len(out)-start > 16 {
					at = map[string]int{}
					for i := start; i < len(out); i++ {
						at[string(out[i].rk)] = i
					}
				} else if at != nil {
					at[string(rk)] = j
				}
			}
			out[j].val = appendPair(out[j].val, row.Key, row.Value)
		}
	}
	return out
}

// A row's value: the emitted (key, value) pairs, each length-prefixed.

func appendPair(dst, key, value []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(key)))
	dst = append(dst, key...)
	dst = binary.AppendUvarint(dst, uint64(len(value)))
	return append(dst, value...)
}

type pair struct{ key, value []byte }

func decodePairs(v []byte) ([]pair, error) {
	var out []pair
	for len(v) > 0 {
		var p pair
		for _, dst := range []*[]byte{&p.key, &p.value} {
			n, k := binary.Uvarint(v)
			if k <= 0 || uint64(len(v)-k) < n {
				return nil, errCorrupt
			}
			*dst = v[k : k+int(n)]
			v = v[k+int(n):]
		}
		out = append(out, p)
	}
	return out, nil
}

// The back index of a document: the (view, row key) of each of its rows.

func encodeBack(rows []rowEntry) []byte {
	var out []byte
	for _, r := range rows {
		out = binary.AppendUvarint(out, uint64(r.vi))
		out = binary.AppendUvarint(out, uint64(len(r.rk)))
		out = append(out, r.rk...)
	}
	return out
}

func decodeBack(v []byte) ([]rowEntry, error) {
	var out []rowEntry
	for len(v) > 0 {
		vi, k := binary.Uvarint(v)
		if k <= 0 {
			return nil, errCorrupt
		}
		v = v[k:]
		n, k := binary.Uvarint(v)
		if k <= 0 || uint64(len(v)-k) < n {
			return nil, errCorrupt
		}
		out = append(out, rowEntry{vi: int(vi), rk: v[k : k+int(n)]})
		v = v[k+int(n):]
	}
	return out, nil
}

// Query reads view of design document _design/<design>: rows in CouchDB's
// collation order (key, then document id), or with q.Reduce, on a view
// with a reduce function, the reduction (built-ins _count, _sum, _stats
// and _approx_count_distinct; a JavaScript reduce is ErrBadRequest).
// Rows are read in pages of short read transactions, so fn may write; a
// query longer than a page sees the writes made meanwhile after the rows
// already read, as a CouchDB view with update=lazy would.
func (e *Engine) Query(ctx context.Context, db, design, view string, q engine.Query, fn func(engine.Row) error) error {
	ddid := "_design/" + design
	var reduceSrc string
	for attempt := 0; ; attempt++ {
		stale := false
		err := e.read(ctx, func(tx *bbolt.Tx) error {
			d, err := needDB(tx, db)
			if err != nil {
				return err
			}
			r, err := getRecord(d, ddid)
			if err != nil {
				return err
			}
			if r == nil || r.deleted {
				return fmt.Errorf("%w: %s/%s", engine.ErrNotFound, db, ddid)
			}
			c := e.designFor(db, ddid, r)
			if c.design == nil {
				return fmt.Errorf("%w: %s/%s: %v", engine.ErrBadRequest, db, ddid, c.err)
			}
			i, ok := c.index[view]
			if !ok {
				return fmt.Errorf("%w: %s/%s has no view %q", engine.ErrNotFound, db, ddid, view)
			}
			reduceSrc = c.views[i].Reduce
			ib := d.vw().Bucket([]byte(ddid))
			stale = ib == nil || !bytes.Equal(ib.Get(keySig), c.sig) || ib.Bucket(viewBucket(view)) == nil
			return nil
		})
		if err != nil {
			return err
		}
		if !stale {
			break
		}
		if attempt >= 3 {
			return fmt.Errorf("%w: %s/%s: index keeps changing", engine.ErrUnavailable, db, ddid)
		}
		if err := e.write(ctx, "", func(tx *bbolt.Tx) error {
			d, err := needDB(tx, db)
			if err != nil {
				return refuse(err)
			}
			refs, err := e.designRefs(d)
			if err != nil {
				return err
			}
			for _, ref := range refs {
				if ref.id == ddid {
					_, _, err := e.ensureIndex(tx, d, ref)
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
	}
	spans, err := viewSpans(q)
	if err != nil {
		return err
	}
	var d *dbTx
	locate := func(tx *bbolt.Tx) (*bbolt.Bucket, error) {
		var err error
		if d, err = needDB(tx, db); err != nil {
			return nil, err
		}
		if ib := d.vw().Bucket([]byte(ddid)); ib != nil {
			if vb := ib.Bucket(viewBucket(view)); vb != nil {
				return vb, nil
			}
		}
		return nil, fmt.Errorf("%w: %s/%s view %q (deleted meanwhile)", engine.ErrNotFound, db, ddid, view)
	}
	out := &rowPage{limit: q.Limit, skip: q.Skip}
	if q.Reduce && strings.TrimSpace(reduceSrc) != "" {
		return e.reduceQuery(ctx, q, reduceSrc, spans, locate, out, fn)
	}
	visit := func(tx *bbolt.Tx, k, v []byte) (step, error) {
		_, idb, ok := splitKey(k)
		pairs, err := decodePairs(v)
		if !ok || err != nil {
			return stop, fmt.Errorf("view %s/%s: corrupt row", ddid, view)
		}
		id := string(idb)
		for i := range pairs {
			p := pairs[i]
			if q.Descending {
				p = pairs[len(pairs)-1-i]
			}
			if out.skipOne() {
				continue
			}
			// Key and value leave the transaction in one allocation.
			kv := make([]byte, len(p.key)+len(p.value))
			n := copy(kv, p.key)
			copy(kv[n:], p.value)
			row := engine.Row{ID: id, Key: kv[:n:n], Value: kv[n:]}
			if q.IncludeDocs {
				row.Doc = includeDoc(d, id, p.value)
			}
			if out.add(row) {
				return stop, nil
			}
		}
		return out.step(), nil
	}
	_, err = e.scan(ctx, scanSpec{locate: locate, spans: spans, desc: q.Descending, visit: visit}, func() error { return out.flush(fn) })
	return err
}

// includeDoc is the document of a row for include_docs: the emitting
// document, or the one the value names with {"_id": …} (and "_rev"), as
// CouchDB links them; nil when deleted or missing.
func includeDoc(d *dbTx, id string, value []byte) []byte {
	rev := ""
	if len(value) > 0 && value[0] == '{' && bytes.Contains(value, []byte(`"_id"`)) {
		var link struct {
			ID  *string `json:"_id"`
			Rev string  `json:"_rev"`
		}
		if json.Unmarshal(value, &link) == nil && link.ID != nil {
			id, rev = *link.ID, link.Rev
		}
	}
	r, err := getRecord(d, id)
	if err != nil || r == nil {
		return nil
	}
	if rev != "" && rev != r.rev {
		if v := d.old().Get(oldKey(id, rev)); v != nil {
			return bytes.Clone(v)
		}
		return nil
	}
	if r.deleted {
		return nil
	}
	return bytes.Clone(r.body)
}

// viewSpans turns a query's keys into row key spans, with CouchDB's
// defaults: startkey_docid and endkey_docid bound rows of the start and
// end keys (all of them when unset), inclusive_end=false leaves out the
// end key's rows (from endkey_docid on when set), descending swaps the
// roles of the bounds.
func viewSpans(q engine.Query) ([]span, error) {
	if q.Keys != nil {
		if q.Key != nil {
			return nil, badRequest("key and keys together")
		}
		spans := make([]span, 0, len(q.Keys))
		for _, k := range q.Keys {
			ck, err := collate.Key(k)
			if err != nil {
				return nil, badRequest("key %s: %v", k, err)
			}
			spans = append(spans, span{lo: keyLow(ck), hi: keyHigh(ck)})
		}
		return spans, nil
	}
	start, end := q.StartKey, q.EndKey
	if q.Key != nil {
		start, end = q.Key, q.Key
	}
	var sck, eck []byte
	var err error
	if start != nil {
		if sck, err = collate.Key(start); err != nil {
			return nil, badRequest("startkey %s: %v", start, err)
		}
	}
	if end != nil {
		if eck, err = collate.Key(end); err != nil {
			return nil, badRequest("endkey %s: %v", end, err)
		}
	}
	if start != nil && end != nil {
		if c := bytes.Compare(sck, eck); (c > 0 && !q.Descending) || (c < 0 && q.Descending) {
			return nil, badRequest("no rows can match your key range, reverse your start_key and end_key or set descending=true")
		}
	}
	withID := func(ck []byte, id string) []byte { return append(keyLow(ck), id...) }
	var sp span
	sdoc, edoc := q.StartKeyDocID, q.EndKeyDocID
	if !q.Descending {
		if start != nil {
			sp.lo = withID(sck, sdoc)
		}
		if end != nil {
			switch {
			case !q.ExclusiveEnd && edoc != "":
				sp.hi = after(withID(eck, edoc))
			case !q.ExclusiveEnd:
				sp.hi = keyHigh(eck)
			default:
				sp.hi = withID(eck, edoc)
			}
		}
	} else {
		if start != nil {
			if sdoc != "" {
				sp.hi = after(withID(sck, sdoc))
			} else {
				sp.hi = keyHigh(sck)
			}
		}
		if end != nil {
			switch {
			case !q.ExclusiveEnd:
				sp.lo = withID(eck, edoc)
			case edoc != "":
				sp.lo = after(withID(eck, edoc))
			default:
				sp.lo = keyHigh(eck)
			}
		}
	}
	return []span{sp}, nil
}
