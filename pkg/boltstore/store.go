// Package boltstore is a porting.Store in one bbolt file, for running
// portreqd on one machine without CouchDB. It keeps the very JSON documents
// couchstore keeps (same ids, revisions, pvt_* members and attachment
// metadata), one bucket per CouchDB database name, so that moving data
// between the two stores is a copy. Listings are served from ordered index
// buckets written in the same transaction as the documents, in the order
// and with the cursor semantics of the CouchDB views. It is the only
// package that imports bbolt.
//
// Durability: a write returns only after its transaction is committed and
// fsynced (bbolt's NoSync stays false), so an acknowledged write survives
// kill -9 or a crash. Concurrent writers share commits (write.go).
// Exclusivity: bbolt holds an flock on the file while it is open; a second
// process (or a second Open) on the same data directory fails within
// Options.LockTimeout, saying the directory is in use, instead of waiting
// or sharing the file. The file records its format version; a newer one is
// refused.
package boltstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
	"go.uber.org/zap"

	"github.com/portreqd/portreqd/pkg/porting"
)

// FileName is the database file inside the data directory.
const FileName = "portreqd.db"

// Kazoo's database names; each is a bucket of documents keyed by _id.
const (
	dbAccounts     = "accounts"
	dbPortRequests = "port_requests"
	dbClaims       = "port_number_claims"
)

// Internal buckets start with "_", which no CouchDB database name can, so
// that they never collide with a database created on demand.
var (
	bucketMeta    = []byte("_meta")
	bucketAtt     = []byte("_att")     // T(db, id, name) → blob id of the attachment body
	bucketBlob    = []byte("_blob")    // blob id ‖ chunk number → up to chunkSize bytes
	bucketStaging = []byte("_staging") // blob id → "": an upload not committed yet
	tombPrefix    = "_tomb/"           // _tomb/<db>: id → _rev of a deleted document
)

// Format versions. A file records the format it was written in; a binary
// refuses a newer one rather than misreading it.
const (
	formatVersion = 1
	// indexVersion names the index definitions. When it changes, Open
	// rebuilds every index from the documents, as CouchDB rebuilds a view
	// when its design document changes.
	indexVersion = 2
)

var (
	metaFormat  = []byte("format")
	metaIndexes = []byte("indexes")
)

// defaultLockTimeout bounds the wait for the file lock: long enough to ride
// out a previous process that is just exiting, short enough to fail a
// second process at start instead of hanging.
const defaultLockTimeout = time.Second

// Options configures Open.
type Options struct {
	// Logger receives start-up events; nil logs nothing.
	Logger *zap.Logger
	// LockTimeout bounds the wait for another process to release the data
	// directory; zero means one second.
	LockTimeout time.Duration
}

// Store is a porting.Store on a bbolt file. It is safe for concurrent use.
type Store struct {
	db  *bolt.DB
	dir string
	log *zap.Logger
	wq  writeQueue
}

var _ porting.Store = (*Store)(nil)

// Open opens (creating it if missing) the data directory dir and the
// database file in it. It fails when another process holds the directory,
// and when the file was written by a newer, incompatible portreqd.
func Open(dir string, o Options) (*Store, error) {
	log := o.Logger
	if log == nil {
		log = zap.NewNop()
	}
	timeout := o.LockTimeout
	if timeout <= 0 {
		timeout = defaultLockTimeout
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, porting.Wrap(porting.KindUnavailable, "create data directory "+dir, err)
	}
	path := filepath.Join(dir, FileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: timeout,
		// The hashmap freelist stays fast when attachments free many
		// pages; NoSync stays false: every commit is fsynced.
		FreelistType: bolt.FreelistMapType,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, porting.E(porting.KindUnavailable, fmt.Sprintf(
			"data directory %s is in use by another portreqd process (no lock on %s within %s)", dir, path, timeout))
	}
	if err != nil {
		return nil, porting.Wrap(porting.KindUnavailable, "open "+path, err)
	}
	s := &Store{db: db, dir: dir, log: log}
	if err := s.prepare(); err != nil {
		_ = db.Close()
		var pe *porting.Error
		if errors.As(err, &pe) {
			return nil, err
		}
		return nil, porting.Wrap(porting.KindUnavailable, "prepare "+path, err)
	}
	log.Info("bolt store open", zap.String("path", path))
	return s, nil
}

// prepare checks the format, creates the buckets, rebuilds stale indexes
// and drops uploads a crash left half-written.
func (s *Store) prepare() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		if v := meta.Get(metaFormat); v != nil {
			var n int
			if _, err := fmt.Sscan(string(v), &n); err != nil {
				return porting.Wrap(porting.KindUnavailable, "data directory "+s.dir+": unreadable format version", err)
			}
			if n > formatVersion {
				return porting.E(porting.KindUnavailable, fmt.Sprintf(
					"data directory %s was written by portreqd format %d; this binary reads up to %d", s.dir, n, formatVersion))
			}
		}
		if err := meta.Put(metaFormat, fmt.Appendf(nil, "%d", formatVersion)); err != nil {
			return err
		}
		for _, name := range [][]byte{[]byte(dbAccounts), []byte(dbPortRequests), []byte(dbClaims),
			bucketAtt, bucketBlob, bucketStaging} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		if string(meta.Get(metaIndexes)) != fmt.Sprint(indexVersion) || !indexesExist(tx) {
			n, err := rebuildIndexes(tx)
			if err != nil {
				return err
			}
			s.log.Info("bolt store indexes built", zap.Int("documents", n))
			if err := meta.Put(metaIndexes, fmt.Appendf(nil, "%d", indexVersion)); err != nil {
				return err
			}
		}
		n, err := dropStaged(tx)
		if n > 0 {
			s.log.Info("bolt store dropped unfinished uploads", zap.Int("uploads", n))
		}
		return err
	})
}

// indexesExist reports whether every index bucket exists.
func indexesExist(tx *bolt.Tx) bool {
	for _, name := range indexBuckets {
		if tx.Bucket(name) == nil {
			return false
		}
	}
	return true
}

// Ping answers nil while the database is open.
func (s *Store) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return storeErr(err)
	}
	return storeErr(s.db.View(func(*bolt.Tx) error { return nil }))
}

// Close waits for running transactions and closes the file, releasing the
// data directory.
func (s *Store) Close() error { return s.db.Close() }

// view runs fn in a read transaction, unless ctx is done.
func (s *Store) view(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return storeErr(err)
	}
	return storeErr(s.db.View(fn))
}

// storeErr maps bbolt and context failures to domain errors; domain errors
// pass through.
func storeErr(err error) error {
	var pe *porting.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &pe):
		return err
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, berrors.ErrDatabaseNotOpen):
		return porting.Wrap(porting.KindUnavailable, "datastore unavailable", err)
	default:
		return porting.Wrap(porting.KindInternal, "datastore error", err)
	}
}

// conflict is CouchDB's 409 as a domain error.
func conflict() error { return porting.E(porting.KindConflict, "datastore conflict") }
