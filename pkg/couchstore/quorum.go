package couchstore

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"

	kivik "github.com/go-kivik/kivik/v4"
	"github.com/go-kivik/kivik/v4/couchdb/chttp"

	"github.com/portreqd/portreqd/pkg/porting"
)

// On a CouchDB cluster every shard has several copies (n = 3). By default
// a write is answered 201 when a quorum of copies (w = 2 of 3) took it, 202
// "accepted" when fewer did, and 409 when a quorum refused it, even if one
// copy took it. Each copy takes only one child of a revision, so of two
// writers racing on one revision (or on one new document id) at most one
// reaches a quorum, but the others may still have landed on a copy, and
// CouchDB's internal replication then turns them into conflicting
// revisions, of which CouchDB may pick an unacknowledged one as the winner.
// Measured on a 3-node 3.4.3 cluster before this file existed: two submits
// of one number both succeeded, acknowledged uploads vanished.
//
// Creates of fixed ids (number claims, numbers, ledger entries) are
// written with w = n (Store.writeN): 201 then means every copy took ours and
// no rival exists anywhere, 409 that none did, and every partial write is a
// 202, settled below; a claim whose every revision ends deleted is simply
// unclaimed. Updates keep CouchDB's quorum (w = n would make a race that
// splits the copies a loss for everyone, and a document must never end
// with every revision deleted): a 202 is settled, and on a cluster the
// winner of a race removes the leftovers of the losers (sweep). A single
// node (n = 1) answers 201 or 409 only, and none of this runs.

// writeStatus carries, in a request's context, the HTTP status of the
// write: kivik returns the new revision, not whether it was 201 or 202.
type writeStatus struct{ code atomic.Int32 }

type writeStatusKey struct{}

func withWriteStatus(ctx context.Context) (context.Context, *writeStatus) {
	ws := &writeStatus{}
	return context.WithValue(ctx, writeStatusKey{}, ws), ws
}

// recordWriteStatus notes the status of a response to a request made with a context
// from withWriteStatus.
func recordWriteStatus(req *http.Request, resp *http.Response) {
	if resp == nil {
		return
	}
	if ws, ok := req.Context().Value(writeStatusKey{}).(*writeStatus); ok {
		ws.code.Store(int32(resp.StatusCode))
	}
}

func (w *writeStatus) accepted() bool { return w.code.Load() == http.StatusAccepted }

// put writes body as document id of db over revision parent ("" for a
// create; body carries the same _rev) and settles an answer without
// quorum. Errors are kivik's, for the caller to map.
func (s *Store) put(ctx context.Context, db, id, parent string, body []byte) (string, error) {
	wctx, ws := withWriteStatus(ctx)
	var opts []kivik.Option
	if parent == "" {
		opts = s.createOpts()
	}
	rev, err := s.db(db).Put(wctx, id, json.RawMessage(body), opts...)
	if err != nil {
		return rev, err
	}
	return rev, s.afterWrite(ctx, db, id, rev, parent, ws)
}

// afterWrite settles a write without quorum, and on a cluster has the
// winner of an update sweep away its rivals.
func (s *Store) afterWrite(ctx context.Context, db, id, rev, parent string, ws *writeStatus) error {
	switch {
	case ws.accepted():
		return s.settle(ctx, db, id, rev, parent)
	case s.writeN > 1 && parent != "":
		s.sweep(ctx, db, id, rev)
	}
	return nil
}

// settle decides a write CouchDB accepted without a quorum: rev, written
// over parent ("" for a create). A live revision of our generation or later
// that is not on our branch is a rival: another writer won, or may have
// won, the race (a quorum read may not even show ours, which sits on a
// minority of the copies). Then the caller gets KindConflict and starts
// again from a fresh read, and ours is deleted so that it can never become
// the winner and hide an acknowledged write. An update's revision is
// deleted only when a rival would win over it anyway (CouchDB's order:
// generation, then revision id), so that some live revision always
// remains; when ours would win, the winner's sweep removes it. Without a
// rival ours is the document: internal replication carries it to the other
// copies. Older live revisions off our branch are leftovers of earlier
// conflicts, which CouchDB never picks over a later generation.
func (s *Store) settle(ctx context.Context, db, id, rev, parent string) error {
	ctx = context.WithoutCancel(ctx)
	leaves, err := s.openRevs(ctx, db, id)
	if err != nil {
		return storeErr(err, id)
	}
	gen := revGen(rev)
	rival, outranked := false, false
	for r, l := range leaves {
		switch {
		case r == rev, l.deleted, revGen(r) < gen:
		case contains(l.ancestors, rev):
			return nil // written over already: ours took
		default:
			rival = true
			outranked = outranked || revAfter(r, rev)
		}
	}
	if !rival {
		return nil
	}
	if parent == "" || outranked {
		if _, err := s.db(db).Delete(ctx, id, rev); err != nil && kivik.HTTPStatus(err) != http.StatusConflict {
			return storeErr(err, id)
		}
	}
	return porting.E(porting.KindConflict, "datastore conflict")
}

// sweep deletes the live revisions of our generation beside rev, which a
// quorum acknowledged: they belong to writers that lost the race to it
// (answered 202 or 409 while one copy took them) and would otherwise
// compete with it for winner. Best effort: a leftover that shows up later
// is swept by the next write of the document.
func (s *Store) sweep(ctx context.Context, db, id, rev string) {
	ctx = context.WithoutCancel(ctx)
	leaves, err := s.openRevs(ctx, db, id)
	if err != nil {
		return
	}
	for r, l := range leaves {
		if r != rev && !l.deleted && revGen(r) >= revGen(rev) && !contains(l.ancestors, rev) {
			_, _ = s.db(db).Delete(ctx, id, r)
		}
	}
}

// revAfter reports whether CouchDB ranks revision a above b as a winner:
// the higher generation, then the greater revision id.
func revAfter(a, b string) bool {
	if ga, gb := revGen(a), revGen(b); ga != gb {
		return ga > gb
	}
	return a > b
}

// createOpts are the options of a create of a fixed id: w = n on a
// cluster.
func (s *Store) createOpts() []kivik.Option {
	if s.writeN > 1 {
		return []kivik.Option{kivik.Param("w", s.writeN)}
	}
	return nil
}

// replicas reads n, the number of copies of each shard, from the info of
// db ("cluster":{"n":3,…}); 1 when the server does not say (a single node,
// pouchdb-server).
func (s *Store) replicas(ctx context.Context, db string) (int, error) {
	resp, err := s.raw.DoReq(ctx, http.MethodGet, "/"+url.PathEscape(s.prefix+db), nil)
	if err != nil {
		return 0, err
	}
	defer chttp.CloseBody(resp.Body)
	if err := chttp.ResponseError(resp); err != nil {
		return 0, err
	}
	var info struct {
		Cluster struct {
			N int `json:"n"`
		} `json:"cluster"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		return 0, err
	}
	return max(info.Cluster.N, 1), nil
}

// revGen is the generation of a revision id ("3-abc" → 3).
func revGen(rev string) int {
	g, _, _ := strings.Cut(rev, "-")
	n, _ := strconv.Atoi(g)
	return n
}

// leaf is one leaf revision of a document and its ancestry, newest first.
type leaf struct {
	deleted   bool
	ancestors []string // full revision ids, the leaf's own first
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// openRevs reads every leaf revision of id (GET ?open_revs=all&revs=true,
// a quorum read on a cluster) with its ancestry.
func (s *Store) openRevs(ctx context.Context, db, id string) (map[string]leaf, error) {
	path := "/" + url.PathEscape(s.prefix+db) + "/" + chttp.EncodeDocID(id)
	resp, err := s.raw.DoReq(ctx, http.MethodGet, path, &chttp.Options{
		Query: url.Values{"open_revs": {"all"}, "revs": {"true"}},
	})
	if err != nil {
		return nil, err
	}
	defer chttp.CloseBody(resp.Body)
	if err := chttp.ResponseError(resp); err != nil {
		return nil, err
	}
	var rows []struct {
		OK *struct {
			Rev       string `json:"_rev"`
			Deleted   bool   `json:"_deleted"`
			Revisions struct {
				Start int      `json:"start"`
				IDs   []string `json:"ids"`
			} `json:"_revisions"`
		} `json:"ok"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&rows); err != nil {
		return nil, porting.Wrap(porting.KindInternal, "couchstore: open_revs of "+id, err)
	}
	out := make(map[string]leaf, len(rows))
	for _, r := range rows {
		if r.OK == nil || r.OK.Rev == "" {
			continue
		}
		l := leaf{deleted: r.OK.Deleted}
		for i, h := range r.OK.Revisions.IDs {
			l.ancestors = append(l.ancestors, strconv.Itoa(r.OK.Revisions.Start-i)+"-"+h)
		}
		if len(l.ancestors) == 0 || l.ancestors[0] != r.OK.Rev {
			l.ancestors = append([]string{r.OK.Rev}, l.ancestors...)
		}
		out[r.OK.Rev] = l
	}
	return out, nil
}

// bulkResult is one document's answer of _bulk_docs, "accepted" included
// (kivik drops it).
type bulkResult struct {
	ID       string `json:"id"`
	Rev      string `json:"rev"`
	Accepted bool   `json:"accepted"`
	Error    string `json:"error"`
	Reason   string `json:"reason"`
}

// bulkDocs posts docs to _bulk_docs of db and returns the per-document
// answers, documents accepted without quorum settled: a lost race turns
// into Error "conflict". Only creates are settled: a deletion that reached
// a minority of the copies gets there by internal replication.
func (s *Store) bulkDocs(ctx context.Context, db string, docs []any, creates bool) ([]bulkResult, error) {
	body, err := json.Marshal(map[string]any{"docs": docs})
	if err != nil {
		return nil, porting.Wrap(porting.KindInternal, "couchstore: encode _bulk_docs", err)
	}
	path := "/" + url.PathEscape(s.prefix+db) + "/_bulk_docs"
	var query url.Values
	if creates && s.writeN > 1 {
		query = url.Values{"w": {strconv.Itoa(s.writeN)}}
	}
	resp, err := s.raw.DoReq(ctx, http.MethodPost, path, &chttp.Options{
		Query:         query,
		GetBody:       func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil },
		ContentLength: int64(len(body)),
		NoGzip:        true,
	})
	if err != nil {
		return nil, storeErr(err, "")
	}
	defer chttp.CloseBody(resp.Body)
	if err := chttp.ResponseError(resp); err != nil {
		return nil, storeErr(err, "")
	}
	var results []bulkResult
	if err := json.NewDecoder(resp.Body).Decode(&results); err != nil {
		return nil, porting.Wrap(porting.KindInternal, "couchstore: _bulk_docs answer of "+db, err)
	}
	for i := range results {
		r := &results[i]
		if !creates || r.Error != "" || !(r.Accepted || resp.StatusCode == http.StatusAccepted) || strings.HasPrefix(r.ID, "_") {
			continue
		}
		switch err := s.settle(ctx, db, r.ID, r.Rev, ""); {
		case porting.IsKind(err, porting.KindConflict):
			r.Error, r.Reason = "conflict", "lost to a concurrent write on another shard copy"
		case err != nil:
			return nil, err
		}
	}
	return results, nil
}
