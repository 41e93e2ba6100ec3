package porting

import (
	"context"
	"io"
)

// Store is the persistence portreqd needs. Implementations keep Kazoo's
// document shapes so that data moves between them and Kazoo by copying.
// Errors are domain errors: KindNotFound, KindConflict (a stale revision or
// an existing id), KindUnavailable (the database did not answer).
type Store interface {
	// Ping answers nil only when the database answers.
	Ping(ctx context.Context) error
	Close() error

	AccountStore
	RequestStore
	ClaimStore
	NumberStore
	LedgerStore
}

// AccountStore keeps account documents.
type AccountStore interface {
	// CreateAccount stores a new account; KindConflict when the id exists.
	// It sets a.Rev.
	CreateAccount(ctx context.Context, a *Account) error
	// UpdateAccount replaces the account at a.Rev; KindConflict when the
	// revision is stale. It sets a.Rev.
	UpdateAccount(ctx context.Context, a *Account) error
	GetAccount(ctx context.Context, id string) (*Account, error)
	// AccountByAPIKey finds the account owning key; KindNotFound if none.
	AccountByAPIKey(ctx context.Context, key string) (*Account, error)
	// AccountsByRealm lists the ids of the undeleted accounts whose SIP
	// realm is realm, compared without regard to case (Kazoo's
	// accounts/listing_by_realm keys on the lower-cased realm).
	AccountsByRealm(ctx context.Context, realm string) ([]string, error)
	// ChildAccounts lists the direct children of id, ordered by name then id.
	ChildAccounts(ctx context.Context, id string) ([]*Account, error)
	// DescendantAccounts lists every account below id (not id itself),
	// ordered by name then id.
	DescendantAccounts(ctx context.Context, id string) ([]*Account, error)
	// MasterAccount is the oldest super-duper admin root account (ties by
	// id); KindNotFound when none exists yet.
	MasterAccount(ctx context.Context) (*Account, error)
	// WhitelabelPortAuthority is port.authority of account id's whitelabel
	// document (Kazoo 4.3 keeps the reseller's choice of port authority
	// there, in the account's database), as a raw account id; "" when the
	// document, or the member, is missing or names no account id.
	WhitelabelPortAuthority(ctx context.Context, id string) (string, error)
	// PutAccountAttachment streams body into attachment name of account id
	// at rev (KindConflict when stale) and returns the new revision.
	PutAccountAttachment(ctx context.Context, id, rev, name, contentType string, body io.Reader) (string, error)
	// GetAccountAttachment opens attachment name of account id.
	GetAccountAttachment(ctx context.Context, id, name string) (*AttachmentReader, error)
}
