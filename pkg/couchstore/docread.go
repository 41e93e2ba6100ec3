package couchstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"

	kivik "github.com/go-kivik/kivik/v4"
	"github.com/go-kivik/kivik/v4/couchdb/chttp"

	"github.com/portreqd/portreqd/pkg/porting"
)

var (
	_ porting.RequestDocRevReader = (*Store)(nil)
	_ porting.RequestDocsByNumber = (*Store)(nil)
)

// maxDocBytes bounds a document read into memory. CouchDB refuses documents
// above its max_document_size (8 MB by default); attachments are never
// inlined by a plain GET.
const maxDocBytes = 64 << 20

// readDoc reads document id of database db as CouchDB sends it (one GET,
// the body read once, no JSON decoding). With rev set, it asks
// If-None-Match: "rev", and reports unchanged (nil body) when CouchDB
// answers 304: the document's current revision is still rev. A revision
// names one immutable body, so whoever holds rev holds the document, on
// every replica and every node.
//
// kivik's Get decoded every document with encoding/json only to hand it
// back as raw bytes (about a tenth of portreqd's CPU under a read load),
// and could not ask for a 304.
func (s *Store) readDoc(ctx context.Context, db, id, rev string) (body []byte, unchanged bool, err error) {
	path := "/" + url.PathEscape(s.prefix+db) + "/" + chttp.EncodeDocID(id)
	// Built here rather than by chttp.DoReq, which parses and prints the
	// URL twice and formats its User-Agent on every request: a few percent
	// of portreqd's CPU on the hottest read. The client is chttp's (cookie
	// session, plusEscaper, the shared transport).
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.docBase+path, nil)
	if err != nil {
		return nil, false, err
	}
	req.Header = http.Header{"Accept": {"application/json"}, "User-Agent": {userAgent}}
	if rev != "" {
		req.Header["If-None-Match"] = []string{`"` + rev + `"`}
	}
	resp, err := s.raw.Client.Do(req)
	if err != nil {
		return nil, false, transportError{err}
	}
	defer chttp.CloseBody(resp.Body)
	if err := chttp.ResponseError(resp); err != nil {
		return nil, false, err
	}
	if resp.StatusCode == http.StatusNotModified && rev != "" {
		return nil, true, nil
	}
	body, err = readBody(resp, maxDocBytes)
	if err != nil {
		return nil, false, transportError{err}
	}
	return body, false, nil
}

// userAgent is what chttp sends, computed once.
var userAgent = fmt.Sprintf("Kivik/%s (Language=%s; Platform=%s/%s) portreqd",
	kivik.Version, runtime.Version(), runtime.GOARCH, runtime.GOOS)

// transportError is a request that got no answer (or a cut one): 502, as
// chttp reports it, which storeErr makes "datastore unavailable".
type transportError struct{ err error }

func (e transportError) Error() string   { return e.err.Error() }
func (e transportError) Unwrap() error   { return e.err }
func (e transportError) HTTPStatus() int { return http.StatusBadGateway }

// serverBase is the CouchDB URL as chttp addresses it (http:// when no
// scheme is given), without credentials, query or trailing slash.
func serverBase(raw string) string {
	if !strings.HasPrefix(raw, "http://") && !strings.HasPrefix(raw, "https://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "" // Open fails on the same URL first
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return strings.TrimSuffix(u.String(), "/")
}

// readBody reads an answer whole into a slice sized by Content-Length when
// the server sent one.
func readBody(resp *http.Response, limit int64) ([]byte, error) {
	if n := resp.ContentLength; n >= 0 && n <= limit {
		b := make([]byte, n)
		if _, err := io.ReadFull(resp.Body, b); err != nil {
			return nil, err
		}
		return b, nil
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, errors.New("couchstore: answer larger than " + strconv.FormatInt(limit, 10) + " bytes")
	}
	return b, nil
}

// GetRequestDocUnlessRev reads port request id like GetRequestDoc, unless
// its current revision is rev (the caller holds that revision decoded):
// then it answers unchanged, and CouchDB sends no body (304).
func (s *Store) GetRequestDocUnlessRev(ctx context.Context, id, rev string) ([]byte, bool, error) {
	if id == "" || strings.HasPrefix(id, "_") {
		return nil, false, porting.NotFound(id)
	}
	raw, unchanged, err := s.readDoc(ctx, dbPortRequests, id, rev)
	if err != nil {
		return nil, false, storeErr(err, id)
	}
	return raw, unchanged, nil
}
