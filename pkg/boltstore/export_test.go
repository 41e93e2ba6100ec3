package boltstore

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	bolt "go.etcd.io/bbolt"

	"github.com/portreqd/portreqd/pkg/porting"
)

// Test-only access to the store's internals, for the external tests.

// SeedRequests creates many requests in one transaction: benchmarks need
// 100,000 of them without 100,000 fsyncs.
func (s *Store) SeedRequests(rs []*porting.Request) error {
	docs := make([]porting.Fields, len(rs))
	for i, r := range rs {
		f, err := marshalFields(r)
		if err != nil {
			return err
		}
		docs[i] = f
	}
	return s.write(context.Background(), func(tx *bolt.Tx) error {
		for i, r := range rs {
			if _, err := putDoc(tx, dbPortRequests, r.ID, docs[i].Clone(), create, ""); err != nil {
				return err
			}
		}
		return nil
	})
}

// Stage writes body to a staged blob without committing it, as a crash
// mid-upload leaves it, and returns the blob id.
func (s *Store) Stage(body io.Reader) (uint64, error) {
	up, err := s.stage(context.Background(), body)
	if err != nil {
		return 0, err
	}
	return up.blob, nil
}

// BlobChunks counts the stored chunks of blob.
func (s *Store) BlobChunks(blob uint64) int {
	n := 0
	_ = s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketBlob).Cursor()
		p := blobPrefix(blob)
		for k, _ := c.Seek(p); k != nil && string(k[:8]) == string(p); k, _ = c.Next() {
			n++
		}
		return nil
	})
	return n
}

// SetMeta writes key of the _meta bucket in the closed data directory dir.
func SetMeta(dir, key string, value string) error {
	db, err := bolt.Open(filepath.Join(dir, FileName), 0o600, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMeta)
		if b == nil {
			return fmt.Errorf("no meta bucket")
		}
		return b.Put([]byte(key), []byte(value))
	})
}

// DropIndexes deletes every index bucket of the closed data directory dir.
func DropIndexes(dir string) error {
	db, err := bolt.Open(filepath.Join(dir, FileName), 0o600, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.Update(func(tx *bolt.Tx) error {
		for _, name := range indexBuckets {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
		}
		return nil
	})
}

// FormatVersion is the format this binary writes.
const FormatVersion = formatVersion

// Snapshot returns every bucket but the attachment bodies' (_blob,
// _staging) and _meta: documents, tombstones, attachment references and
// index entries, as bucket → key → value.
func (s *Store) Snapshot() (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			switch string(name) {
			case string(bucketBlob), string(bucketStaging), string(bucketMeta):
				return nil
			}
			m := map[string]string{}
			out[string(name)] = m
			return b.ForEach(func(k, v []byte) error {
				m[string(k)] = string(v)
				return nil
			})
		})
	})
	return out, err
}
