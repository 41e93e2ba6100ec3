package bolt

import (
	"fmt"

	bbolt "go.etcd.io/bbolt"
)

// Test-only access to the file's internals, for the external tests of
// open_test.go and durability_test.go.

// FormatVersion is the file format this binary writes.
const FormatVersion = formatVersion

// IndexVersion is how this binary keys view rows.
const IndexVersion = indexVersion

// SetMeta writes key of the _meta bucket of the closed file at path.
func SetMeta(path, key, value string) error {
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketMeta)
		if b == nil {
			return fmt.Errorf("no %s bucket", bucketMeta)
		}
		return b.Put([]byte(key), []byte(value))
	})
}

// Meta reads key of the _meta bucket of the closed file at path.
func Meta(path, key string) (string, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		return "", err
	}
	defer db.Close()
	var v string
	err = db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketMeta)
		if b == nil {
			return fmt.Errorf("no %s bucket", bucketMeta)
		}
		v = string(b.Get([]byte(key)))
		return nil
	})
	return v, err
}

// IndexedDesigns counts the design documents of db that have a view index
// built.
func (e *Engine) IndexedDesigns(db string) (int, error) {
	n := 0
	err := e.db.View(func(tx *bbolt.Tx) error {
		d := openDB(tx, db)
		if d == nil {
			return fmt.Errorf("no database %s", db)
		}
		return d.vw().ForEach(func(_, _ []byte) error { n++; return nil })
	})
	return n, err
}

// Collect runs the collector of unused attachment bodies now.
func (e *Engine) Collect() error { return e.collect() }

// Blobs counts the attachment body chunks stored, and the bodies waiting
// in the garbage for their last reader.
func (e *Engine) Blobs() (chunks, garbage int, err error) {
	err = e.db.View(func(tx *bbolt.Tx) error {
		chunks = tx.Bucket(bucketBlob).Stats().KeyN
		garbage = tx.Bucket(bucketGarbage).Stats().KeyN
		return nil
	})
	return chunks, garbage, err
}
