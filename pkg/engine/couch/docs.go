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
	"strings"

	"github.com/go-kivik/kivik/v4/couchdb/chttp"

	"github.com/portreqd/portreqd/pkg/engine"
)

// Get reads id of db as CouchDB answers it (GET /db/id, JSON only).
// o.IfNoneMatch goes as If-None-Match: "<rev>", which CouchDB answers with
// 304 and no body. pouchdb-server ignores it (Express compares the header
// with an ETag of its own, a hash of the body) and CouchDB sends no ETag
// with some answers (conflicts=true on a conflicted document), so a full
// answer's _rev is compared too: the result is the same on every server,
// only the saving of the body is CouchDB's.
//
// A revision check (o.IfNoneMatch alone) may go out with others, as one
// request (revcheck.go).
func (e *Engine) Get(ctx context.Context, db, id string, o engine.GetOptions) ([]byte, error) {
	if id == "" {
		return nil, fmt.Errorf("%w: document id required", engine.ErrBadRequest)
	}
	if o.IfNoneMatch != "" && o == (engine.GetOptions{IfNoneMatch: o.IfNoneMatch}) {
		return e.checkedGet(ctx, db, id, o.IfNoneMatch)
	}
	return e.getDirect(ctx, db, id, o)
}

// getDirect is Get as one GET.
func (e *Engine) getDirect(ctx context.Context, db, id string, o engine.GetOptions) ([]byte, error) {
	q := url.Values{}
	if o.Rev != "" {
		q.Set("rev", o.Rev)
	}
	if o.Conflicts {
		q.Set("conflicts", "true")
	}
	if o.AttEncodingInfo {
		q.Set("att_encoding_info", "true")
	}
	resp, err := e.raw.DoReq(ctx, http.MethodGet, docPath(db, id), &chttp.Options{
		Query:       q,
		Accept:      "application/json",
		IfNoneMatch: o.IfNoneMatch,
	})
	if err != nil {
		return nil, mapErr(err)
	}
	defer chttp.CloseBody(resp.Body)
	if resp.StatusCode == http.StatusNotModified {
		return nil, fmt.Errorf("%w: %s/%s is at %s", engine.ErrNotModified, db, id, o.IfNoneMatch)
	}
	if err := chttp.ResponseError(resp); err != nil {
		return nil, mapErr(err)
	}
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, mapErr(err)
	}
	if !json.Valid(raw) {
		return nil, fmt.Errorf("%w: %s/%s: the answer is not JSON", engine.ErrUnavailable, db, id)
	}
	if o.IfNoneMatch != "" {
		if h, err := headOf(raw); err == nil && h.Rev == o.IfNoneMatch {
			return nil, fmt.Errorf("%w: %s/%s is at %s", engine.ErrNotModified, db, id, o.IfNoneMatch)
		}
	}
	return raw, nil
}

// Leaves reads every leaf of id with its ancestry (open_revs=all,
// revs=true), on a cluster from every copy (r = n).
func (e *Engine) Leaves(ctx context.Context, db, id string) ([]engine.Leaf, error) {
	n, err := e.ensureKnown(ctx, db)
	if err != nil {
		return nil, err
	}
	q := url.Values{"open_revs": {"all"}, "revs": {"true"}}
	if n > 1 {
		q.Set("r", strconv.Itoa(n))
	}
	resp, err := e.raw.DoReq(ctx, http.MethodGet, docPath(db, id), &chttp.Options{
		Query:  q,
		Header: http.Header{"Accept": {"application/json"}},
	})
	if err != nil {
		return nil, mapErr(err)
	}
	defer chttp.CloseBody(resp.Body)
	if err := chttp.ResponseError(resp); err != nil {
		return nil, mapErr(err)
	}
	var rows []struct {
		OK json.RawMessage `json:"ok"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&rows); err != nil {
		return nil, fmt.Errorf("%w: open_revs of %s: %v", engine.ErrUnavailable, id, err)
	}
	out := make([]engine.Leaf, 0, len(rows))
	for _, r := range rows {
		if r.OK == nil {
			continue
		}
		var d struct {
			Rev       string `json:"_rev"`
			Deleted   bool   `json:"_deleted"`
			Revisions struct {
				Start int      `json:"start"`
				IDs   []string `json:"ids"`
			} `json:"_revisions"`
		}
		if err := json.Unmarshal(r.OK, &d); err != nil || d.Rev == "" {
			continue
		}
		l := engine.Leaf{Rev: d.Rev, Deleted: d.Deleted, Doc: r.OK}
		for i, h := range d.Revisions.IDs {
			l.Ancestors = append(l.Ancestors, strconv.Itoa(d.Revisions.Start-i)+"-"+h)
		}
		if len(l.Ancestors) == 0 || l.Ancestors[0] != d.Rev {
			l.Ancestors = append([]string{d.Rev}, l.Ancestors...)
		}
		out = append(out, l)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s", engine.ErrNotFound, id)
	}
	return out, nil
}

// docHead is what a write needs to know of its body.
type docHead struct {
	ID      string `json:"_id"`
	Rev     string `json:"_rev"`
	Deleted bool   `json:"_deleted"`
}

func headOf(doc []byte) (docHead, error) {
	var h docHead
	if err := json.Unmarshal(doc, &h); err != nil {
		return h, fmt.Errorf("%w: document is not a JSON object: %v", engine.ErrBadRequest, err)
	}
	return h, nil
}

func (h docHead) kind() writeKind {
	switch {
	case h.Deleted:
		return writeDeletion
	case h.Rev == "":
		return writeCreate
	default:
		return writeUpdate
	}
}

// Put writes doc as id; on a cluster an update holds the document's lease
// and a 202 is settled (cluster.go).
func (e *Engine) Put(ctx context.Context, db, id string, doc []byte) (string, error) {
	h, err := headOf(doc)
	if err != nil {
		return "", err
	}
	n, err := e.ensureKnown(ctx, db)
	if err != nil {
		return "", err
	}
	var rev string
	write := func() error {
		rev, err = e.putOnce(ctx, n, db, id, doc, h.kind())
		return err
	}
	if h.kind() == writeCreate {
		return rev, write()
	}
	return rev, e.leased(ctx, n, db, id, write)
}

// putOnce is one write of doc, settled on a cluster (n copies); the caller
// holds the lease an update needs.
func (e *Engine) putOnce(ctx context.Context, n int, db, id string, doc []byte, w writeKind) (string, error) {
	wctx, ws := withWriteStatus(ctx)
	rev, err := e.client.DB(db).Put(wctx, id, json.RawMessage(doc), writeOpts(n)...)
	if err != nil {
		if clusterRaceFault(n, err) {
			return "", fmt.Errorf("%w: %v", engine.ErrConflict, err)
		}
		return "", mapErr(err)
	}
	return rev, e.afterWrite(ctx, db, id, rev, w, ws)
}

// Delete writes a deletion of id over rev.
func (e *Engine) Delete(ctx context.Context, db, id, rev string) (string, error) {
	if rev == "" {
		return "", fmt.Errorf("%w: delete %s without a revision", engine.ErrConflict, id)
	}
	n, err := e.ensureKnown(ctx, db)
	if err != nil {
		return "", err
	}
	var newRev string
	err = e.leased(ctx, n, db, id, func() error {
		wctx, ws := withWriteStatus(ctx)
		var err error
		if newRev, err = e.deleteDoc(wctx, n, db, id, rev); err != nil {
			return err
		}
		return e.afterWrite(ctx, db, id, newRev, writeDeletion, ws)
	})
	return newRev, err
}

// deleteDoc sends DELETE /db/id?rev= and reads the new revision from the
// body: kivik takes it from the ETag, which pouchdb-server fills with
// something else.
func (e *Engine) deleteDoc(ctx context.Context, n int, db, id, rev string) (string, error) {
	q := url.Values{"rev": {rev}}
	if n > 1 {
		q.Set("w", strconv.Itoa(n))
	}
	resp, err := e.raw.DoReq(ctx, http.MethodDelete, docPath(db, id), &chttp.Options{Query: q})
	if err != nil {
		return "", mapErr(err)
	}
	defer chttp.CloseBody(resp.Body)
	if err := chttp.ResponseError(resp); err != nil {
		return "", mapErr(err)
	}
	var a struct {
		Rev string `json:"rev"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil || a.Rev == "" {
		return "", fmt.Errorf("%w: delete of %s answered without a revision (%v)", engine.ErrUnavailable, id, err)
	}
	return a.Rev, nil
}

// bulkAnswer is one document's answer of _bulk_docs ("accepted" included,
// which kivik drops).
type bulkAnswer struct {
	ID       string `json:"id"`
	Rev      string `json:"rev"`
	Accepted bool   `json:"accepted"`
	Error    string `json:"error"`
	Reason   string `json:"reason"`
}

// Bulk posts docs to _bulk_docs. Bulk writes take no lease: racing creates
// are settled like single ones, and an update accepted on some copies only
// gives way to a rival.
func (e *Engine) Bulk(ctx context.Context, db string, docs [][]byte) ([]engine.Result, error) {
	if len(docs) == 0 {
		return []engine.Result{}, nil
	}
	n, err := e.ensureKnown(ctx, db)
	if err != nil {
		return nil, err
	}
	heads := make([]docHead, len(docs))
	var buf bytes.Buffer
	buf.WriteString(`{"docs":[`)
	for i, d := range docs {
		if heads[i], err = headOf(d); err != nil {
			return nil, err
		}
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(d)
	}
	buf.WriteString(`]}`)
	body := buf.Bytes()
	var query url.Values
	if n > 1 {
		query = url.Values{"w": {strconv.Itoa(n)}}
	}
	resp, err := e.raw.DoReq(ctx, http.MethodPost, "/"+url.PathEscape(db)+"/_bulk_docs", &chttp.Options{
		Query:         query,
		GetBody:       func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil },
		ContentLength: int64(len(body)),
		NoGzip:        true,
	})
	if err != nil {
		return nil, mapErr(err)
	}
	defer chttp.CloseBody(resp.Body)
	if err := chttp.ResponseError(resp); err != nil {
		return nil, mapErr(err)
	}
	var answers []bulkAnswer
	if err := json.NewDecoder(resp.Body).Decode(&answers); err != nil {
		return nil, fmt.Errorf("%w: _bulk_docs answer of %s: %v", engine.ErrUnavailable, db, err)
	}
	if len(answers) != len(docs) {
		return nil, fmt.Errorf("%w: _bulk_docs of %s answered for %d of %d documents", engine.ErrUnavailable, db, len(answers), len(docs))
	}
	out := make([]engine.Result, len(answers))
	for i, a := range answers {
		out[i] = engine.Result{ID: a.ID, Rev: a.Rev}
		switch {
		case a.Error == "conflict":
			out[i].Err = fmt.Errorf("%w: %s", engine.ErrConflict, a.Reason)
		case a.Error == "forbidden" || a.Error == "bad_request":
			out[i].Err = fmt.Errorf("%w: %s: %s", engine.ErrBadRequest, a.Error, a.Reason)
		case a.Error != "":
			out[i].Err = fmt.Errorf("%w: %s: %s", engine.ErrUnavailable, a.Error, a.Reason)
		case n > 1 && (a.Accepted || resp.StatusCode == http.StatusAccepted) && !strings.HasPrefix(a.ID, "_"):
			out[i].Err = e.settle(ctx, db, a.ID, a.Rev, heads[i].kind())
		}
		if out[i].Err != nil {
			out[i].Rev = ""
		}
	}
	return out, nil
}

// AllDocs reads _all_docs (rows.go): by keys (POST) or by range. Rows of
// missing or deleted keys are left out.
func (e *Engine) AllDocs(ctx context.Context, db string, q engine.Query, fn func(engine.Row) error) error {
	if q.Keys != nil && len(q.Keys) == 0 {
		return nil
	}
	if db == "" {
		return fmt.Errorf("%w: database name required", engine.ErrBadRequest)
	}
	if q.Keys != nil {
		if _, err := e.ensureKnown(ctx, db); err != nil {
			return err
		}
	}
	return e.readRows(ctx, "/"+url.PathEscape(db)+"/_all_docs", q, false, fn)
}

// docPath is /db/id with both escaped as kivik escapes them.
func docPath(db, id string) string {
	return "/" + url.PathEscape(db) + "/" + chttp.EncodeDocID(id)
}

// PutRevision is PUT /db/id?new_edits=false (at w = n on a cluster, so
// that every copy has it when it answers).
func (e *Engine) PutRevision(ctx context.Context, db, id string, doc []byte) error {
	if id == "" {
		return fmt.Errorf("%w: document id required", engine.ErrBadRequest)
	}
	h, err := headOf(doc)
	if err != nil {
		return err
	}
	if h.Rev == "" {
		return fmt.Errorf("%w: %s/%s: PutRevision needs a _rev", engine.ErrBadRequest, db, id)
	}
	n, err := e.ensureKnown(ctx, db)
	if err != nil {
		return err
	}
	q := url.Values{"new_edits": {"false"}}
	if n > 1 {
		q.Set("w", strconv.Itoa(n))
	}
	resp, err := e.raw.DoReq(ctx, http.MethodPut, docPath(db, id), &chttp.Options{
		Query:         q,
		Accept:        "application/json",
		GetBody:       func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(doc)), nil },
		ContentLength: int64(len(doc)),
		ContentType:   "application/json",
		NoGzip:        true,
	})
	if err != nil {
		return mapErr(err)
	}
	defer chttp.CloseBody(resp.Body)
	return mapErr(chttp.ResponseError(resp))
}
