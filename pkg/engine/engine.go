// Package engine is the document engine portreqd keeps Kazoo's data in,
// shaped like CouchDB because Kazoo's data is CouchDB's: databases of JSON
// documents with revisions, attachments, views defined by design documents,
// and a changes feed. It is what Kazoo's data manager (kz_datamgr) asks of
// its drivers, and no more. Engines know nothing of what the documents
// mean; the Kazoo layer above them does. Each engine (CouchDB over
// kivik, embedded over bbolt) must pass the contract suite in
// engine/enginetest, which is how "behaves as CouchDB does" is kept true.
//
// Documents travel as raw JSON, exactly as CouchDB's GET /db/id answers
// them: _id, _rev, attachment stubs under _attachments, and _deleted on a
// deletion. Writes take the same shape: a body's _rev names the revision it
// replaces (none: a create, allowed over a deletion).
package engine

import (
	"context"
	"errors"
	"io"
)

// The errors of every engine, tested with errors.Is. An engine wraps them
// with what it knows (the database, the id, the server's own message).
var (
	// ErrNotFound: the database, document (or a deleted one) or attachment
	// does not exist.
	ErrNotFound = errors.New("engine: not found")
	// ErrConflict: the revision named is not the current one, or a create
	// met a live document; the caller reads again and decides.
	ErrConflict = errors.New("engine: conflict")
	// ErrUnavailable: the engine did not answer (network, timeout, server
	// error); the same request may succeed later.
	ErrUnavailable = errors.New("engine: unavailable")
	// ErrBadRequest: the engine refused the request itself (a malformed
	// id, document or query): a bug of the caller, not of the data.
	ErrBadRequest = errors.New("engine: bad request")
	// ErrUnauthorized: the server refused the credentials (a wrong
	// password) or the user lacks the right: the operator's to fix, and
	// no retry mends it.
	ErrUnauthorized = errors.New("engine: credentials refused")
	// ErrNotModified: Get with GetOptions.IfNoneMatch found the document
	// at that revision, and answered no body (CouchDB's 304).
	ErrNotModified = errors.New("engine: not modified")
)

// Engine is one server's worth of databases.
type Engine interface {
	// Ping answers nil only when the engine answers with the configured
	// credentials.
	Ping(ctx context.Context) error
	Close() error

	// CreateDB creates db; nil when it exists already.
	CreateDB(ctx context.Context, db string) error
	DBExists(ctx context.Context, db string) (bool, error)
	// DeleteDB removes db and everything in it; ErrNotFound when missing.
	DeleteDB(ctx context.Context, db string) error
	// AllDBs lists the databases, sorted.
	AllDBs(ctx context.Context) ([]string, error)

	// Get returns document id of db; ErrNotFound when missing or deleted,
	// ErrNotModified (and no body) when o.IfNoneMatch is the revision it
	// would return.
	Get(ctx context.Context, db, id string, o GetOptions) ([]byte, error)
	// Leaves returns every leaf revision of id (CouchDB's open_revs=all)
	// with its ancestry: more than one live leaf is a conflict, which only
	// replication (or a cluster race) makes.
	Leaves(ctx context.Context, db, id string) ([]Leaf, error)
	// Put writes doc as id of db and returns the new revision.
	Put(ctx context.Context, db, id string, doc []byte) (string, error)
	// Delete writes a deletion of id over rev and returns its revision.
	Delete(ctx context.Context, db, id, rev string) (string, error)
	// Bulk writes several documents in one request; each has its own
	// answer, in order (one failing does not fail the others).
	Bulk(ctx context.Context, db string, docs [][]byte) ([]Result, error)
	// PutRevision stores doc (no attachments) as id at the revision its
	// _rev names, as replication writes (CouchDB's new_edits=false): a
	// chosen revision, the same on every server that stores the same
	// document, which replication then never sees as a conflict. CouchDB
	// adds it as a leaf beside what id has (a live leaf beats a deletion);
	// an engine that keeps one leaf per document (bolt) stores it only
	// where id is missing, and answers ErrConflict where id holds another
	// revision. The same revision again changes nothing.
	PutRevision(ctx context.Context, db, id string, doc []byte) error
	// AllDocs lists documents by id (CouchDB's _all_docs).
	AllDocs(ctx context.Context, db string, q Query, fn func(Row) error) error

	// PutAttachment streams body into attachment name of id at rev and
	// returns the new revision; the body is never held whole in memory.
	PutAttachment(ctx context.Context, db, id, rev, name, contentType string, body io.Reader) (string, error)
	// GetAttachment opens attachment name of id; the caller closes Body.
	GetAttachment(ctx context.Context, db, id, name string) (*Attachment, error)

	// Query reads view of design document _design/<design> in db, rows in
	// CouchDB's collation order, each handed to fn (an error from fn stops
	// the query and is returned). ErrNotFound when the view is missing.
	Query(ctx context.Context, db, design, view string, q Query, fn func(Row) error) error

	// Changes reads the changes of db after q.Since, oldest first.
	Changes(ctx context.Context, db string, q ChangesQuery, fn func(Change) error) error
}

// LocalReads is an Engine in this process, whose reads cost no round trip
// (embedded): a caller holding documents decoded may then read revisions
// first (_all_docs by keys) and documents only where its copy is stale,
// instead of having every document copied to it with include_docs. Over a
// network the extra round trip costs more than it saves.
type LocalReads interface {
	LocalReads() bool
}

// Replicating is an Engine whose server replicates databases to and from
// other servers (CouchDB's replicator, driven by documents in its
// _replicator database): Replications says what its scheduler makes of
// each replication document.
type Replicating interface {
	Replications(ctx context.Context) ([]Replication, error)
}

// Replication is the scheduler's view of one _replicator document.
type Replication struct {
	DocID string
	// State is the scheduler's: initializing, running, pending, crashing,
	// error, failed or completed.
	State string
	// Source and Target are URLs without credentials.
	Source, Target string
	// Error is the scheduler's last error, "" when none.
	Error string
	// DocsWritten and ChangesPending are the progress the scheduler
	// reports for a running replication (-1 when it reports none).
	DocsWritten, ChangesPending int64
}

// GetOptions are CouchDB's GET /db/id parameters that Kazoo uses.
type GetOptions struct {
	Rev       string // a past revision, while the engine keeps it
	Conflicts bool   // list other live leaves under _conflicts
	// AttEncodingInfo is CouchDB's att_encoding_info=true: a stub of an
	// attachment the engine keeps compressed says so with "encoding"
	// ("gzip") and "encoded_length", and its "digest" is then the MD5 of
	// the compressed form, not of the bytes; "length" is always the byte
	// count. Without it CouchDB reports such a digest unmarked. An engine
	// that stores every attachment as it came (bolt) writes no "encoding":
	// its digests are always "md5-"+base64(MD5 of the bytes).
	AttEncodingInfo bool
	// IfNoneMatch is a revision (CouchDB's If-None-Match: "<rev>"): when
	// the revision Get would return is this one, Get answers
	// ErrNotModified and no body. Missing or deleted documents are still
	// ErrNotFound.
	IfNoneMatch string
}

// Leaf is one leaf revision of a document.
type Leaf struct {
	Rev       string
	Deleted   bool
	Ancestors []string // full revision ids, the leaf's own first
	Doc       []byte
}

// Result is one document's answer of a Bulk write: Rev, or Err wrapping
// ErrConflict, ErrBadRequest or another error.
type Result struct {
	ID  string
	Rev string
	Err error
}

// Query is a view or _all_docs query. Keys are raw JSON (nil: unset), as
// CouchDB takes them in a query string.
type Query struct {
	Key           []byte
	Keys          [][]byte
	StartKey      []byte
	EndKey        []byte
	StartKeyDocID string
	EndKeyDocID   string
	ExclusiveEnd  bool // CouchDB's inclusive_end=false
	Descending    bool
	Limit         int // 0: no limit
	Skip          int
	IncludeDocs   bool
	// AttEncodingInfo is GetOptions.AttEncodingInfo for the documents of
	// IncludeDocs.
	AttEncodingInfo bool
	// Reduce runs the view's reduce function (when it has one); the
	// default, as in CouchDB when a reduce exists, is set by the caller.
	Reduce     bool
	Group      bool
	GroupLevel int
}

// Row is one row of a view or _all_docs: Key and Value raw JSON, Doc the
// document when asked for (nil if it was deleted since it was indexed).
type Row struct {
	ID    string
	Key   []byte
	Value []byte
	Doc   []byte
}

// ChangesQuery asks for the changes after Since ("" or "0": from the
// start). With Continuous the feed waits for new changes until ctx ends.
type ChangesQuery struct {
	Since       string
	Limit       int
	IncludeDocs bool
	Continuous  bool
	// AllLeaves lists every leaf revision of each changed document in
	// Change.Leaves (CouchDB's style=all_docs): more than one live leaf
	// is a conflict, which replication between servers brings.
	AllLeaves bool
}

// Change is one document's latest change.
type Change struct {
	Seq     string
	ID      string
	Rev     string
	Deleted bool
	Doc     []byte
	// Leaves are the document's leaf revisions (deleted ones included)
	// when ChangesQuery.AllLeaves asked for them; Rev is then one of them,
	// not necessarily the winner.
	Leaves []string
}

// AttachmentsAt is an Engine that reads an attachment as a given revision
// of its document holds it (CouchDB: GET /db/id/name?rev=), which resolving
// a conflict needs: the losing revision's attachment may be the one kept.
type AttachmentsAt interface {
	GetAttachmentAt(ctx context.Context, db, id, name, rev string) (*Attachment, error)
}

// Attachment is an open attachment body.
type Attachment struct {
	ContentType string
	Length      int64
	Digest      string // as the engine reports it ("md5-<base64>")
	Body        io.ReadCloser
}
