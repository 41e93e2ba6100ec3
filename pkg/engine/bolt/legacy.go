package bolt

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
	"go.uber.org/zap"

	"github.com/portreqd/portreqd/pkg/engine"
)

// The upgrade from the old embedded store (package boltstore, file
// portreqd.db of the data directory), read here without that package,
// which is going away. Its layout, format 1:
//
//	_meta          "format" → "1" (and its index version)
//	<db>           a CouchDB database: id → the document as GET answers it
//	               (_id, _rev "N-<32 hex>", attachment stubs)
//	_tomb/<db>     id → revision of a deleted document
//	_att           T(db, id, name) → blob id (8) of the attachment body
//	_blob          blob id (8) ‖ chunk number (4) → up to 64 KiB
//	_staging       uploads never committed (not copied)
//	_idx/…         listing indexes (not copied: views are the engine's)
//
// where T(a, b, …) writes each part with 0x00 as 0x00 0xFF, then 0x00.

// legacyFormat is the old store's format this binary upgrades.
const legacyFormat = "1"

var (
	legacyMeta    = []byte("_meta")
	legacyAtt     = []byte("_att")
	legacyBlob    = []byte("_blob")
	legacyTombs   = "_tomb/"
	legacyFormKey = []byte("format")
)

// upgradeBatch bounds what one transaction of the upgrade writes: bbolt
// holds a transaction's writes in memory until its commit, and a data
// directory can hold gigabytes of attachments.
const upgradeBatch = 4 << 20

// UpgradeReport says what UpgradeLegacy copied, for the operator.
type UpgradeReport struct {
	Databases   int
	Documents   int // live documents (Kazoo's soft-deleted ones included)
	Deleted     int // tombstones
	Attachments int
	Bytes       int64  // attachment bytes
	Backup      string // where the old file is kept
}

// UpgradeLegacy moves a data directory written by the old store (its file
// at legacyPath) to the engine (a file at enginePath), once: clients hold
// the old revisions, so every document keeps its id, revision and body,
// deletions keep their tombstones and attachments their bytes and
// metadata. The old file is read, never written, and kept next to it
// (legacyPath + ".pre-engine") as the operator's backup.
//
// It does nothing (nil report) when enginePath exists (finishing an upgrade
// interrupted after the engine file was in place: the old file goes to its
// backup) or when there is no legacy file. A crash leaves the old file
// untouched and either no engine file or a complete one: the engine is
// built as enginePath + ".upgrading", which the next run discards, and
// renamed when complete. Views are not copied: the engine builds the
// indexes of design documents on first use. Options are the engine's: its
// Logger receives the upgrade's log, LockTimeout bounds the wait for an old
// process still holding legacyPath.
func UpgradeLegacy(legacyPath, enginePath string, o Options) (*UpgradeReport, error) {
	log := o.Logger
	if log == nil {
		log = zap.NewNop()
	}
	done, err := exists(enginePath)
	if err != nil {
		return nil, err
	}
	if done {
		if ok, err := exists(legacyPath); err != nil || !ok {
			return nil, err
		}
		backup, err := retire(legacyPath)
		if err != nil {
			return nil, err
		}
		log.Info("legacy store: upgrade had finished, old file moved to its backup",
			zap.String("engine", enginePath), zap.String("backup", backup))
		return nil, nil
	}
	if ok, err := exists(legacyPath); err != nil || !ok {
		return nil, err
	}
	start := time.Now()
	tmp := enginePath + ".upgrading"
	switch err := os.Remove(tmp); {
	case err == nil:
		log.Info("legacy store: discarding an unfinished upgrade", zap.String("path", tmp))
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%w: upgrade: remove %s: %v", engine.ErrUnavailable, tmp, err)
	}
	rep, err := buildFromLegacy(legacyPath, tmp, o)
	if err != nil {
		_ = os.Remove(tmp)
		return nil, fmt.Errorf("upgrade of %s: %w", legacyPath, err)
	}
	if err := os.Rename(tmp, enginePath); err != nil {
		return nil, fmt.Errorf("%w: upgrade: %v", engine.ErrUnavailable, err)
	}
	if err := syncDir(filepath.Dir(enginePath)); err != nil {
		return nil, err
	}
	if rep.Backup, err = retire(legacyPath); err != nil {
		return nil, err // the engine is complete: the next run retires it
	}
	log.Info("legacy store upgraded",
		zap.String("from", legacyPath), zap.String("to", enginePath), zap.String("backup", rep.Backup),
		zap.Int("databases", rep.Databases), zap.Int("documents", rep.Documents), zap.Int("deleted", rep.Deleted),
		zap.Int("attachments", rep.Attachments), zap.Int64("bytes", rep.Bytes), zap.Duration("duration", time.Since(start)))
	return rep, nil
}

func exists(path string) (bool, error) {
	_, err := os.Lstat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("%w: %v", engine.ErrUnavailable, err)
}

// retire renames the old file to its backup name, numbered when an earlier
// backup holds it.
func retire(path string) (string, error) {
	backup := path + ".pre-engine"
	for i := 1; ; i++ {
		ok, err := exists(backup)
		if err != nil {
			return "", err
		}
		if !ok {
			break
		}
		backup = fmt.Sprintf("%s.pre-engine.%d", path, i)
	}
	if err := os.Rename(path, backup); err != nil {
		return "", fmt.Errorf("%w: keep the legacy store as a backup: %v", engine.ErrUnavailable, err)
	}
	return backup, syncDir(filepath.Dir(path))
}

// syncDir makes the renames in dir durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err == nil {
		err = f.Sync()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("%w: sync %s: %v", engine.ErrUnavailable, dir, err)
	}
	return nil
}

// buildFromLegacy writes the engine file path from the old store's file at
// legacyPath, opened read-only (a shared lock: an old process still running
// holds it exclusively, and the open times out).
func buildFromLegacy(legacyPath, path string, o Options) (*UpgradeReport, error) {
	timeout := o.LockTimeout
	if timeout <= 0 {
		timeout = time.Second
	}
	src, err := bbolt.Open(legacyPath, 0o600, &bbolt.Options{ReadOnly: true, Timeout: timeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s is in use by another process (an old portreqd still running?)", engine.ErrUnavailable, legacyPath)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: open %s: %v", engine.ErrUnavailable, legacyPath, err)
	}
	defer src.Close()
	stx, err := src.Begin(false)
	if err != nil {
		return nil, fmt.Errorf("%w: read %s: %v", engine.ErrUnavailable, legacyPath, err)
	}
	defer stx.Rollback()
	meta := stx.Bucket(legacyMeta)
	if meta == nil {
		return nil, fmt.Errorf("%w: %s is no portreqd data file (no _meta bucket)", engine.ErrUnavailable, legacyPath)
	}
	if v := meta.Get(legacyFormKey); string(v) != legacyFormat {
		return nil, fmt.Errorf("%w: %s is in store format %q; this binary upgrades format %s only", engine.ErrUnavailable, legacyPath, v, legacyFormat)
	}

	e, err := Open(path, Options{NoSync: true}) // synced once, at the end
	if err != nil {
		return nil, err
	}
	u := &upgrader{e: e, src: stx}
	err = u.run()
	if err == nil {
		err = e.db.Sync()
	}
	if cerr := e.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, e.fail(err)
	}
	return &u.rep, nil
}

// upgrader copies the old store's databases into the engine, committing
// every upgradeBatch bytes.
type upgrader struct {
	e       *Engine
	src     *bbolt.Tx // the old file, open for the whole copy: written values alias it
	tx      *bbolt.Tx
	pending int
	rep     UpgradeReport
}

func (u *upgrader) run() (err error) {
	if u.tx, err = u.e.db.Begin(true); err != nil {
		return err
	}
	defer func() {
		if err != nil && u.tx != nil {
			_ = u.tx.Rollback()
		}
	}()
	for _, db := range legacyDBs(u.src) {
		if err := u.copyDB(db); err != nil {
			return err
		}
	}
	err = u.tx.Commit()
	u.tx = nil
	return err
}

// spend counts n bytes written, and commits when the batch is full.
func (u *upgrader) spend(n int) error {
	if u.pending += n; u.pending < upgradeBatch {
		return nil
	}
	err := u.tx.Commit()
	u.tx, u.pending = nil, 0
	if err != nil {
		return err
	}
	u.tx, err = u.e.db.Begin(true)
	return err
}

// legacyDBs lists the databases of the old file, sorted: its buckets not
// starting with "_", and those that only tombstones are left of.
func legacyDBs(tx *bbolt.Tx) []string {
	set := map[string]bool{}
	_ = tx.ForEach(func(name []byte, _ *bbolt.Bucket) error {
		switch n := string(name); {
		case strings.HasPrefix(n, legacyTombs):
			set[strings.TrimPrefix(n, legacyTombs)] = true
		case !strings.HasPrefix(n, "_") && n != "":
			set[n] = true
		}
		return nil
	})
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// copyDB creates db (as CreateDB does) and copies its documents, then its
// tombstones; each gets the next update sequence.
func (u *upgrader) copyDB(db string) error {
	if !validDBName(db) {
		return fmt.Errorf("%w: database %q: not a CouchDB database name", engine.ErrBadRequest, db)
	}
	root, err := u.tx.CreateBucketIfNotExists([]byte(db))
	if err != nil {
		return err
	}
	for _, sub := range [][]byte{subDocs, subSeq, subRevs, subOld, subAtt, subViews} {
		if _, err := root.CreateBucketIfNotExists(sub); err != nil {
			return err
		}
	}
	u.rep.Databases++
	if b := u.src.Bucket([]byte(db)); b != nil {
		if err := b.ForEach(func(k, v []byte) error { return u.copyDoc(db, string(k), v) }); err != nil {
			return err
		}
	}
	if b := u.src.Bucket([]byte(legacyTombs + db)); b != nil {
		return b.ForEach(func(k, v []byte) error { return u.copyTomb(db, string(k), string(v)) })
	}
	return nil
}

// legacyStub is an attachment's metadata in an old document.
type legacyStub struct {
	ContentType string `json:"content_type"`
	Revpos      int    `json:"revpos"`
	Digest      string `json:"digest"`
	Length      int64  `json:"length"`
}

func (u *upgrader) copyDoc(db, id string, raw []byte) error {
	if raw == nil {
		return fmt.Errorf("%s/%s: a bucket where a document was expected", db, id)
	}
	if err := checkID(id); err != nil {
		return fmt.Errorf("%s/%s: %w", db, id, err)
	}
	in, err := parseDoc(raw)
	if err != nil {
		return fmt.Errorf("%s/%s: %w", db, id, err)
	}
	var stubs struct {
		Atts map[string]legacyStub `json:"_attachments"`
	}
	if err := json.Unmarshal(raw, &stubs); err != nil {
		return fmt.Errorf("%s/%s: _attachments: %w", db, id, err)
	}
	atts := make([]attRec, 0, len(in.atts))
	for _, a := range in.atts { // sorted by name
		s := stubs.Atts[a.name]
		blob, err := u.copyBody(db, id, a.name, s)
		if err != nil {
			return err
		}
		atts = append(atts, attRec{name: a.name, blob: blob, length: s.Length, revpos: s.Revpos, ctype: s.ContentType, digest: s.Digest})
	}
	u.rep.Documents++
	return u.putRecord(db, id, in.rev, in.members, atts, false)
}

func (u *upgrader) copyTomb(db, id, rev string) error {
	d := openDB(u.tx, db)
	if d.docs().Get([]byte(id)) != nil {
		return nil // created again since: the live document is copied
	}
	u.rep.Deleted++
	return u.putRecord(db, id, rev, nil, nil, true)
}

// copyBody streams the body of attachment name of db/id into a new blob,
// chunk by chunk, and checks it against its metadata.
func (u *upgrader) copyBody(db, id, name string, s legacyStub) (uint64, error) {
	ref := u.src.Bucket(legacyAtt).Get(legacyTuple(db, id, name))
	if len(ref) != 8 {
		return 0, fmt.Errorf("%s/%s: attachment %q has no body in the old file", db, id, name)
	}
	blob, err := u.tx.Bucket(bucketBlob).NextSequence()
	if err != nil {
		return 0, err
	}
	h := md5.New()
	var n int64
	var chunk uint32
	c := u.src.Bucket(legacyBlob).Cursor()
	for k, v := c.Seek(ref); len(k) == 12 && bytes.HasPrefix(k, ref); k, v = c.Next() {
		if len(v) == 0 {
			continue
		}
		if err := u.tx.Bucket(bucketBlob).Put(blobKey(blob, chunk), v); err != nil {
			return 0, err
		}
		h.Write(v)
		n += int64(len(v))
		chunk++
		if err := u.spend(len(v)); err != nil {
			return 0, err
		}
	}
	if digest := "md5-" + base64.StdEncoding.EncodeToString(h.Sum(nil)); n != s.Length || digest != s.Digest {
		return 0, fmt.Errorf("%s/%s: attachment %q: the old file holds %d bytes (%s), its stub says %d (%s)",
			db, id, name, n, digest, s.Length, s.Digest)
	}
	u.rep.Attachments++
	u.rep.Bytes += n
	return blob, nil
}

// putRecord writes id at revision rev, as commit would have written it
// but for the revision, which is kept: its ancestry is that one revision
// (the old store kept no other), so the next write makes generation N+1.
func (u *upgrader) putRecord(db, id, rev string, members []member, atts []attRec, deleted bool) error {
	anc, err := extendAncestry(rev, nil)
	if err != nil {
		return fmt.Errorf("%s/%s: %w", db, id, err)
	}
	// render mints a revision; its body is {"_id":<id>,"_rev":"<minted>"…,
	// in which the minted revision is replaced by rev.
	minted, body := render(id, "", members, atts, deleted)
	at := len(`{"_id":`) + len(appendJSONString(nil, id)) + len(`,"_rev":"`)
	if string(body[at:at+len(minted)]) != minted {
		return fmt.Errorf("%s/%s: unexpected rendered body", db, id)
	}
	body = append(append(body[:at:at], rev...), body[at+len(minted):]...)

	d := openDB(u.tx, db)
	seq, err := d.seq().NextSequence()
	if err != nil {
		return err
	}
	if err := d.seq().Put(u64(seq), []byte(id)); err != nil {
		return err
	}
	if err := d.revs().Put([]byte(id), anc); err != nil {
		return err
	}
	for i := range atts {
		if err := d.att().Put(attKey(id, atts[i].name), atts[i].encode()); err != nil {
			return err
		}
	}
	r := record{deleted: deleted, seq: seq, rev: rev, body: body}
	if err := d.docs().Put([]byte(id), r.encode()); err != nil {
		return err
	}
	return u.spend(len(body))
}

// legacyTuple is the old store's key of parts.
func legacyTuple(parts ...string) []byte {
	var k []byte
	for _, p := range parts {
		for i := 0; i < len(p); i++ {
			if p[i] == 0 {
				k = append(k, 0, 0xFF)
			} else {
				k = append(k, p[i])
			}
		}
		k = append(k, 0)
	}
	return k
}
