// Package bolt is the embedded document engine: engine.Engine in one bbolt
// file, for running portreqd on one machine without CouchDB. It is, with
// its legacy upgrade (legacy.go), the only importer of bbolt.
//
// It keeps what CouchDB keeps, in CouchDB's shapes: databases of JSON
// documents stored as GET /db/id answers them (_id, _rev, attachment stubs,
// tombstones for deletions), revision ids "N-<32 hex>" (md5 of the parent
// revision and the new body, so the same edit of the same parent gets the
// same id, as in CouchDB), each document's revision ancestry (newest first,
// capped at CouchDB's revs_limit of 1000), the bodies of the last
// keptRevisions (4) previous revisions for Get with Rev (CouchDB keeps them
// until compaction; older ones answer not found), attachments streamed in
// chunks, views of design documents maintained in the same transaction as
// every document write, and a per-database update sequence for _changes.
//
// One process writes, so revisions never branch: Leaves always answers one
// leaf, and a write that names a stale revision is a conflict, as in
// CouchDB.
//
// # Layout
//
// Top-level buckets whose names start with "_" are the engine's own (no
// CouchDB database name can start with "_"):
//
//	_meta      format and index versions
//	_blob      blob id (8) ‖ chunk number (4) → up to chunkSize bytes
//	_staging   blob id → "": an upload not committed yet (dropped on Open)
//	_garbage   blob id → "": a body no document uses; deleted once no
//	           reader has it open
//
// Every other top-level bucket is a database, with sub-buckets:
//
//	docs   id → record: flags, update seq, current rev, body (as GET answers)
//	seq    update seq (8, big-endian) → id, one entry per document: its latest
//	revs   id → ancestry: first generation, then 16-byte hashes, newest first
//	old    esc(id) 00 00 ‖ generation (8) ‖ rev → body of a previous revision
//	att    esc(id) 00 00 ‖ name → attachment: blob id, length, revpos, type, digest
//	views  design id → index: "sig" (what it was built from), "ids"
//	       (doc id → the row keys it emitted) and one bucket per view,
//	       "v:"+name, of rows: esc(collate key) 00 00 ‖ doc id → key/value
//	       pairs emitted (several when a document emits one key twice)
//
// See keys.go for why esc (0x00 → 0x00 0x01) and the 00 00 separator keep
// (key, doc id) order whatever the collation keys look like.
//
// # Durability and concurrency
//
// A write returns once its transaction is committed and fsynced.
// Concurrent writers share commits (write.go). Readers use read
// transactions and never call back into the caller while holding one, so a
// callback may write. bbolt holds an flock on the file: a second Open of
// the same file fails within Options.LockTimeout.
package bolt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
	"go.uber.org/zap"

	"github.com/portreqd/portreqd/pkg/engine"
)

// Formats. A file records the format it was written in; a binary refuses a
// newer one rather than misreading it. The index version names how view
// rows are keyed (collate.Key, jsview's encoding): when it changes, every
// view index is dropped at Open and rebuilt on first use.
const (
	formatVersion = 1
	indexVersion  = 1
)

const (
	// revsLimit is how many revision ids a document's ancestry keeps
	// (CouchDB's default revs_limit).
	revsLimit = 1000
	// keptRevisions is how many previous revision bodies Get with Rev can
	// still read; CouchDB keeps them until compaction.
	keptRevisions = 4
	// maxIDLen bounds document ids (bbolt keys are at most 32 KiB, and ids
	// are parts of longer keys).
	maxIDLen = 8 << 10
	// maxRowKey bounds a view row's stored key; rows whose collation key
	// makes a longer one are left out of the view (and logged).
	maxRowKey = bbolt.MaxKeySize
)

var (
	bucketMeta    = []byte("_meta")
	bucketBlob    = []byte("_blob")
	bucketStaging = []byte("_staging")
	bucketGarbage = []byte("_garbage")

	metaFormat = []byte("format")
	metaIndex  = []byte("index")

	subDocs  = []byte("docs")
	subSeq   = []byte("seq")
	subRevs  = []byte("revs")
	subOld   = []byte("old")
	subAtt   = []byte("att")
	subViews = []byte("views")
)

// Options configures Open.
type Options struct {
	// Logger receives start-up events and map function errors; nil logs
	// nothing.
	Logger *zap.Logger
	// LockTimeout bounds the wait for another process to release the file;
	// zero means one second.
	LockTimeout time.Duration
	// NoSync skips fsync on commit: for tests and benchmarks only, a crash
	// can lose acknowledged writes.
	NoSync bool
}

// Engine is engine.Engine on one bbolt file. It is safe for concurrent use.
type Engine struct {
	db   *bbolt.DB
	path string
	log  *zap.Logger
	wq   writeQueue

	designMu sync.Mutex
	designs  map[string]*compiled // db ␀ design id → compiled design
	viewSets map[string]*viewSet  // signature → compiled views

	notifyMu sync.Mutex
	notify   map[string]chan struct{} // db → closed at its next commit

	// refs counts open attachment readers per blob; the garbage collector
	// deletes only blobs nobody reads, holding refsMu through its commit.
	// So refsMu is never taken inside a transaction: a commit may wait for
	// every read transaction to end (to grow the file's map).
	refsMu sync.Mutex
	refs   map[uint64]int

	gcWanted  atomic.Bool
	gcKick    chan struct{}
	closing   chan struct{}
	closeOnce sync.Once
	bg        sync.WaitGroup
}

var _ engine.Engine = (*Engine)(nil)

// Open opens (creating it if missing) the engine's file at path. Uploads a
// crash left unfinished and attachment bodies no document uses any more
// are deleted before it returns.
func Open(path string, o Options) (*Engine, error) {
	log := o.Logger
	if log == nil {
		log = zap.NewNop()
	}
	timeout := o.LockTimeout
	if timeout <= 0 {
		timeout = time.Second
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("%w: create directory of %s: %v", engine.ErrUnavailable, path, err)
		}
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout:      timeout,
		FreelistType: bbolt.FreelistMapType,
		NoSync:       o.NoSync,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s is in use by another process (no lock within %s)", engine.ErrUnavailable, path, timeout)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: open %s: %v", engine.ErrUnavailable, path, err)
	}
	e := &Engine{
		db: db, path: path, log: log,
		designs: map[string]*compiled{}, viewSets: map[string]*viewSet{},
		notify:  map[string]chan struct{}{},
		refs:    map[uint64]int{},
		gcKick:  make(chan struct{}, 1),
		closing: make(chan struct{}),
	}
	if err := e.prepare(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("bolt engine %s: %w", path, e.fail(err))
	}
	if err := e.collect(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("bolt engine %s: %w", path, e.fail(err))
	}
	e.bg.Add(1)
	go e.collector()
	log.Info("bolt engine open", zap.String("path", path))
	return e, nil
}

// prepare checks the format, creates the engine's buckets, moves unfinished
// uploads to the garbage and drops view indexes of an older index version.
func (e *Engine) prepare() error {
	return e.db.Update(func(tx *bbolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		if v := meta.Get(metaFormat); v != nil {
			n, err := strconv.Atoi(string(v))
			if err != nil {
				return fmt.Errorf("%w: unreadable format version %q", engine.ErrUnavailable, v)
			}
			if n > formatVersion {
				return fmt.Errorf("%w: file format %d is newer than this binary's %d", engine.ErrUnavailable, n, formatVersion)
			}
		}
		if err := meta.Put(metaFormat, []byte(strconv.Itoa(formatVersion))); err != nil {
			return err
		}
		for _, name := range [][]byte{bucketBlob, bucketStaging, bucketGarbage} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		n, err := unstage(tx)
		if err != nil {
			return err
		}
		if n > 0 {
			e.log.Info("bolt engine: dropping unfinished uploads", zap.Int("uploads", n))
		}
		if string(meta.Get(metaIndex)) != strconv.Itoa(indexVersion) {
			if err := dropAllIndexes(tx); err != nil {
				return err
			}
			if err := meta.Put(metaIndex, []byte(strconv.Itoa(indexVersion))); err != nil {
				return err
			}
		}
		return nil
	})
}

// dropAllIndexes empties every database's views bucket; the indexes are
// rebuilt from the documents when next used.
func dropAllIndexes(tx *bbolt.Tx) error {
	var dbs []string
	_ = tx.ForEach(func(name []byte, _ *bbolt.Bucket) error {
		if validDBName(string(name)) {
			dbs = append(dbs, string(name))
		}
		return nil
	})
	for _, name := range dbs {
		root := tx.Bucket([]byte(name))
		if root.Bucket(subViews) == nil {
			continue
		}
		if err := root.DeleteBucket(subViews); err != nil {
			return err
		}
		if _, err := root.CreateBucket(subViews); err != nil {
			return err
		}
	}
	return nil
}

// Close stops the garbage collector and closes the file; continuous
// changes feeds end with ErrUnavailable. Open attachment readers fail on
// their next read.
func (e *Engine) Close() error {
	var err error
	e.closeOnce.Do(func() {
		close(e.closing)
		e.bg.Wait()
		err = e.db.Close()
	})
	return err
}

// Ping answers nil while the file is open.
func (e *Engine) Ping(ctx context.Context) error {
	return e.read(ctx, func(*bbolt.Tx) error { return nil })
}

// dbNameRE is CouchDB's rule for database names.
var dbNameRE = regexp.MustCompile(`^[a-z][a-z0-9_$()+/-]*$`)

func validDBName(name string) bool { return len(name) <= 238 && dbNameRE.MatchString(name) }

// CreateDB creates db; nil when it exists. A name CouchDB would refuse is
// ErrBadRequest.
func (e *Engine) CreateDB(ctx context.Context, db string) error {
	if !validDBName(db) {
		return fmt.Errorf("%w: illegal database name %q", engine.ErrBadRequest, db)
	}
	return e.write(ctx, "", func(tx *bbolt.Tx) error {
		root, err := tx.CreateBucketIfNotExists([]byte(db))
		if err != nil {
			return err
		}
		for _, sub := range [][]byte{subDocs, subSeq, subRevs, subOld, subAtt, subViews} {
			if _, err := root.CreateBucketIfNotExists(sub); err != nil {
				return err
			}
		}
		return nil
	})
}

// DBExists reports whether db exists.
func (e *Engine) DBExists(ctx context.Context, db string) (bool, error) {
	ok := false
	err := e.read(ctx, func(tx *bbolt.Tx) error {
		ok = openDB(tx, db) != nil
		return nil
	})
	return ok, err
}

// DeleteDB removes db with everything in it. Attachment bodies go to the
// garbage, so that downloads already open finish.
func (e *Engine) DeleteDB(ctx context.Context, db string) error {
	err := e.write(ctx, db, func(tx *bbolt.Tx) error {
		d := openDB(tx, db)
		if d == nil {
			return refuse(fmt.Errorf("%w: database %s", engine.ErrNotFound, db))
		}
		var blobs []uint64
		if err := d.att().ForEach(func(_, v []byte) error {
			a, err := decodeAtt(v)
			if err != nil {
				return err
			}
			blobs = append(blobs, a.blob)
			return nil
		}); err != nil {
			return err
		}
		for _, b := range blobs {
			if err := e.dropBlob(tx, b); err != nil {
				return err
			}
		}
		return tx.DeleteBucket([]byte(db))
	})
	if err == nil {
		e.forgetDesigns(db)
	}
	return err
}

// AllDBs lists the databases, sorted.
func (e *Engine) AllDBs(ctx context.Context) ([]string, error) {
	var out []string
	err := e.read(ctx, func(tx *bbolt.Tx) error {
		return tx.ForEach(func(name []byte, _ *bbolt.Bucket) error {
			if validDBName(string(name)) {
				out = append(out, string(name))
			}
			return nil
		})
	})
	sort.Strings(out)
	if out == nil {
		out = []string{}
	}
	return out, err
}

// dbTx is one database's buckets in a transaction, opened on first use.
type dbTx struct {
	name string
	root *bbolt.Bucket
	subs [6]*bbolt.Bucket
}

func (d *dbTx) sub(i int, name []byte) *bbolt.Bucket {
	if d.subs[i] == nil {
		d.subs[i] = d.root.Bucket(name)
	}
	return d.subs[i]
}

func (d *dbTx) docs() *bbolt.Bucket { return d.sub(0, subDocs) }
func (d *dbTx) seq() *bbolt.Bucket  { return d.sub(1, subSeq) }
func (d *dbTx) revs() *bbolt.Bucket { return d.sub(2, subRevs) }
func (d *dbTx) old() *bbolt.Bucket  { return d.sub(3, subOld) }
func (d *dbTx) att() *bbolt.Bucket  { return d.sub(4, subAtt) }
func (d *dbTx) vw() *bbolt.Bucket   { return d.sub(5, subViews) }

// openDB returns db's buckets, nil when it does not exist (or is no
// database name). CreateDB makes every sub-bucket with the database.
func openDB(tx *bbolt.Tx, db string) *dbTx {
	if !validDBName(db) {
		return nil
	}
	root := tx.Bucket([]byte(db))
	if root == nil {
		return nil
	}
	d := &dbTx{name: db, root: root}
	if d.docs() == nil {
		return nil
	}
	return d
}

// needDB is openDB or ErrNotFound.
func needDB(tx *bbolt.Tx, db string) (*dbTx, error) {
	d := openDB(tx, db)
	if d == nil {
		return nil, fmt.Errorf("%w: database %s", engine.ErrNotFound, db)
	}
	return d, nil
}

// read runs fn in a read transaction, unless ctx is done.
func (e *Engine) read(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return e.fail(err)
	}
	return e.fail(e.db.View(fn))
}

// fail maps an error to the engine's: the sentinels pass through (and
// ErrNotModified, a Get's answer rather than a failure), a done
// context or a closed file is ErrUnavailable, keys or values too large for
// bbolt are ErrBadRequest, and anything else (a disk error, a corrupt
// record) is ErrUnavailable.
func (e *Engine) fail(err error) error {
	var r refusal
	if errors.As(err, &r) {
		err = r.err
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, engine.ErrNotFound), errors.Is(err, engine.ErrConflict),
		errors.Is(err, engine.ErrBadRequest), errors.Is(err, engine.ErrUnavailable),
		errors.Is(err, engine.ErrNotModified):
		return err
	case errors.Is(err, berrors.ErrKeyTooLarge), errors.Is(err, berrors.ErrValueTooLarge), errors.Is(err, berrors.ErrKeyRequired):
		return fmt.Errorf("%w: %v", engine.ErrBadRequest, err)
	default:
		return fmt.Errorf("%w: bolt %s: %v", engine.ErrUnavailable, e.path, err)
	}
}

// changed returns a channel closed at the next commit that changes db.
func (e *Engine) changed(db string) <-chan struct{} {
	e.notifyMu.Lock()
	defer e.notifyMu.Unlock()
	ch := e.notify[db]
	if ch == nil {
		ch = make(chan struct{})
		e.notify[db] = ch
	}
	return ch
}

// wake closes db's change channel.
func (e *Engine) wake(db string) {
	e.notifyMu.Lock()
	defer e.notifyMu.Unlock()
	if ch := e.notify[db]; ch != nil {
		close(ch)
		delete(e.notify, db)
	}
}

func isDesign(id string) bool { return strings.HasPrefix(id, "_design/") }
