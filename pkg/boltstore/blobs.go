package boltstore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"

	bolt "go.etcd.io/bbolt"

	"github.com/portreqd/portreqd/pkg/porting"
)

// Attachment bodies live apart from the documents, in chunks: _blob maps
// blob id ‖ chunk number to at most chunkSize bytes, _att maps
// T(db, id, name) to the blob id of the attachment's current body. Blob
// ids come from a sequence and are never reused, so a blob never changes
// once written: a reader can fetch one chunk per short read transaction
// and still read one consistent body.
//
// bbolt keeps every value written in a transaction in memory until commit,
// so a body is not written in the document's transaction. PutAttachment
// streams it in transactions of stageChunks chunks (memory stays at about
// 1 MiB whatever the size) under a blob id marked in _staging; the final
// transaction checks the revision, points the document's new revision and
// _att at the blob and clears the mark. A crash in between leaves only a
// marked blob, which the next Open deletes; a stale revision discards it.
const (
	chunkSize   = 64 << 10
	stageChunks = 16
)

// errBodyGone is what a reader reports when the attachment it reads was
// replaced or deleted between two of its chunk reads.
var errBodyGone = errors.New("boltstore: attachment replaced or deleted while being read")

func attKey(db, id, name string) []byte { return tuple{}.str(db).str(id).str(name) }

func blobKey(blob uint64, chunk uint32) []byte {
	return binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64(nil, blob), chunk)
}

func blobPrefix(blob uint64) []byte { return binary.BigEndian.AppendUint64(nil, blob) }

// openAttachment opens attachment name of db/id: its metadata from the
// document, its body as a blobReader.
func (s *Store) openAttachment(ctx context.Context, db, id, name string) (*porting.AttachmentReader, error) {
	if name == "" || internal(db) {
		return nil, porting.NotFound(name)
	}
	out := &porting.AttachmentReader{}
	r := &blobReader{s: s}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var head struct {
			Atts map[string]struct {
				ContentType string `json:"content_type"`
				Length      int64  `json:"length"`
			} `json:"_attachments"`
		}
		cur := getDoc(tx, db, id)
		if cur == nil || json.Unmarshal(cur, &head) != nil {
			return porting.NotFound(name)
		}
		a, ok := head.Atts[name]
		v := tx.Bucket(bucketAtt).Get(attKey(db, id, name))
		if !ok || len(v) != 8 {
			return porting.NotFound(name)
		}
		out.ContentType, out.Length = a.ContentType, a.Length
		r.blob, r.length = binary.BigEndian.Uint64(v), a.Length
		return nil
	})
	if err != nil {
		return nil, err
	}
	out.Body = r
	return out, nil
}

// blobReader reads a blob chunk by chunk, each read in its own
// transaction.
type blobReader struct {
	s            *Store
	blob         uint64
	chunk        uint32 // next chunk to read
	off          int    // offset in it
	read, length int64
	closed       bool
}

func (r *blobReader) Read(p []byte) (int, error) {
	switch {
	case r.closed:
		return 0, errors.New("boltstore: read of a closed attachment")
	case r.read >= r.length:
		return 0, io.EOF
	case len(p) == 0:
		return 0, nil
	}
	n := 0
	err := r.s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketBlob)
		for n < len(p) && r.read+int64(n) < r.length {
			v := b.Get(blobKey(r.blob, r.chunk))
			if r.off >= len(v) {
				return errBodyGone
			}
			k := copy(p[n:], v[r.off:])
			n += k
			r.off += k
			if r.off == len(v) {
				r.chunk, r.off = r.chunk+1, 0
			}
		}
		return nil
	})
	r.read += int64(n)
	if err != nil {
		return n, storeErr(err)
	}
	return n, nil
}

func (r *blobReader) Close() error {
	r.closed = true
	return nil
}

// dropAttachment deletes the body of attachment name of id, if stored.
func dropAttachment(tx *bolt.Tx, db, id, name string) error {
	ab := tx.Bucket(bucketAtt)
	k := attKey(db, id, name)
	v := ab.Get(k)
	if len(v) != 8 {
		return nil
	}
	blob := binary.BigEndian.Uint64(v)
	if err := ab.Delete(k); err != nil {
		return err
	}
	return deleteBlob(tx, blob)
}

// deleteBlob deletes every chunk of blob.
func deleteBlob(tx *bolt.Tx, blob uint64) error {
	c := tx.Bucket(bucketBlob).Cursor()
	prefix := blobPrefix(blob)
	for k, _ := c.Seek(prefix); k != nil && len(k) == 12 && string(k[:8]) == string(prefix); k, _ = c.Seek(prefix) {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// dropStaged deletes the blobs of uploads that never committed.
func dropStaged(tx *bolt.Tx) (int, error) {
	var blobs []uint64
	_ = tx.Bucket(bucketStaging).ForEach(func(k, _ []byte) error {
		if len(k) == 8 {
			blobs = append(blobs, binary.BigEndian.Uint64(k))
		}
		return nil
	})
	for _, b := range blobs {
		if err := deleteBlob(tx, b); err != nil {
			return 0, err
		}
		if err := tx.Bucket(bucketStaging).Delete(blobPrefix(b)); err != nil {
			return 0, err
		}
	}
	return len(blobs), nil
}
