package bolt

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	bbolt "go.etcd.io/bbolt"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/engine/jsview"
)

// record is a document's entry in the docs bucket: its current revision,
// live or a tombstone.
type record struct {
	deleted bool
	seq     uint64
	rev     string
	body    []byte // as GET answers it (a tombstone: _id, _rev, _deleted)
}

const flagDeleted = 1

func (r *record) encode() []byte {
	out := make([]byte, 0, 1+8+binary.MaxVarintLen64+len(r.rev)+len(r.body))
	var flags byte
	if r.deleted {
		flags |= flagDeleted
	}
	out = append(out, flags)
	out = binary.BigEndian.AppendUint64(out, r.seq)
	out = binary.AppendUvarint(out, uint64(len(r.rev)))
	out = append(out, r.rev...)
	return append(out, r.body...)
}

var errCorrupt = errors.New("corrupt record")

// decodeRecord reads a record; its body aliases v.
func decodeRecord(v []byte) (*record, error) {
	if len(v) < 10 {
		return nil, errCorrupt
	}
	r := &record{deleted: v[0]&flagDeleted != 0, seq: binary.BigEndian.Uint64(v[1:9])}
	n, k := binary.Uvarint(v[9:])
	if k <= 0 || uint64(len(v)-9-k) < n {
		return nil, errCorrupt
	}
	p := 9 + k
	r.rev = string(v[p : p+int(n)])
	r.body = v[p+int(n):]
	return r, nil
}

// getRecord reads id's record, nil when there is none.
func getRecord(d *dbTx, id string) (*record, error) {
	if id == "" {
		return nil, nil
	}
	v := d.docs().Get([]byte(id))
	if v == nil {
		return nil, nil
	}
	r, err := decodeRecord(v)
	if err != nil {
		return nil, fmt.Errorf("%s/%s: %w", d.name, id, err)
	}
	return r, nil
}

// The ancestry of a document: the generation of its current revision, then
// the 16-byte hashes of its revisions, newest first (generations count
// down by one: a branch never forks here).

func revHash(rev string) ([]byte, error) {
	i := bytes.IndexByte([]byte(rev), '-')
	h, err := hex.DecodeString(rev[i+1:])
	if i <= 0 || err != nil || len(h) != md5.Size {
		return nil, fmt.Errorf("revision %q is not N-<32 hex>", rev)
	}
	return h, nil
}

// extendAncestry puts rev in front of the stored ancestry prev.
func extendAncestry(rev string, prev []byte) ([]byte, error) {
	h, err := revHash(rev)
	if err != nil {
		return nil, err
	}
	gen := revGen(rev)
	var hashes []byte
	if g, k := binary.Uvarint(prev); k > 0 && int(g) == gen-1 && (len(prev)-k)%md5.Size == 0 {
		hashes = prev[k:]
	}
	hashes = hashes[:min(len(hashes), (revsLimit-1)*md5.Size)]
	out := binary.AppendUvarint(make([]byte, 0, binary.MaxVarintLen64+md5.Size+len(hashes)), uint64(gen))
	out = append(out, h...)
	return append(out, hashes...), nil
}

// ancestors lists the revisions of a stored ancestry, newest first.
func ancestors(v []byte) []string {
	g, k := binary.Uvarint(v)
	if k <= 0 {
		return nil
	}
	hashes := v[k:]
	out := make([]string, 0, len(hashes)/md5.Size)
	for i := 0; (i+1)*md5.Size <= len(hashes) && int(g)-i > 0; i++ {
		out = append(out, strconv.Itoa(int(g)-i)+"-"+hex.EncodeToString(hashes[i*md5.Size:(i+1)*md5.Size]))
	}
	return out
}

// Get reads id: the current revision, or o.Rev while it is current or one
// of the keptRevisions before it (a deleted revision reads as its
// tombstone, as in CouchDB). Conflicts are never listed: there are none.
// o.IfNoneMatch is compared with that revision in the same read
// transaction. o.AttEncodingInfo changes nothing: attachments are kept as
// they came, so stubs carry no "encoding" and their digest is always the
// MD5 of the bytes.
func (e *Engine) Get(ctx context.Context, db, id string, o engine.GetOptions) ([]byte, error) {
	var out []byte
	err := e.read(ctx, func(tx *bbolt.Tx) error {
		d, err := needDB(tx, db)
		if err != nil {
			return err
		}
		r, err := getRecord(d, id)
		switch {
		case err != nil:
			return err
		case r == nil:
			return fmt.Errorf("%w: %s/%s", engine.ErrNotFound, db, id)
		case o.Rev == "" && r.deleted:
			return fmt.Errorf("%w: %s/%s deleted", engine.ErrNotFound, db, id)
		case o.Rev == "" || o.Rev == r.rev:
			if o.IfNoneMatch != "" && o.IfNoneMatch == r.rev {
				return fmt.Errorf("%w: %s/%s is at %s", engine.ErrNotModified, db, id, r.rev)
			}
			out = bytes.Clone(r.body)
			return nil
		}
		v := d.old().Get(oldKey(id, o.Rev))
		if v == nil {
			return fmt.Errorf("%w: %s/%s revision %s (missing, or older than the %d kept)", engine.ErrNotFound, db, id, o.Rev, keptRevisions)
		}
		if o.IfNoneMatch != "" && o.IfNoneMatch == o.Rev {
			return fmt.Errorf("%w: %s/%s revision %s", engine.ErrNotModified, db, id, o.Rev)
		}
		out = bytes.Clone(v)
		return nil
	})
	return out, err
}

// Leaves answers the one leaf of id with its ancestry.
func (e *Engine) Leaves(ctx context.Context, db, id string) ([]engine.Leaf, error) {
	var out []engine.Leaf
	err := e.read(ctx, func(tx *bbolt.Tx) error {
		d, err := needDB(tx, db)
		if err != nil {
			return err
		}
		r, err := getRecord(d, id)
		if err != nil {
			return err
		}
		if r == nil {
			return fmt.Errorf("%w: %s/%s", engine.ErrNotFound, db, id)
		}
		anc := ancestors(d.revs().Get([]byte(id)))
		if len(anc) == 0 || anc[0] != r.rev {
			anc = append([]string{r.rev}, anc...)
		}
		out = []engine.Leaf{{Rev: r.rev, Deleted: r.deleted, Ancestors: anc, Doc: bytes.Clone(r.body)}}
		return nil
	})
	return out, err
}

// Put writes doc as id (the id of the call wins over the body's _id, as
// in CouchDB's PUT /db/id).
func (e *Engine) Put(ctx context.Context, db, id string, doc []byte) (string, error) {
	if err := checkID(id); err != nil {
		return "", err
	}
	in, err := parseDoc(doc)
	if err != nil {
		return "", err
	}
	var rev string
	err = e.write(ctx, db, func(tx *bbolt.Tx) error {
		d, err := needDB(tx, db)
		if err != nil {
			return refuse(err)
		}
		rev, err = e.putDoc(tx, d, id, in)
		return err
	})
	if err != nil {
		return "", err
	}
	return rev, nil
}

// Delete writes a deletion of id over rev: a tombstone without the
// document's members and attachments.
func (e *Engine) Delete(ctx context.Context, db, id, rev string) (string, error) {
	if rev == "" {
		return "", fmt.Errorf("%w: delete of %s without a revision", engine.ErrConflict, id)
	}
	var newRev string
	err := e.write(ctx, db, func(tx *bbolt.Tx) error {
		d, err := needDB(tx, db)
		if err != nil {
			return refuse(err)
		}
		cur, err := getRecord(d, id)
		switch {
		case err != nil:
			return err
		case cur == nil:
			return refuse(fmt.Errorf("%w: %s/%s does not exist", engine.ErrConflict, db, id))
		case cur.rev != rev:
			return refuse(fmt.Errorf("%w: %s/%s is at %s, not %s", engine.ErrConflict, db, id, cur.rev, rev))
		}
		stored, err := loadAtts(d, id)
		if err != nil {
			return err
		}
		newRev, err = e.commit(tx, d, id, cur, stored, nil, nil, true, "")
		return err
	})
	if err != nil {
		return "", err
	}
	return newRev, nil
}

// Bulk writes docs in one transaction, each under the rules of Put; a
// document without _id gets a random one, as in CouchDB.
func (e *Engine) Bulk(ctx context.Context, db string, docs [][]byte) ([]engine.Result, error) {
	out := make([]engine.Result, len(docs))
	if len(docs) == 0 {
		return out, nil
	}
	ins := make([]*docIn, len(docs))
	pre := make([]error, len(docs))
	for i, raw := range docs {
		in, err := parseDoc(raw)
		if err != nil {
			pre[i] = err
			continue
		}
		if !in.hasID {
			in.id = newID()
		}
		pre[i] = checkID(in.id)
		ins[i] = in
	}
	err := e.write(ctx, db, func(tx *bbolt.Tx) error {
		d, err := needDB(tx, db)
		if err != nil {
			return refuse(err)
		}
		for i, in := range ins {
			out[i] = engine.Result{Err: pre[i]}
			if in != nil {
				out[i].ID = in.id
			}
			if pre[i] != nil {
				continue
			}
			rev, err := e.putDoc(tx, d, in.id, in)
			var r refusal
			switch {
			case errors.As(err, &r):
				out[i].Err = r.err
			case err != nil:
				return err
			default:
				out[i].Rev = rev
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// newID is a random document id, 32 hex digits like CouchDB's.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// putDoc writes in as id under CouchDB's rules: a create (no _rev) of a
// live id, or a _rev that is not the current one, is a conflict; a create
// over a deletion extends the deleted branch. Attachment stubs keep the
// stored attachments, inline data adds new ones, and stored attachments
// the body omits are dropped; a stub naming none is a conflict (CouchDB's
// 412 missing_stub). Refusals come back as such, before any change.
func (e *Engine) putDoc(tx *bbolt.Tx, d *dbTx, id string, in *docIn) (string, error) {
	cur, err := getRecord(d, id)
	if err != nil {
		return "", err
	}
	switch {
	case cur == nil && in.rev != "":
		return "", refuse(fmt.Errorf("%w: %s/%s does not exist (revision %s)", engine.ErrConflict, d.name, id, in.rev))
	case cur != nil && cur.deleted && in.rev != "" && in.rev != cur.rev:
		return "", refuse(fmt.Errorf("%w: %s/%s is at %s, not %s", engine.ErrConflict, d.name, id, cur.rev, in.rev))
	case cur != nil && !cur.deleted && in.rev == "":
		return "", refuse(fmt.Errorf("%w: %s/%s exists (at %s)", engine.ErrConflict, d.name, id, cur.rev))
	case cur != nil && !cur.deleted && in.rev != cur.rev:
		return "", refuse(fmt.Errorf("%w: %s/%s is at %s, not %s", engine.ErrConflict, d.name, id, cur.rev, in.rev))
	}
	var stored []attRec
	if cur != nil {
		if stored, err = loadAtts(d, id); err != nil {
			return "", err
		}
	}
	gen := 1
	if cur != nil {
		gen = revGen(cur.rev) + 1
	}
	var atts []attRec
	if !in.deleted {
		for _, a := range in.atts {
			if !a.stub {
				sum := md5.Sum(a.data)
				atts = append(atts, attRec{name: a.name, length: int64(len(a.data)), revpos: gen, ctype: a.contentType,
					digest: "md5-" + base64.StdEncoding.EncodeToString(sum[:]), data: a.data})
				continue
			}
			s := findAtt(stored, a.name)
			if s == nil {
				return "", refuse(fmt.Errorf("%w: %s/%s: attachment stub %q names no stored attachment (missing_stub)", engine.ErrConflict, d.name, id, a.name))
			}
			atts = append(atts, *s)
		}
	}
	return e.commit(tx, d, id, cur, stored, in.members, atts, in.deleted, "")
}

// commit writes the revision of id after cur (nil: none) with members and
// the attachments atts (sorted by name; those with data are written now),
// dropping the stored ones atts does not keep, and updates the ancestry,
// old revisions, update sequence and view indexes. The revision is the
// engine's, or at when given (PutRevision). A design document that does
// not compile is refused before anything changes.
func (e *Engine) commit(tx *bbolt.Tx, d *dbTx, id string, cur *record, stored []attRec, members []member, atts []attRec, deleted bool, at string) (string, error) {
	prev := ""
	if cur != nil {
		prev = cur.rev
	}
	rev, body := render(id, prev, members, atts, deleted)
	if at != "" {
		// render writes {"_id":…,"_rev":"<rev>" first.
		body = bytes.Replace(body, []byte(`"_rev":"`+rev+`"`), []byte(`"_rev":"`+at+`"`), 1)
		rev = at
	}
	if isDesign(id) && !deleted {
		c := e.compileDesign(d.name, id, rev, body)
		if c.err != nil && !errors.Is(c.err, jsview.ErrNotJavaScript) {
			return "", refuse(fmt.Errorf("%w: design document %s: %v", engine.ErrBadRequest, id, c.err))
		}
		e.keepDesign(d.name, id, c)
	}
	// Changes from here on.
	idb := []byte(id)
	if cur != nil {
		if err := d.old().Put(oldKey(id, cur.rev), bytes.Clone(cur.body)); err != nil {
			return "", err
		}
		if err := trimOld(d, id); err != nil {
			return "", err
		}
		if err := d.seq().Delete(u64(cur.seq)); err != nil {
			return "", err
		}
	}
	anc, err := extendAncestry(rev, d.revs().Get(idb))
	if err != nil {
		return "", err
	}
	if err := d.revs().Put(idb, anc); err != nil {
		return "", err
	}
	if err := e.storeAtts(tx, d, id, stored, atts); err != nil {
		return "", err
	}
	seq, err := d.seq().NextSequence()
	if err != nil {
		return "", err
	}
	if err := d.seq().Put(u64(seq), []byte(id)); err != nil {
		return "", err
	}
	r := record{deleted: deleted, seq: seq, rev: rev, body: body}
	if err := d.docs().Put(idb, r.encode()); err != nil {
		return "", err
	}
	if err := e.reindex(tx, d, id, &r); err != nil {
		return "", err
	}
	return rev, nil
}

// trimOld deletes id's previous revision bodies beyond the keptRevisions
// newest.
func trimOld(d *dbTx, id string) error {
	prefix := idPrefix(id)
	var keys [][]byte
	c := d.old().Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for i := 0; i < len(keys)-keptRevisions; i++ {
		if err := d.old().Delete(keys[i]); err != nil {
			return err
		}
	}
	return nil
}

// PutRevision stores doc at the revision its _rev names where id is
// missing; the same revision again changes nothing; anything else is a
// conflict (one leaf per document here).
func (e *Engine) PutRevision(ctx context.Context, db, id string, doc []byte) error {
	if err := checkID(id); err != nil {
		return err
	}
	in, err := parseDoc(doc)
	if err != nil {
		return err
	}
	if revGen(in.rev) < 1 {
		return badRequest("PutRevision needs a _rev")
	}
	if len(in.atts) > 0 {
		return badRequest("PutRevision takes no attachments")
	}
	return e.write(ctx, db, func(tx *bbolt.Tx) error {
		d, err := needDB(tx, db)
		if err != nil {
			return refuse(err)
		}
		cur, err := getRecord(d, id)
		if err != nil {
			return err
		}
		if cur != nil {
			if cur.rev == in.rev {
				return nil
			}
			return refuse(fmt.Errorf("%w: %s/%s is at %s, not missing", engine.ErrConflict, db, id, cur.rev))
		}
		_, err = e.commit(tx, d, id, nil, nil, in.members, nil, in.deleted, in.rev)
		return err
	})
}
