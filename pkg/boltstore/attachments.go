package boltstore

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"errors"
	"hash"
	"io"

	bolt "go.etcd.io/bbolt"

	"github.com/portreqd/portreqd/pkg/porting"
)

// PutAttachment streams body into attachment name of request id at rev and
// returns the new revision; KindConflict when rev is missing or not
// current, or the document does not exist (CouchDB's 409 for a revision it
// does not have). The revision is checked before body is read, so a stale
// upload fails without being read, and again at commit.
func (s *Store) PutAttachment(ctx context.Context, id, rev, name, contentType string, body io.Reader) (string, error) {
	return s.putAttachment(ctx, dbPortRequests, id, rev, name, contentType, body)
}

// PutAccountAttachment is PutAttachment on an account document (an LOA logo).
func (s *Store) PutAccountAttachment(ctx context.Context, id, rev, name, contentType string, body io.Reader) (string, error) {
	return s.putAttachment(ctx, dbAccounts, id, rev, name, contentType, body)
}

// GetAccountAttachment opens attachment name of account id.
func (s *Store) GetAccountAttachment(ctx context.Context, id, name string) (*porting.AttachmentReader, error) {
	return s.openAttachment(ctx, dbAccounts, id, name)
}

func (s *Store) putAttachment(ctx context.Context, db, id, rev, name, contentType string, body io.Reader) (string, error) {
	if name == "" {
		return "", porting.E(porting.KindInternal, "boltstore: attachment without name")
	}
	if err := s.view(ctx, func(tx *bolt.Tx) error {
		_, err := currentDoc(tx, db, id, rev, conflict)
		return err
	}); err != nil {
		return "", err
	}
	up, err := s.stage(ctx, body)
	if err != nil {
		return "", err
	}
	var newRev string
	err = s.write(ctx, func(tx *bolt.Tx) error {
		var err error
		newRev, err = commitAttachment(tx, db, id, rev, name, contentType, up)
		return err
	})
	if err != nil {
		s.discard(ctx, up.blob)
		return "", err
	}
	return newRev, nil
}

// upload is a body written to a staged blob.
type upload struct {
	blob   uint64
	length int64
	digest string // CouchDB's: "md5-" + base64 of the md5 of the body
}

// stage writes body into a new staged blob, stageChunks chunks per
// transaction, hashing as it goes.
func (s *Store) stage(ctx context.Context, body io.Reader) (*upload, error) {
	up := &upload{}
	h := md5.New()
	bufs := make([][]byte, 0, stageChunks) // reused: bbolt lets go of values at commit
	var next uint32
	for eof := false; !eof; {
		var filled [][]byte
		var err error
		filled, eof, err = readChunks(body, bufs, h)
		if err != nil {
			s.discard(ctx, up.blob)
			return nil, err
		}
		bufs = bufs[:len(filled)]
		up.length += chunksLen(filled)
		first := up.blob == 0
		err = s.write(ctx, func(tx *bolt.Tx) error {
			if first {
				seq, err := tx.Bucket(bucketBlob).NextSequence()
				if err != nil {
					return err
				}
				up.blob = seq
				if err := tx.Bucket(bucketStaging).Put(blobPrefix(seq), []byte{1}); err != nil {
					return err
				}
			}
			b := tx.Bucket(bucketBlob)
			for i, c := range filled {
				if err := b.Put(blobKey(up.blob, next+uint32(i)), c); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			if !first {
				s.discard(ctx, up.blob)
			}
			return nil, err
		}
		next += uint32(len(filled))
	}
	up.digest = "md5-" + base64.StdEncoding.EncodeToString(h.Sum(nil))
	return up, nil
}

// readChunks fills up to stageChunks chunks from body into bufs (growing
// it to capacity), hashing what it reads; eof reports the end of body.
func readChunks(body io.Reader, bufs [][]byte, h hash.Hash) (filled [][]byte, eof bool, err error) {
	bufs = bufs[:cap(bufs)]
	for i := range bufs {
		if bufs[i] == nil {
			bufs[i] = make([]byte, chunkSize)
		}
		n, err := io.ReadFull(body, bufs[i][:chunkSize])
		if n > 0 {
			h.Write(bufs[i][:n])
			bufs[i] = bufs[i][:n]
			filled = bufs[:i+1]
		}
		switch {
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return filled, true, nil
		case err != nil:
			var pe *porting.Error
			if errors.As(err, &pe) {
				return nil, false, err
			}
			return nil, false, porting.Wrap(porting.KindInternal, "read attachment body", err)
		}
	}
	return filled, false, nil
}

func chunksLen(cs [][]byte) int64 {
	n := 0
	for _, c := range cs {
		n += len(c)
	}
	return int64(n)
}

// commitAttachment makes the staged blob attachment name of db/id at rev,
// in the document's next revision.
func commitAttachment(tx *bolt.Tx, db, id, rev, name, contentType string, up *upload) (string, error) {
	old, err := currentDoc(tx, db, id, rev, conflict)
	if err != nil {
		return "", err
	}
	if err := dropAttachment(tx, db, id, name); err != nil {
		return "", err
	}
	atts := attachmentsOf(old)
	if atts == nil {
		atts = map[string]porting.Fields{}
	}
	meta := porting.Fields{}
	meta.Set("content_type", contentType)
	meta.Set("revpos", revGen(rev)+1) // the generation this write creates
	meta.Set("digest", up.digest)
	meta.Set("length", up.length)
	atts[name] = meta
	doc := old.Clone()
	setAttachments(doc, atts)
	newRev, err := store(tx, tx.Bucket([]byte(db)), db, id, rev, doc)
	if err != nil {
		return "", err
	}
	if err := tx.Bucket(bucketAtt).Put(attKey(db, id, name), blobPrefix(up.blob)); err != nil {
		return "", err
	}
	if err := tx.Bucket(bucketStaging).Delete(blobPrefix(up.blob)); err != nil {
		return "", err
	}
	return newRev, reindex(tx, db, id, old, doc)
}

// discard deletes a staged blob that will never be committed. A failure
// leaves it to the next Open.
func (s *Store) discard(ctx context.Context, blob uint64) {
	if blob == 0 {
		return
	}
	_ = s.write(context.WithoutCancel(ctx), func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketStaging).Delete(blobPrefix(blob)); err != nil {
			return err
		}
		return deleteBlob(tx, blob)
	})
}

// GetAttachment opens attachment name of request id. The body is read one
// chunk per short read transaction, so a slow download never holds a
// transaction open (which would keep bbolt from growing its file map, and
// so stall writers). The price: if the attachment is replaced or deleted
// during the download, the reader fails with an error instead of finishing
// the old body.
func (s *Store) GetAttachment(ctx context.Context, id, name string) (*porting.AttachmentReader, error) {
	return s.openAttachment(ctx, dbPortRequests, id, name)
}

// DeleteAttachment removes attachment name at rev and returns the new
// revision: KindConflict when rev is missing or stale, KindNotFound when
// the document or the attachment does not exist.
func (s *Store) DeleteAttachment(ctx context.Context, id, rev, name string) (string, error) {
	if rev == "" {
		return "", conflict()
	}
	var newRev string
	err := s.write(ctx, func(tx *bolt.Tx) error {
		old, err := currentDoc(tx, dbPortRequests, id, rev, func() error { return porting.NotFound(id) })
		if err != nil {
			return err
		}
		atts := attachmentsOf(old)
		if _, ok := atts[name]; !ok {
			return porting.NotFound(name)
		}
		if err := dropAttachment(tx, dbPortRequests, id, name); err != nil {
			return err
		}
		delete(atts, name)
		doc := old.Clone()
		setAttachments(doc, atts)
		if newRev, err = store(tx, tx.Bucket([]byte(dbPortRequests)), dbPortRequests, id, rev, doc); err != nil {
			return err
		}
		return reindex(tx, dbPortRequests, id, old, doc)
	})
	return newRev, err
}

// currentDoc reads live document id of db and checks that it is at rev:
// missing() when there is none, KindConflict when rev is empty or stale.
func currentDoc(tx *bolt.Tx, db, id, rev string, missing func() error) (porting.Fields, error) {
	cur := getDoc(tx, db, id)
	if cur == nil {
		return nil, missing()
	}
	var doc porting.Fields
	if err := json.Unmarshal(cur, &doc); err != nil {
		return nil, porting.Wrap(porting.KindInternal, "boltstore: stored document "+db+"/"+id, err)
	}
	if rev == "" || doc.String("_rev") != rev {
		return nil, conflict()
	}
	return doc, nil
}
