package couchstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/go-kivik/kivik/v4/couchdb/chttp"
)

// queryRows reads a view with include_docs and calls fn for each row with
// its id, key and doc as raw JSON (doc is nil when the document is gone).
// The slices point into the answer and are valid only during the call.
//
// kivik's row iterator runs encoding/json over every document three or
// four times (find the row, decode it, re-decode the doc into the caller's
// value): profiled at ~5 ms of CPU per 50-row page, which on a small
// machine is CPU the database itself needed. This reads the answer once
// and walks it once.
func (s *Store) queryRows(ctx context.Context, v viewRef, params url.Values, fn func(id string, key, doc []byte) error) error {
	path := "/" + url.PathEscape(s.prefix+v.DB) + "/_design/" + url.PathEscape(v.Design) + "/_view/" + url.PathEscape(v.View)
	resp, err := s.raw.DoReq(ctx, http.MethodGet, path, &chttp.Options{Query: params})
	if err != nil {
		return err
	}
	defer chttp.CloseBody(resp.Body)
	if err := chttp.ResponseError(resp); err != nil {
		return err
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	return walkRows(body, fn)
}

var errBadRows = errors.New("couchstore: malformed view answer")

// walkRows walks {"rows":[{"id":…,"key":…,"value":…,"doc":…},…],…}.
func walkRows(b []byte, fn func(id string, key, doc []byte) error) error {
	w := &walker{b: b}
	if !w.consume('{') {
		return errBadRows
	}
	if w.consume('}') {
		return nil
	}
	for {
		k, ok := w.key()
		if !ok {
			return errBadRows
		}
		if string(k) == "rows" {
			if err := w.rows(fn); err != nil {
				return err
			}
		} else if !w.skip() {
			return errBadRows
		}
		if w.consume(',') {
			continue
		}
		if w.consume('}') {
			return nil
		}
		return errBadRows
	}
}

func (w *walker) rows(fn func(id string, key, doc []byte) error) error {
	if !w.consume('[') {
		return errBadRows
	}
	if w.consume(']') {
		return nil
	}
	for {
		if !w.consume('{') {
			return errBadRows
		}
		var id string
		var key, doc []byte
		if !w.consume('}') {
			for {
				k, ok := w.key()
				if !ok {
					return errBadRows
				}
				from := w.ws()
				if !w.skip() {
					return errBadRows
				}
				val := w.b[from:w.i]
				switch string(k) {
				case "id":
					if err := json.Unmarshal(val, &id); err != nil {
						return fmt.Errorf("%w: row id: %v", errBadRows, err)
					}
				case "key":
					key = val
				case "doc":
					if string(val) != "null" {
						doc = val
					}
				}
				if w.consume(',') {
					continue
				}
				if w.consume('}') {
					break
				}
				return errBadRows
			}
		}
		if err := fn(id, key, doc); err != nil {
			return err
		}
		if w.consume(',') {
			continue
		}
		if w.consume(']') {
			return nil
		}
		return errBadRows
	}
}

// walker finds the extent of JSON values without decoding them. It trusts
// the server for validity (documents are decoded, and checked, later); it
// only has to never read out of bounds and never loop.
type walker struct {
	b []byte
	i int
}

func (w *walker) ws() int {
	for w.i < len(w.b) {
		switch w.b[w.i] {
		case ' ', '\t', '\n', '\r':
			w.i++
		default:
			return w.i
		}
	}
	return w.i
}

func (w *walker) consume(c byte) bool {
	w.ws()
	if w.i < len(w.b) && w.b[w.i] == c {
		w.i++
		return true
	}
	return false
}

// key reads `"name":` and returns name as written (escapes left alone:
// the names looked for have none).
func (w *walker) key() ([]byte, bool) {
	w.ws()
	from := w.i
	if !w.str() {
		return nil, false
	}
	k := w.b[from+1 : w.i-1]
	return k, w.consume(':')
}

// str skips a string starting at w.i.
func (w *walker) str() bool {
	if w.i >= len(w.b) || w.b[w.i] != '"' {
		return false
	}
	for w.i++; w.i < len(w.b); w.i++ {
		switch w.b[w.i] {
		case '\\':
			w.i++
		case '"':
			w.i++
			return true
		}
	}
	return false
}

// skip skips one value.
func (w *walker) skip() bool {
	w.ws()
	if w.i >= len(w.b) {
		return false
	}
	switch w.b[w.i] {
	case '"':
		return w.str()
	case '{', '[':
		depth := 0
		for w.i < len(w.b) {
			switch w.b[w.i] {
			case '"':
				if !w.str() {
					return false
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					w.i++
					return true
				}
			}
			w.i++
		}
		return false
	default: // number, true, false, null
		from := w.i
		for w.i < len(w.b) {
			switch w.b[w.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return w.i > from
			}
			w.i++
		}
		return w.i > from
	}
}
