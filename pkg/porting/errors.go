// Package porting is the domain of portreqd: accounts, port requests, their
// states and rules, and the Store interface that persistence implements. It
// imports nothing outside the standard library so that every rule can be read
// and tested without a database or an HTTP server.
package porting

import (
	"errors"
	"fmt"
)

// Kind classifies an error so that the HTTP layer can map it to one status
// code in one table, and stores can report failures without knowing HTTP.
type Kind int

// The error kinds. Each maps to exactly one HTTP status in the API layer.
const (
	KindInternal         Kind = iota // a bug or an unexpected failure
	KindInvalidJSON                  // malformed body
	KindValidation                   // schema failure
	KindInvalidRequest               // number rules, illegal transitions (Kazoo answers 500)
	KindUnauthorized                 // no or bad credentials
	KindForbidden                    // outside the caller's subtree or role
	KindNotFound                     // unknown, foreign or deleted id
	KindMethodNotAllowed             // wrong state for the verb
	KindNotAcceptable                // Accept cannot be satisfied
	KindPaymentRequired              // charges not accepted
	KindConflict                     // document update conflict left after retries
	KindTooLarge                     // body over the configured limit
	KindUnsupportedMedia             // content type refused
	KindUnavailable                  // the store did not answer
	KindTimeout                      // the client did not send its request in time
	KindTooManyRequests              // the client is over its rate
	KindLocked                       // a disabled account or user (Kazoo's 423)
	KindUnprocessable                // an Idempotency-Key used otherwise (422)
)

// Error is a domain error: a kind, a human message and optional structured
// data (Kazoo puts per-field details in the envelope's data).
type Error struct {
	Kind    Kind
	Message string
	Data    any
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %v", e.Message, e.Err)
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// E builds an Error of kind with a message.
func E(kind Kind, message string) *Error { return &Error{Kind: kind, Message: message} }

// Wrap builds an Error of kind that keeps err as its cause.
func Wrap(kind Kind, message string, err error) *Error {
	return &Error{Kind: kind, Message: message, Err: err}
}

// KindOf reports the kind of err, KindInternal when it carries none.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// IsKind reports whether err is a domain error of kind.
func IsKind(err error, kind Kind) bool { return err != nil && KindOf(err) == kind }

// NotFound is the error for an unknown, foreign or deleted id. Kazoo answers
// "bad identifier" with the id as cause; a foreign id must look the same as an
// unknown one so that tenants never learn of each other's documents.
func NotFound(id string) *Error {
	return &Error{Kind: KindNotFound, Message: "bad identifier",
		Data: map[string]any{"cause": id, "message": "bad identifier"}}
}

// Forbidden is the error for acting outside one's subtree or role.
func Forbidden(why string) *Error {
	return &Error{Kind: KindForbidden, Message: "forbidden", Data: map[string]any{"message": why}}
}

// ValidationError is a schema failure on one field, in Kazoo's
// {field:{rule:{message,...}}} shape.
func ValidationError(field, rule, message string, extra map[string]any) *Error {
	detail := map[string]any{"message": message}
	for k, v := range extra {
		detail[k] = v
	}
	return &Error{Kind: KindValidation, Message: "validation error",
		Data: map[string]any{field: map[string]any{rule: detail}}}
}

// InvalidJSON is the error for a body that is not a JSON object.
func InvalidJSON(why string) *Error {
	return &Error{Kind: KindInvalidJSON, Message: "invalid json", Data: map[string]any{"message": why}}
}
