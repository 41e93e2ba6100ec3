package couch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/go-kivik/kivik/v4/couchdb/chttp"

	"github.com/portreqd/portreqd/pkg/engine"
)

// Query and AllDocs read their rows here rather than through kivik's
// ResultSet, for two costs measured on the store portreqd had before the engines (couchstore):
//
//   - kivik runs encoding/json over every document three or four times
//     (find the row, decode it, re-decode each member into the caller's
//     value): about 5 ms of CPU per 50-row page with include_docs on a
//     small machine, CPU that CouchDB, on the same cores, needed;
//   - kivik closes the answer before reading it to its end (the "}" after
//     the rows, and the last chunk of CouchDB's chunked answer), and
//     net/http drops a connection whose body was not read to EOF: a query
//     often opened a new TCP connection to CouchDB (4 to 41 of 100 in
//     TestRowsReuseConnections, by timing; here none).
//
// Here one request is sent, its answer read whole (bounded by
// maxRowsBytes) and decoded once by encoding/json into raw members: keys,
// values and documents reach the caller as the bytes CouchDB wrote, never
// decoded into Go values.

// maxRowsBytes bounds an answer of Query or AllDocs held in memory. A page
// of Kazoo's listings is well under a megabyte; an answer past this is a
// query without a limit over a large database, refused rather than
// risking the process.
const maxRowsBytes = 256 << 20

// readRows sends a rows request to path (a view or _all_docs, escaped) and
// hands the rows CouchDB kept to fn. view says that path is a view, where
// reduce applies.
//
// The rows' Key, Value and Doc point into the answer, which is read into a
// buffer of its own and never reused: they stay valid after fn returns
// (bolt's rows may be kept too), at the price that a kept row keeps its
// whole answer in memory.
func (e *Engine) readRows(ctx context.Context, path string, q engine.Query, view bool, fn func(engine.Row) error) error {
	opts := &chttp.Options{Query: rowsParams(q, view), Accept: "application/json", NoGzip: true}
	method := http.MethodGet
	if q.Keys != nil {
		// POST {"keys":[…]}, as kivik sent them: a query string of many
		// keys can pass what a server or proxy accepts in a URL.
		body, err := keysBody(q.Keys)
		if err != nil {
			return err
		}
		method = http.MethodPost
		opts.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		opts.ContentLength = int64(len(body))
	}
	resp, err := e.raw.DoReq(ctx, method, path, opts)
	if err != nil {
		return mapErr(err)
	}
	defer chttp.CloseBody(resp.Body)
	if err := chttp.ResponseError(resp); err != nil {
		return mapErr(err)
	}
	body, err := readAnswer(resp, maxRowsBytes)
	if err != nil {
		return err
	}
	var answer rowsAnswer
	if err := json.Unmarshal(body, &answer); err != nil || answer.Rows == nil {
		return fmt.Errorf("%w: %s: the answer is not a rows answer: %v", engine.ErrUnavailable, path, err)
	}
	reduced := view && q.Reduce
	for i := range answer.Rows {
		if row, ok := answer.Rows[i].keep(reduced); ok {
			if err := fn(row); err != nil {
				return err
			}
		}
	}
	return nil
}

// rowsParams are the query string of q, as kivik wrote it: keys raw JSON,
// document ids as they are, booleans and numbers as text. A view lists
// its map rows (reduce=false) unless q.Reduce asks for the reduction.
func rowsParams(q engine.Query, view bool) url.Values {
	p := url.Values{}
	raw := func(name string, v []byte) {
		if v != nil {
			p.Set(name, string(v))
		}
	}
	raw("key", q.Key)
	raw("startkey", q.StartKey)
	raw("endkey", q.EndKey)
	if q.StartKeyDocID != "" {
		p.Set("startkey_docid", q.StartKeyDocID)
	}
	if q.EndKeyDocID != "" {
		p.Set("endkey_docid", q.EndKeyDocID)
	}
	if q.ExclusiveEnd {
		p.Set("inclusive_end", "false")
	}
	if q.Descending {
		p.Set("descending", "true")
	}
	if q.Limit > 0 {
		p.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Skip > 0 {
		p.Set("skip", strconv.Itoa(q.Skip))
	}
	if q.IncludeDocs {
		p.Set("include_docs", "true")
		if q.AttEncodingInfo {
			p.Set("att_encoding_info", "true")
		}
	}
	if view {
		if q.Reduce {
			if q.Group {
				p.Set("group", "true")
			}
			if q.GroupLevel > 0 {
				p.Set("group_level", strconv.Itoa(q.GroupLevel))
			}
		} else {
			p.Set("reduce", "false")
		}
	}
	return p
}

// keysBody is {"keys":[…]} with each key as given (nil: null). A key that
// is not JSON is the caller's bug, refused before anything is sent.
func keysBody(keys [][]byte) ([]byte, error) {
	n := len(`{"keys":[]}`)
	for _, k := range keys {
		n += max(len(k), len("null")) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, `{"keys":[`...)
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		if k == nil {
			b = append(b, "null"...)
			continue
		}
		if !json.Valid(k) {
			return nil, fmt.Errorf("%w: key %d is not JSON: %q", engine.ErrBadRequest, i, k)
		}
		b = append(b, k...)
	}
	return append(b, "]}"...), nil
}

// readAnswer reads an answer whole, refusing one over limit bytes without
// reading it (the connection is dropped rather than drained).
func readAnswer(resp *http.Response, limit int64) ([]byte, error) {
	tooBig := func() error {
		_ = resp.Body.Close()
		return fmt.Errorf("%w: answer of %s over %d MB: query with a limit", engine.ErrUnavailable, resp.Request.URL.Path, limit>>20)
	}
	if resp.ContentLength > limit {
		return nil, tooBig()
	}
	if n := resp.ContentLength; n >= 0 {
		b := make([]byte, n)
		if _, err := io.ReadFull(resp.Body, b); err != nil {
			return nil, mapErr(err)
		}
		return b, nil
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, mapErr(err)
	}
	if int64(len(b)) > limit {
		return nil, tooBig()
	}
	return b, nil
}

// rowsAnswer is {"total_rows":…,"offset":…,"rows":[…]} with each row's
// members kept as written.
type rowsAnswer struct {
	Rows []rawRow `json:"rows"`
}

// rawRow is one row as the answer wrote it (a member absent: nil).
type rawRow struct {
	ID    *string         `json:"id"`
	Key   json.RawMessage `json:"key"`
	Value json.RawMessage `json:"value"`
	Doc   json.RawMessage `json:"doc"`
	// Error is set on a key of keys= that names no document.
	Error json.RawMessage `json:"error"`
}

// keep turns r into the row handed to the caller, or says to leave it
// out: a row with an "error" member, a row without a key or, but in a
// reduction, which has none, without an id, and the row of a deleted
// document (_all_docs by keys answers one, {"deleted":true} in its value).
// A null doc (deleted since it was indexed) reaches the caller as nil.
func (r *rawRow) keep(reduced bool) (engine.Row, bool) {
	if r.Error != nil || r.Key == nil || ((r.ID == nil || *r.ID == "") && !reduced) {
		return engine.Row{}, false
	}
	if r.Value != nil && bytes.Contains(r.Value, []byte(`"deleted":true`)) {
		var v struct {
			Deleted bool `json:"deleted"`
		}
		if json.Unmarshal(r.Value, &v) == nil && v.Deleted {
			return engine.Row{}, false
		}
	}
	row := engine.Row{Key: r.Key, Value: r.Value, Doc: r.Doc}
	if r.ID != nil {
		row.ID = *r.ID
	}
	if string(row.Doc) == "null" {
		row.Doc = nil
	}
	return row, true
}
