package porting

import (
	"context"
	"io"
)

// RequestStore keeps port request documents and their attachments.
type RequestStore interface {
	// CreateRequest stores a new request; sets r.Rev.
	CreateRequest(ctx context.Context, r *Request) error
	// GetRequest returns the document, deleted or not (the service decides).
	GetRequest(ctx context.Context, id string) (*Request, error)
	// GetRequestDoc returns the document as stored (a copy the caller
	// keeps), deleted or not; KindNotFound when absent. Read paths decode
	// through the cache of package rows instead of the store's decoder.
	GetRequestDoc(ctx context.Context, id string) ([]byte, error)
	// UpdateRequest replaces the document at r.Rev, keeping its attachments;
	// KindConflict when the revision is stale. Sets r.Rev.
	UpdateRequest(ctx context.Context, r *Request) error
	// ListRequests answers a listing from the views alone, newest modified
	// first (one second's rows by id descending), and reports whether rows
	// exist after the last one. Each row names a document with its
	// revision and account as the index saw them (empty when the index
	// does not say): a caller holding the document at that revision need
	// not read it, and RequestDocs reads the others.
	ListRequests(ctx context.Context, q ListQuery) (rows []ListRow, more bool, err error)
	// RequestDocs calls fn with the stored document (deleted or not) of
	// each of ids that exists, in the order of ids. doc is valid only
	// during the call (the embedded store lends its mapped pages); fn
	// copies what it keeps. An error from fn ends the read with it.
	RequestDocs(ctx context.Context, ids []string, fn func(id string, doc []byte) error) error
	// RequestsByNumber lists the undeleted requests carrying number e164.
	RequestsByNumber(ctx context.Context, e164 string) ([]*Request, error)
	// VisitRequestDocsByNumber calls fn with the id and the document as
	// stored of each request carrying e164, deleted ones included, in
	// document id order, so that package rows decodes them through its
	// document cache. doc is valid only during the call.
	VisitRequestDocsByNumber(ctx context.Context, e164 string, fn func(id, doc []byte) error) error
	// GetRequestDocUnlessRev is GetRequestDoc, except that it returns
	// unchanged (and no document) when the current revision of id is rev:
	// a caller holding the request at rev is not sent it again (CouchDB:
	// If-None-Match, 304). The store checks the revision on every read, so
	// the caller's copy is never stale, whichever replica wrote it.
	GetRequestDocUnlessRev(ctx context.Context, id, rev string) (doc []byte, unchanged bool, err error)
	// CompletionIntents lists the requests carrying a completion intent
	// (pvt_completion): completions under way, or cut off half-done.
	CompletionIntents(ctx context.Context) ([]string, error)
	// ActiveHolders returns, per number, the submitted, pending or scheduled
	// requests carrying it (Kazoo's port_in_numbers view). Requests written
	// by Kazoo claim nothing; this is how portreqd still sees them.
	ActiveHolders(ctx context.Context, numbers []string) (map[string][]NumberHolder, error)

	// PutAttachment stores body as attachment name of request id at rev
	// (KindConflict when stale) and returns the new revision. It reads body
	// to the end; the store enforces no size limit itself.
	PutAttachment(ctx context.Context, id, rev, name, contentType string, body io.Reader) (string, error)
	// GetAttachment opens attachment name of request id.
	GetAttachment(ctx context.Context, id, name string) (*AttachmentReader, error)
	// DeleteAttachment removes attachment name at rev; returns the new rev.
	DeleteAttachment(ctx context.Context, id, rev, name string) (string, error)
}

// NumberHolder is an active request carrying a number.
type NumberHolder struct {
	RequestID string
	AccountID string
}

// AttachmentReader is an open attachment.
type AttachmentReader struct {
	ContentType string
	Length      int64
	Body        io.ReadCloser
}

// ListQuery selects requests of one state for a listing.
type ListQuery struct {
	Account     string // the account whose requests are listed
	Descendants bool   // include every account below Account
	// ByAuthority lists the requests whose pvt_port_authority is Account
	// (the authority's queue) instead of the requests of Account.
	ByAuthority bool
	State       State
	// From and To bound pvt_modified (Gregorian seconds, inclusive); zero
	// To means no upper bound, zero From no lower bound.
	From, To int64
	// After resumes a listing: rows strictly after this one in
	// (modified desc, id desc) order.
	After *Cursor
	// Limit bounds the rows returned; 0 means all.
	Limit int
}

// ListRow is a listing's row as its index has it.
type ListRow struct {
	ID        string
	Rev       string // "" when the index does not say
	AccountID string // the request's own account; "" when the index does not say
	Modified  int64
}

// ListRowIDs are the document ids of rows, for RequestDocs.
func ListRowIDs(rows []ListRow) []string {
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	return ids
}

// Cursor is a position in a listing: the last row a page showed.
type Cursor struct {
	Modified int64
	ID       string
}

// ClaimStore keeps one claim document per number held by an active request.
// Creating a document with a fixed id is atomic in CouchDB, so two requests
// (even on two replicas) can never both claim a number.
type ClaimStore interface {
	// GetClaims returns the claims on numbers; unclaimed numbers are absent.
	GetClaims(ctx context.Context, numbers []string) (map[string]*Claim, error)
	// CreateClaims stores each claim, setting its Rev, and returns the
	// numbers that were claimed already (and so not stored by this call).
	CreateClaims(ctx context.Context, claims []*Claim) (taken []string, err error)
	// DeleteClaims removes each claim at its Rev; a claim that changed or
	// vanished meanwhile is left alone.
	DeleteClaims(ctx context.Context, claims []*Claim) error
	// ClaimRevisions returns every live revision of the claims on numbers,
	// read from every copy, conflicting revisions included: a CouchDB
	// cluster can keep a claim write it answered "conflict" to (one shard
	// copy stored it), and that revision may win once the copies merge.
	// Each claim's Rev is its own revision, for DeleteClaims.
	ClaimRevisions(ctx context.Context, numbers []string) (map[string][]*Claim, error)
}

// Claim says that an active port request holds a number.
type Claim struct {
	Number    string `json:"_id"`
	Rev       string `json:"_rev,omitempty"`
	RequestID string `json:"port_request_id"`
	AccountID string `json:"pvt_account_id"`
	Created   int64  `json:"pvt_created"`
	Type      string `json:"pvt_type"` // ClaimType
	// Site is the site the claim was made at, when sites replicate.
	Site string `json:"pvt_site,omitempty"`
	// LostTo is set on the tombstone of a claim that lost its number to
	// another site's: the winning request.
	LostTo string `json:"pvt_lost_to,omitempty"`
}

// ClaimType is pvt_type of a claim document.
const ClaimType = "port_number_claim"

// NumberStore keeps numbers in service, in Kazoo's number databases.
type NumberStore interface {
	// GetNumbers returns the number documents of numbers; absent ones are
	// missing from the map.
	GetNumbers(ctx context.Context, numbers []string) (map[string]*PhoneNumber, error)
	// CreateNumber stores n in its number database; KindConflict if present.
	CreateNumber(ctx context.Context, n *PhoneNumber) error
	// AccountNumbers lists the numbers assigned to account id.
	AccountNumbers(ctx context.Context, accountID string) ([]*PhoneNumber, error)
	// DeleteNumber removes n at n.Rev: a completion that lost its race
	// takes back the numbers it put in service. KindConflict when n
	// changed meanwhile, KindNotFound when it is gone.
	DeleteNumber(ctx context.Context, n *PhoneNumber) error
}

// LedgerStore keeps billing transactions.
type LedgerStore interface {
	// CreateTransaction stores t once; KindConflict when t.ID exists, which
	// makes a retried completion charge only once.
	CreateTransaction(ctx context.Context, t *Transaction) error
	// DeleteTransaction removes t at t.Rev: the debit of a completion that
	// lost its race. KindConflict when t changed meanwhile.
	DeleteTransaction(ctx context.Context, t *Transaction) error
	// GetTransaction reads transaction id of monthly database db;
	// KindNotFound when missing.
	GetTransaction(ctx context.Context, db, id string) (*Transaction, error)
}
