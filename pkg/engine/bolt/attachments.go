package bolt

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"

	bbolt "go.etcd.io/bbolt"

	"github.com/portreqd/portreqd/pkg/engine"
)

// Attachment bodies live apart from the documents, in chunks of the _blob
// bucket under blob ids that are never reused, so a blob never changes
// once written. The att bucket of a database maps (document, name) to the
// blob of the current body and its metadata; the document's body carries
// the same metadata as a stub.
//
// bbolt keeps every value written in a transaction in memory until the
// commit, so an uploaded body is not written in the document's transaction:
// PutAttachment streams it in transactions of stageChunks chunks (about
// 1 MiB of memory whatever the size) under a blob id marked in _staging;
// the final transaction checks the revision, points the attachment at the
// blob and clears the mark. A crash in between leaves a marked blob, which
// Open deletes; a refused upload discards its blob.
//
// A reader reads one chunk per short read transaction (a transaction held
// for a whole download would keep bbolt from growing its file, and so
// stall writers), and still reads one consistent body: a blob that a write
// replaces or deletes goes to _garbage, and the collector deletes only
// blobs no reader has open.
const (
	chunkSize   = 64 << 10
	stageChunks = 16
	// gcChunks bounds the chunks one collector transaction deletes.
	gcChunks = 1024
)

// attRec is one attachment of a document.
type attRec struct {
	name   string
	blob   uint64
	length int64
	revpos int
	ctype  string
	digest string
	data   []byte // an inline body not written yet
}

func (a *attRec) encode() []byte {
	out := make([]byte, 0, 16+2*binary.MaxVarintLen64+len(a.ctype)+len(a.digest))
	out = binary.BigEndian.AppendUint64(out, a.blob)
	out = binary.BigEndian.AppendUint64(out, uint64(a.length))
	out = binary.AppendUvarint(out, uint64(a.revpos))
	out = binary.AppendUvarint(out, uint64(len(a.ctype)))
	out = append(out, a.ctype...)
	return append(out, a.digest...)
}

func decodeAtt(v []byte) (attRec, error) {
	var a attRec
	if len(v) < 18 {
		return a, errCorrupt
	}
	a.blob = binary.BigEndian.Uint64(v)
	a.length = int64(binary.BigEndian.Uint64(v[8:]))
	p := 16
	revpos, k := binary.Uvarint(v[p:])
	if k <= 0 {
		return a, errCorrupt
	}
	p += k
	n, k := binary.Uvarint(v[p:])
	if k <= 0 || uint64(len(v)-p-k) < n {
		return a, errCorrupt
	}
	p += k
	a.revpos = int(revpos)
	a.ctype = string(v[p : p+int(n)])
	a.digest = string(v[p+int(n):])
	return a, nil
}

// loadAtts lists id's stored attachments, sorted by name.
func loadAtts(d *dbTx, id string) ([]attRec, error) {
	prefix := idPrefix(id)
	var out []attRec
	c := d.att().Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		a, err := decodeAtt(v)
		if err != nil {
			return nil, fmt.Errorf("%s/%s: attachment: %w", d.name, id, err)
		}
		a.name = string(k[len(prefix):])
		out = append(out, a)
	}
	return out, nil
}

func findAtt(atts []attRec, name string) *attRec {
	for i := range atts {
		if atts[i].name == name {
			return &atts[i]
		}
	}
	return nil
}

// storeAtts makes atts id's attachments: inline bodies are written, stored
// attachments not kept (same name and blob) go to the garbage.
func (e *Engine) storeAtts(tx *bbolt.Tx, d *dbTx, id string, stored, atts []attRec) error {
	for _, s := range stored {
		if a := findAtt(atts, s.name); a != nil && a.data == nil && a.blob == s.blob {
			continue
		}
		if err := d.att().Delete(attKey(id, s.name)); err != nil {
			return err
		}
		if err := e.dropBlob(tx, s.blob); err != nil {
			return err
		}
	}
	for i := range atts {
		a := &atts[i]
		if s := findAtt(stored, a.name); s != nil && a.data == nil && a.blob == s.blob {
			continue
		}
		if a.data != nil {
			blob, err := writeBlob(tx, a.data)
			if err != nil {
				return err
			}
			a.blob = blob
		}
		if err := d.att().Put(attKey(id, a.name), a.encode()); err != nil {
			return err
		}
	}
	return nil
}

// writeBlob writes data (already in memory) as a new blob.
func writeBlob(tx *bbolt.Tx, data []byte) (uint64, error) {
	b := tx.Bucket(bucketBlob)
	blob, err := b.NextSequence()
	if err != nil {
		return 0, err
	}
	for i := 0; i*chunkSize < len(data); i++ {
		chunk := data[i*chunkSize : min(len(data), (i+1)*chunkSize)]
		if err := b.Put(blobKey(blob, uint32(i)), chunk); err != nil {
			return 0, err
		}
	}
	return blob, nil
}

// dropBlob hands blob to the collector.
func (e *Engine) dropBlob(tx *bbolt.Tx, blob uint64) error {
	e.gcWanted.Store(true)
	return tx.Bucket(bucketGarbage).Put(u64(blob), []byte{})
}

// unstage moves every staged blob to the garbage (at Open: an upload that
// never committed).
func unstage(tx *bbolt.Tx) (int, error) {
	st, g := tx.Bucket(bucketStaging), tx.Bucket(bucketGarbage)
	var keys [][]byte
	_ = st.ForEach(func(k, _ []byte) error {
		keys = append(keys, bytes.Clone(k))
		return nil
	})
	for _, k := range keys {
		if err := g.Put(k, []byte{}); err != nil {
			return 0, err
		}
		if err := st.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(keys), nil
}

// upload is a body written to a staged blob.
type upload struct {
	blob   uint64
	length int64
	digest string // "md5-" + base64 of the md5 of the body
}

// stage writes body into a new staged blob, stageChunks chunks per
// transaction, hashing it as it goes.
func (e *Engine) stage(ctx context.Context, body io.Reader) (*upload, error) {
	up := &upload{}
	h := md5.New()
	bufs := make([][]byte, stageChunks) // reused: bbolt lets go of values at commit
	var next uint32
	for eof := false; !eof; {
		if err := ctx.Err(); err != nil {
			e.discard(up.blob)
			return nil, e.fail(err)
		}
		var filled [][]byte
		var err error
		filled, eof, err = readChunks(body, bufs, h)
		if err != nil {
			e.discard(up.blob)
			return nil, fmt.Errorf("%w: reading the attachment body: %v", engine.ErrUnavailable, err)
		}
		for _, c := range filled {
			up.length += int64(len(c))
		}
		if len(filled) == 0 && up.blob != 0 {
			break
		}
		// The function may run twice (write.go): the blob id it allocates
		// counts only once committed.
		blob := up.blob
		err = e.write(context.WithoutCancel(ctx), "", func(tx *bbolt.Tx) error {
			b := tx.Bucket(bucketBlob)
			blob = up.blob
			if blob == 0 {
				seq, err := b.NextSequence()
				if err != nil {
					return err
				}
				if err := tx.Bucket(bucketStaging).Put(u64(seq), []byte{}); err != nil {
					return err
				}
				blob = seq
			}
			for i, c := range filled {
				if err := b.Put(blobKey(blob, next+uint32(i)), c); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			e.discard(up.blob)
			return nil, err
		}
		up.blob = blob
		next += uint32(len(filled))
	}
	up.digest = "md5-" + base64.StdEncoding.EncodeToString(h.Sum(nil))
	return up, nil
}

// readChunks fills up to len(bufs) chunks from body, hashing what it
// reads; eof reports the end of body.
func readChunks(body io.Reader, bufs [][]byte, h hash.Hash) (filled [][]byte, eof bool, err error) {
	for i := range bufs {
		if bufs[i] == nil {
			bufs[i] = make([]byte, chunkSize)
		}
		n, err := io.ReadFull(body, bufs[i][:chunkSize])
		if n > 0 {
			h.Write(bufs[i][:n])
			filled = append(filled, bufs[i][:n])
		}
		switch {
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return filled, true, nil
		case err != nil:
			return nil, false, err
		}
	}
	return filled, false, nil
}

// discard moves a staged blob that will never be committed to the
// garbage; a failure leaves it to the next Open.
func (e *Engine) discard(blob uint64) {
	if blob == 0 {
		return
	}
	_ = e.write(context.Background(), "", func(tx *bbolt.Tx) error {
		if err := tx.Bucket(bucketStaging).Delete(u64(blob)); err != nil {
			return err
		}
		return e.dropBlob(tx, blob)
	})
}

// PutAttachment streams body into attachment name of id at rev. The
// revision is checked before the body is read (a stale upload fails
// without being read) and again at commit. Without rev, or when id does not
// exist, it is a conflict, as a lost update would be.
func (e *Engine) PutAttachment(ctx context.Context, db, id, rev, name, contentType string, body io.Reader) (string, error) {
	if rev == "" {
		return "", fmt.Errorf("%w: attachment of %s without a revision", engine.ErrConflict, id)
	}
	if err := checkAttName(name); err != nil {
		return "", err
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	check := func(tx *bbolt.Tx) (*dbTx, *record, error) {
		d, err := needDB(tx, db)
		if err != nil {
			return nil, nil, refuse(err)
		}
		cur, err := getRecord(d, id)
		switch {
		case err != nil:
			return nil, nil, err
		case cur == nil || cur.deleted:
			return nil, nil, refuse(fmt.Errorf("%w: %s/%s does not exist", engine.ErrConflict, db, id))
		case cur.rev != rev:
			return nil, nil, refuse(fmt.Errorf("%w: %s/%s is at %s, not %s", engine.ErrConflict, db, id, cur.rev, rev))
		}
		return d, cur, nil
	}
	if err := e.read(ctx, func(tx *bbolt.Tx) error {
		_, _, err := check(tx)
		return err
	}); err != nil {
		return "", err
	}
	up, err := e.stage(ctx, body)
	if err != nil {
		return "", err
	}
	var newRev string
	err = e.write(ctx, db, func(tx *bbolt.Tx) error {
		d, cur, err := check(tx)
		if err != nil {
			return err
		}
		stored, err := loadAtts(d, id)
		if err != nil {
			return err
		}
		a := attRec{name: name, blob: up.blob, length: up.length, revpos: revGen(rev) + 1, ctype: contentType, digest: up.digest}
		atts := make([]attRec, 0, len(stored)+1)
		for _, s := range stored {
			if s.name < name {
				atts = append(atts, s)
			}
		}
		atts = append(atts, a)
		for _, s := range stored {
			if s.name > name {
				atts = append(atts, s)
			}
		}
		members, err := membersOf(cur.body)
		if err != nil {
			return err
		}
		if newRev, err = e.commit(tx, d, id, cur, stored, members, atts, false, ""); err != nil {
			return err
		}
		return tx.Bucket(bucketStaging).Delete(u64(up.blob))
	})
	if err != nil {
		e.discard(up.blob)
		return "", err
	}
	return newRev, nil
}

// membersOf reads the ordinary members of a stored body.
func membersOf(body []byte) ([]member, error) {
	in, err := parseDoc(body)
	if err != nil {
		return nil, fmt.Errorf("stored body: %w", err)
	}
	return in.members, nil
}

// GetAttachment opens attachment name of id.
func (e *Engine) GetAttachment(ctx context.Context, db, id, name string) (*engine.Attachment, error) {
	for try := 0; ; try++ {
		var a attRec
		err := e.read(ctx, func(tx *bbolt.Tx) error {
			d, err := needDB(tx, db)
			if err != nil {
				return err
			}
			cur, err := getRecord(d, id)
			if err != nil {
				return err
			}
			if cur == nil || cur.deleted {
				return fmt.Errorf("%w: %s/%s", engine.ErrNotFound, db, id)
			}
			v := d.att().Get(attKey(id, name))
			if v == nil || name == "" {
				return fmt.Errorf("%w: %s/%s has no attachment %q", engine.ErrNotFound, db, id, name)
			}
			a, err = decodeAtt(v)
			return err
		})
		if err != nil {
			return nil, err
		}
		// Hold the blob, then check that the collector did not delete it
		// between the read above and the hold (see refsMu).
		e.hold(a.blob)
		ok := a.length == 0
		if !ok {
			err = e.read(ctx, func(tx *bbolt.Tx) error {
				ok = tx.Bucket(bucketBlob).Get(blobKey(a.blob, 0)) != nil
				return nil
			})
		}
		if err != nil || !ok {
			e.release(a.blob)
			if err != nil {
				return nil, err
			}
			if try < 5 {
				continue
			}
			return nil, fmt.Errorf("%w: %s/%s attachment %q keeps changing", engine.ErrUnavailable, db, id, name)
		}
		return &engine.Attachment{ContentType: a.ctype, Length: a.length, Digest: a.digest,
			Body: &blobReader{e: e, blob: a.blob, length: a.length}}, nil
	}
}

func (e *Engine) hold(blob uint64) {
	e.refsMu.Lock()
	e.refs[blob]++
	e.refsMu.Unlock()
}

// release lets go of blob; the last reader of a blob in the garbage
// wakes the collector.
func (e *Engine) release(blob uint64) {
	e.refsMu.Lock()
	e.refs[blob]--
	last := e.refs[blob] <= 0
	if last {
		delete(e.refs, blob)
	}
	e.refsMu.Unlock()
	if !last {
		return
	}
	garbage := false
	_ = e.db.View(func(tx *bbolt.Tx) error {
		garbage = tx.Bucket(bucketGarbage).Get(u64(blob)) != nil
		return nil
	})
	if garbage {
		e.kickGC()
	}
}

// blobReader reads a blob one chunk per read transaction.
type blobReader struct {
	e            *Engine
	blob         uint64
	chunk        uint32
	buf          []byte // the rest of the chunk read last
	store        []byte
	read, length int64
	closed       bool
}

func (r *blobReader) Read(p []byte) (int, error) {
	switch {
	case r.closed:
		return 0, errors.New("bolt: read of a closed attachment")
	case len(p) == 0:
		return 0, nil
	case len(r.buf) == 0 && r.read >= r.length:
		return 0, io.EOF
	}
	if len(r.buf) == 0 {
		err := r.e.db.View(func(tx *bbolt.Tx) error {
			v := tx.Bucket(bucketBlob).Get(blobKey(r.blob, r.chunk))
			if len(v) == 0 {
				return fmt.Errorf("%w: attachment body: chunk %d of blob %d missing", engine.ErrUnavailable, r.chunk, r.blob)
			}
			if r.store == nil {
				r.store = make([]byte, chunkSize)
			}
			r.buf = r.store[:copy(r.store, v)]
			return nil
		})
		if err != nil {
			return 0, r.e.fail(err)
		}
		r.chunk++
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	r.read += int64(n)
	return n, nil
}

func (r *blobReader) Close() error {
	if !r.closed {
		r.closed = true
		r.store, r.buf = nil, nil
		r.e.release(r.blob)
	}
	return nil
}

// The collector deletes garbage blobs that no reader holds.

func (e *Engine) kickGC() {
	select {
	case e.gcKick <- struct{}{}:
	default:
	}
}

func (e *Engine) collector() {
	defer e.bg.Done()
	for {
		select {
		case <-e.closing:
			return
		case <-e.gcKick:
			if err := e.collect(); err != nil {
				e.log.Sugar().Warnf("bolt engine: deleting unused attachment bodies: %v", err)
			}
		}
	}
}

// collect deletes every garbage blob not held by a reader, gcChunks chunks
// per transaction. It holds refsMu from its check of the holds through its
// commit, so that a reader either holds the blob before the check or
// finds it deleted after the commit.
func (e *Engine) collect() error {
	if !e.hasGarbage() {
		return nil
	}
	for {
		more := false
		e.refsMu.Lock()
		err := e.db.Update(func(tx *bbolt.Tx) error {
			more = false
			g, b := tx.Bucket(bucketGarbage), tx.Bucket(bucketBlob)
			budget := gcChunks
			var done [][]byte
			c := g.Cursor()
			for k, _ := c.First(); k != nil; k, _ = c.Next() {
				blob := binary.BigEndian.Uint64(k)
				if e.refs[blob] > 0 {
					continue
				}
				n, all, err := deleteChunks(b, blob, budget)
				if err != nil {
					return err
				}
				budget -= n
				if all {
					done = append(done, bytes.Clone(k))
				}
				if budget <= 0 {
					more = true
					break
				}
			}
			for _, k := range done {
				if err := g.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
		e.refsMu.Unlock()
		if err != nil || !more {
			return err
		}
	}
}

// hasGarbage reports whether a garbage blob is free to delete. It takes
// refsMu only outside its transaction: collect holds refsMu through a
// commit, which may wait for read transactions to end (to grow the map).
func (e *Engine) hasGarbage() bool {
	var blobs []uint64
	_ = e.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketGarbage).ForEach(func(k, _ []byte) error {
			blobs = append(blobs, binary.BigEndian.Uint64(k))
			return nil
		})
	})
	e.refsMu.Lock()
	defer e.refsMu.Unlock()
	for _, b := range blobs {
		if e.refs[b] == 0 {
			return true
		}
	}
	return false
}

// deleteChunks deletes up to budget chunks of blob; all reports that none
// is left.
func deleteChunks(b *bbolt.Bucket, blob uint64, budget int) (n int, all bool, err error) {
	prefix := u64(blob)
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
		if n >= budget {
			return n, false, nil
		}
		if err := c.Delete(); err != nil {
			return n, false, err
		}
		n++
	}
	return n, true, nil
}
