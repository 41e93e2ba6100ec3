package boltstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/portreqd/portreqd/pkg/porting"
)

// The raw view (porting.RawStore) is how migrate copies documents between
// this store and CouchDB: documents are stored as CouchDB keeps them, so a
// copy is a copy.

var _ porting.RawStore = (*Store)(nil)

// rawPage is how many documents one read transaction of RawDocs takes:
// fn may be slow (it writes to the other store), and a read transaction
// held open that long would keep writers from growing the file.
const rawPage = 200

// RawDocs calls fn for every document of database db in id order.
func (s *Store) RawDocs(ctx context.Context, db string, fn func(*porting.RawDoc) error) error {
	if internal(db) {
		return nil
	}
	var last []byte
	for {
		var batch []*porting.RawDoc
		err := s.view(ctx, func(tx *bolt.Tx) error {
			b := tx.Bucket([]byte(db))
			if b == nil {
				return nil
			}
			c := b.Cursor()
			k, v := c.First()
			if last != nil {
				if k, v = c.Seek(last); bytes.Equal(k, last) {
					k, v = c.Next()
				}
			}
			for ; k != nil && len(batch) < rawPage; k, v = c.Next() {
				doc, err := porting.SplitRaw(v)
				if err != nil {
					return porting.Wrap(porting.KindInternal, "decode "+db+"/"+string(k), err)
				}
				batch = append(batch, doc)
				last = bytes.Clone(k)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, doc := range batch {
			if err := fn(doc); err != nil {
				return err
			}
		}
		if len(batch) < rawPage {
			return nil
		}
	}
}

// RawGet returns one document; KindNotFound when absent.
func (s *Store) RawGet(ctx context.Context, db, id string) (*porting.RawDoc, error) {
	var doc *porting.RawDoc
	err := s.view(ctx, func(tx *bolt.Tx) error {
		raw := getDoc(tx, db, id)
		if raw == nil || internal(db) {
			return porting.NotFound(id)
		}
		var err error
		if doc, err = porting.SplitRaw(raw); err != nil {
			return porting.Wrap(porting.KindInternal, "decode "+db+"/"+id, err)
		}
		return nil
	})
	return doc, err
}

// RawPut makes db/doc.ID equal to doc, whatever revision is stored, in one
// new revision: the attachment bodies are staged first (streamed, as
// PutAttachment does), then one transaction writes the document, its
// attachments' metadata and its index entries. The digests are computed
// from the bytes read, not taken from doc.
func (s *Store) RawPut(ctx context.Context, db string, doc *porting.RawDoc, open func(string) (io.ReadCloser, error)) error {
	if internal(db) {
		return porting.E(porting.KindInternal, "boltstore: "+db+" is no database")
	}
	var body porting.Fields
	if err := json.Unmarshal(doc.Body, &body); err != nil {
		return porting.Wrap(porting.KindInternal, "boltstore: body of "+doc.ID, err)
	}
	ups := map[string]*upload{}
	discardAll := func() {
		for _, up := range ups {
			s.discard(ctx, up.blob)
		}
	}
	for name := range doc.Attachments {
		rc, err := open(name)
		if err != nil {
			discardAll()
			return err
		}
		up, err := s.stage(ctx, rc)
		_ = rc.Close()
		if err != nil {
			discardAll()
			return err
		}
		ups[name] = up
	}
	err := s.write(ctx, func(tx *bolt.Tx) error {
		return replaceDoc(tx, db, doc.ID, body.Clone(), doc.Attachments, ups)
	})
	if err != nil {
		discardAll()
	}
	return err
}

// replaceDoc stores body as id of db after whatever is stored, with the
// staged attachments ups (content types from atts) as its only ones.
func replaceDoc(tx *bolt.Tx, db, id string, body porting.Fields, atts map[string]porting.Attachment, ups map[string]*upload) error {
	if id == "" || strings.HasPrefix(id, "_") {
		return porting.E(porting.KindInternal, "boltstore: invalid document id "+id)
	}
	b, err := tx.CreateBucketIfNotExists([]byte(db))
	if err != nil {
		return err
	}
	var old porting.Fields
	prev := tombRev(tx, db, id)
	if cur := b.Get([]byte(id)); cur != nil {
		if err := json.Unmarshal(cur, &old); err != nil {
			return porting.Wrap(porting.KindInternal, "boltstore: stored document "+db+"/"+id, err)
		}
		prev = old.String("_rev")
	}
	delete(body, "_attachments")
	if err := keepAttachments(tx, db, id, old, body); err != nil { // drops every stored one
		return err
	}
	metas := make(map[string]porting.Fields, len(ups))
	for name, up := range ups {
		meta := porting.Fields{}
		meta.Set("content_type", atts[name].ContentType)
		meta.Set("revpos", revGen(prev)+1)
		meta.Set("digest", up.digest)
		meta.Set("length", up.length)
		metas[name] = meta
		if err := tx.Bucket(bucketAtt).Put(attKey(db, id, name), blobPrefix(up.blob)); err != nil {
			return err
		}
		if err := tx.Bucket(bucketStaging).Delete(blobPrefix(up.blob)); err != nil {
			return err
		}
	}
	setAttachments(body, metas)
	if _, err := store(tx, b, db, id, prev, body); err != nil {
		return err
	}
	if tb := tx.Bucket([]byte(tombPrefix + db)); tb != nil {
		if err := tb.Delete([]byte(id)); err != nil {
			return err
		}
	}
	return reindex(tx, db, id, old, body)
}

// RawAttachment opens attachment name of db/id.
func (s *Store) RawAttachment(ctx context.Context, db, id, name string) (io.ReadCloser, error) {
	a, err := s.openAttachment(ctx, db, id, name)
	if err != nil {
		return nil, err
	}
	return a.Body, nil
}

// internal reports whether name is one of the store's own buckets rather
// than a database: CouchDB database names start with a letter.
func internal(db string) bool { return db == "" || strings.HasPrefix(db, "_") }

// RawPutMany writes docs, none with attachments, in one transaction: one
// commit (two fsyncs) for the batch. Each document goes in as RawPut puts
// it, through replaceDoc: the revision after the stored (or deleted) one,
// stored attachments dropped, index entries updated in the same
// transaction. A later document of the batch with the id of an earlier one
// replaces it, as a later RawPut would. Any failure writes nothing.
func (s *Store) RawPutMany(ctx context.Context, db string, docs []*porting.RawDoc) error {
	if len(docs) == 0 {
		return nil
	}
	if internal(db) {
		return porting.E(porting.KindInternal, "boltstore: "+db+" is no database")
	}
	bodies := make([]porting.Fields, len(docs))
	for i, d := range docs {
		if len(d.Attachments) > 0 {
			return porting.E(porting.KindInternal, "boltstore: RawPutMany: "+d.ID+" has attachments; use RawPut")
		}
		if err := json.Unmarshal(d.Body, &bodies[i]); err != nil {
			return porting.Wrap(porting.KindInternal, "boltstore: body of "+d.ID, err)
		}
	}
	return s.write(ctx, func(tx *bolt.Tx) error {
		for i, d := range docs {
			// replaceDoc changes the body it is given, and a write
			// function may run twice (write.go): a copy each run.
			if err := replaceDoc(tx, db, d.ID, bodies[i].Clone(), nil, nil); err != nil {
				return fmt.Errorf("%s/%s: %w", db, d.ID, err)
			}
		}
		return nil
	})
}

// RawGetMany reads the documents of ids that exist in one read
// transaction.
func (s *Store) RawGetMany(ctx context.Context, db string, ids []string) (map[string]*porting.RawDoc, error) {
	out := make(map[string]*porting.RawDoc, len(ids))
	if len(ids) == 0 || internal(db) {
		return out, nil
	}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		for _, id := range ids {
			raw := getDoc(tx, db, id)
			if raw == nil {
				continue
			}
			doc, err := porting.SplitRaw(raw)
			if err != nil {
				return porting.Wrap(porting.KindInternal, "decode "+db+"/"+id, err)
			}
			out[id] = doc
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
