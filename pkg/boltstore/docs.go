package boltstore

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/portreqd/portreqd/pkg/porting"
)

// The document layer: CouchDB's rules for one document write, in a bbolt
// transaction. A database is a bucket of JSON documents keyed by _id, stored
// as CouchDB returns them from GET /db/id (attachments as stubs), so a copy
// to or from CouchDB moves the same bytes' worth of members.

// getDoc returns the stored JSON of id in db, nil when absent. The bytes
// are valid only during tx.
func getDoc(tx *bolt.Tx, db, id string) []byte {
	b := tx.Bucket([]byte(db))
	if b == nil || id == "" {
		return nil
	}
	return b.Get([]byte(id))
}

// writeMode is how a write treats the current document.
type writeMode int

const (
	// create: no live document may exist (a deleted one may).
	create writeMode = iota
	// update: the live document must be at the given revision.
	update
)

// putDoc stores doc as id of db under CouchDB's rules and returns the new
// revision: creating a live id, or updating with a missing or stale
// revision, is KindConflict. _id and _rev of doc are set here. Attachment
// stubs in doc keep the stored attachments of those names (with their
// stored metadata); stored attachments doc omits are removed, and a stub
// naming none is KindConflict (CouchDB's 412 missing_stub).
// putValue marshals v (a document type with Kazoo's JSON) and writes it as
// db/id in its own commit, returning the new revision.
func (s *Store) putValue(ctx context.Context, db, id, rev string, v any, mode writeMode) (string, error) {
	fields, err := marshalFields(v)
	if err != nil {
		return "", err
	}
	var newRev string
	err = s.write(ctx, func(tx *bolt.Tx) error {
		var err error
		newRev, err = putDoc(tx, db, id, fields.Clone(), mode, rev)
		return err
	})
	return newRev, err
}

func putDoc(tx *bolt.Tx, db, id string, doc porting.Fields, mode writeMode, rev string) (string, error) {
	if id == "" || strings.HasPrefix(id, "_") {
		return "", porting.E(porting.KindInternal, "boltstore: invalid document id "+strconv.Quote(id))
	}
	b, err := tx.CreateBucketIfNotExists([]byte(db))
	if err != nil {
		return "", err
	}
	var old porting.Fields
	prev := ""
	if cur := b.Get([]byte(id)); cur != nil {
		if err := json.Unmarshal(cur, &old); err != nil {
			return "", porting.Wrap(porting.KindInternal, "boltstore: stored document "+db+"/"+id, err)
		}
		prev = old.String("_rev")
	}
	switch {
	case mode == create && old != nil:
		return "", conflict()
	case mode == create:
		prev = tombRev(tx, db, id) // CouchDB continues a deleted document's revisions
	case old == nil || rev == "" || rev != prev:
		return "", conflict()
	}
	if err := keepAttachments(tx, db, id, old, doc); err != nil {
		return "", err
	}
	newRev, err := store(tx, b, db, id, prev, doc)
	if err != nil {
		return "", err
	}
	if tb := tx.Bucket([]byte(tombPrefix + db)); tb != nil {
		if err := tb.Delete([]byte(id)); err != nil {
			return "", err
		}
	}
	return newRev, reindex(tx, db, id, old, doc)
}

// store writes doc with _id id and the revision after prev; it neither
// checks revisions nor indexes.
func store(tx *bolt.Tx, b *bolt.Bucket, db, id, prev string, doc porting.Fields) (string, error) {
	doc.Set("_id", id)
	delete(doc, "_rev")
	newRev := nextRev(prev, encodeDoc(doc))
	doc.Set("_rev", newRev)
	return newRev, b.Put([]byte(id), encodeDoc(doc))
}

// encodeDoc writes doc as a JSON object with sorted members, as
// json.Marshal would, but copies each raw member as it is (compacted if it
// holds whitespace) instead of validating and re-encoding it: members come
// from json.Unmarshal or json.Marshal and are valid already, and a write
// encodes every document twice (for its revision hash, then with _rev).
func encodeDoc(doc porting.Fields) []byte {
	keys := make([]string, 0, len(doc))
	size := 2
	for k, v := range doc {
		keys = append(keys, k)
		size += len(k) + len(v) + 4
	}
	slices.Sort(keys)
	out := make([]byte, 0, size)
	out = append(out, '{')
	for i, k := range keys {
		if i > 0 {
			out = append(out, ',')
		}
		out = appendKey(out, k)
		out = append(out, ':')
		v := doc[k]
		if bytes.ContainsAny(v, " \t\r\n") {
			var c bytes.Buffer
			if json.Compact(&c, v) == nil {
				v = c.Bytes()
			}
		}
		if len(v) == 0 {
			v = []byte("null")
		}
		out = append(out, v...)
	}
	return append(out, '}')
}

// appendKey appends member name k as a JSON string.
func appendKey(out []byte, k string) []byte {
	for i := 0; i < len(k); i++ {
		if c := k[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(k)
			return append(out, q...)
		}
	}
	out = append(out, '"')
	out = append(out, k...)
	return append(out, '"')
}

// deleteDoc removes live document id of db at rev, as CouchDB's DELETE: the
// body and its attachments go, a tombstone keeps the revision so that a
// later create continues it. KindConflict when rev is not current,
// KindNotFound when there is no live document.
func deleteDoc(tx *bolt.Tx, db, id, rev string) error {
	cur := getDoc(tx, db, id)
	if cur == nil {
		return porting.NotFound(id)
	}
	var old porting.Fields
	if err := json.Unmarshal(cur, &old); err != nil {
		return porting.Wrap(porting.KindInternal, "boltstore: stored document "+db+"/"+id, err)
	}
	prev := old.String("_rev")
	if rev != prev {
		return conflict()
	}
	for name := range attachmentsOf(old) {
		if err := dropAttachment(tx, db, id, name); err != nil {
			return err
		}
	}
	if err := tx.Bucket([]byte(db)).Delete([]byte(id)); err != nil {
		return err
	}
	tb, err := tx.CreateBucketIfNotExists([]byte(tombPrefix + db))
	if err != nil {
		return err
	}
	if err := tb.Put([]byte(id), []byte(nextRev(prev, []byte(`{"_deleted":true}`)))); err != nil {
		return err
	}
	return reindex(tx, db, id, old, nil)
}

// tombRev is the revision of deleted document id, "" if none.
func tombRev(tx *bolt.Tx, db, id string) string {
	if tb := tx.Bucket([]byte(tombPrefix + db)); tb != nil {
		return string(tb.Get([]byte(id)))
	}
	return ""
}

// nextRev is the revision after prev for body: CouchDB's shape, the
// generation counting writes and 32 hex digits of md5 over the previous
// revision and the new content.
func nextRev(prev string, body []byte) string {
	h := md5.New()
	h.Write([]byte(prev))
	h.Write([]byte{0})
	h.Write(body)
	return strconv.Itoa(revGen(prev)+1) + "-" + hex.EncodeToString(h.Sum(nil))
}

// revGen is the generation of rev ("3-…" → 3), 0 for none.
func revGen(rev string) int {
	n, _ := strconv.Atoi(rev[:max(strings.IndexByte(rev, '-'), 0)])
	return n
}

// attachmentsOf reads the _attachments of a document, each entry's
// metadata kept raw: members CouchDB may add (encoding, encoded_length)
// survive a copy.
func attachmentsOf(doc porting.Fields) map[string]porting.Fields {
	var atts map[string]porting.Fields
	if raw, ok := doc["_attachments"]; ok {
		_ = json.Unmarshal(raw, &atts)
	}
	return atts
}

// keepAttachments resolves doc's attachment stubs against the stored
// document old, as CouchDB does on a document write.
func keepAttachments(tx *bolt.Tx, db, id string, old, doc porting.Fields) error {
	stored := attachmentsOf(old)
	var stubs map[string]porting.Fields
	if raw, ok := doc["_attachments"]; ok {
		if err := json.Unmarshal(raw, &stubs); err != nil {
			return porting.Wrap(porting.KindInternal, "boltstore: _attachments of "+db+"/"+id, err)
		}
	}
	kept := make(map[string]porting.Fields, len(stubs))
	for name, s := range stubs {
		if _, inline := s["data"]; inline {
			return porting.E(porting.KindInternal, "boltstore: inline attachment data; use PutAttachment")
		}
		a, ok := stored[name]
		if !ok {
			return porting.Wrap(porting.KindConflict, "datastore conflict", errMissingStub(name))
		}
		kept[name] = a
	}
	for name := range stored {
		if _, ok := kept[name]; !ok {
			if err := dropAttachment(tx, db, id, name); err != nil {
				return err
			}
		}
	}
	setAttachments(doc, kept)
	return nil
}

// setAttachments writes atts into doc as stubs, dropping the member when
// there are none (as CouchDB shows a document without attachments).
func setAttachments(doc porting.Fields, atts map[string]porting.Fields) {
	if len(atts) == 0 {
		delete(doc, "_attachments")
		return
	}
	for name, a := range atts {
		if a == nil {
			a = porting.Fields{}
			atts[name] = a
		}
		a.Set("stub", true)
	}
	doc.Set("_attachments", atts)
}

type errMissingStub string

func (e errMissingStub) Error() string {
	return "attachment stub " + strconv.Quote(string(e)) + " names no stored attachment"
}

// marshalFields encodes a document type (Request, Account, …) as raw
// members for putDoc.
func marshalFields(v any) (porting.Fields, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, porting.Wrap(porting.KindInternal, "boltstore: encode document", err)
	}
	var doc porting.Fields
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, porting.Wrap(porting.KindInternal, "boltstore: encode document", err)
	}
	return doc, nil
}
