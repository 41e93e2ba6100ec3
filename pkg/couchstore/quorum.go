package couchstore

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	kivik "github.com/go-kivik/kivik/v4"
	"github.com/go-kivik/kivik/v4/couchdb/chttp"

	"github.com/portreqd/portreqd/pkg/porting"
)

// On a CouchDB cluster every shard has several copies (n = 3), and each
// copy takes only one child of a revision. With CouchDB's default quorum
// (w = 2) a write is 201 when two copies took it, 202 "accepted" when one
// did, and 409 when two refused it even though the third took it; a write
// answered 202 or 409 may then still become the winner once internal
// replication turns the copies' children into conflicting revisions, and
// hide an acknowledged one. Measured on a 3-node 3.4.3 cluster (six
// writers racing on one revision through three nodes): the 202 revision
// won over the 201 one in half the races with both; concurrent uploads to
// one port request lost acknowledged attachments. A rule applied after
// the fact by each racer (who keeps, who withdraws) was tried and does not
// hold: a copy that still lacks the parent takes a child of it later, and
// readers build on revisions that are about to be withdrawn.
//
// So on a cluster:
//   - every write is sent with w = n (Store.writeN): 201 means every copy
//     took ours, 409 that none did, and 202 that some did;
//   - portreqd processes never race on one document: an update or deletion
//     is made under a lease on the document (lease.go), so the copies see
//     portreqd's writes of a document one after the other;
//   - fixed-id creates (number claims, numbers, ledger entries) race by
//     design, without lease: the copies decide;
//   - a 202 is settled (a copy down, a create racing, or a writer outside
//     portreqd such as Kazoo): if another live branch parts from ours at our
//     parent, ours is withdrawn (deleted, so that it can never win) and the
//     caller gets KindConflict and starts again from a fresh read, as after
//     a 409. Without such a rival ours is the document; internal
//     replication carries it to the other copies.
// A single node (n = 1) answers 201 or 409 only, and none of this runs.

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
// create; body carries the same _rev) and settles a 202; on a cluster an
// update holds the document's lease. Errors are kivik's or porting's, for
// the caller to map.
func (s *Store) put(ctx context.Context, db, id, parent string, body []byte) (string, error) {
	var rev string
	kind := writeUpdate
	if parent == "" {
		kind = writeCreate
	}
	write := func() error {
		wctx, ws := withWriteStatus(ctx)
		var err error
		if rev, err = s.db(db).Put(wctx, id, json.RawMessage(body), s.writeOpts()...); err != nil {
			return err
		}
		return s.afterWrite(ctx, db, id, rev, kind, ws)
	}
	if parent == "" {
		return rev, write()
	}
	return rev, s.leased(ctx, db, id, write)
}

// remove deletes id of db at rev under the document's lease, settling a
// 202 as put does.
func (s *Store) remove(ctx context.Context, db, id, rev string) error {
	return s.leased(ctx, db, id, func() error {
		wctx, ws := withWriteStatus(ctx)
		newRev, err := s.db(db).Delete(wctx, id, rev, s.writeOpts()...)
		if err != nil {
			return err
		}
		return s.afterWrite(ctx, db, id, newRev, writeDeletion, ws)
	})
}

// afterWrite settles a write that CouchDB accepted without every copy.
func (s *Store) afterWrite(ctx context.Context, db, id, rev string, w writeKind, ws *writeStatus) error {
	if !ws.accepted() {
		return nil
	}
	return s.settle(ctx, db, id, rev, w)
}

// writeKind is what a write did to its document.
type writeKind int

const (
	writeCreate   writeKind = iota // the first revision, or over a deletion
	writeUpdate                    // over a live revision
	writeDeletion                  // a deletion
)

// settle decides a write answered 202: rev, written over its parent (none
// for the first revision of an id). It reads every leaf with its ancestry
// from all copies. A revision already written over ours means ours was
// served and kept: it stands.
//
// Creates race by design (two submits claiming one number), and a 202
// answer comes only once every copy has answered, each having taken one
// create at most: the racers are all there to see, and each decides the
// same way. Ours stands if it ranks first among the revisions that share
// its parent (or, for a new id, among the first revisions), as CouchDB
// ranks winners; otherwise ours is deleted. So exactly one create wins,
// and it is the one CouchDB serves.
//
// Updates and deletions are leased, so a rival sharing our parent is a
// writer outside portreqd (or a lease that expired under a stalled
// holder); a copy that lacked our parent may even take one after our 202.
// There is no order all can agree on, so ours gives way: it is deleted (a
// deletion is simply left, it cannot win over a live revision).
//
// Giving way ends in KindConflict, as a 409 does: the caller starts again
// from a fresh read.
func (s *Store) settle(ctx context.Context, db, id, rev string, w writeKind) error {
	ctx = context.WithoutCancel(ctx)
	leaves, err := s.openRevs(ctx, db, id)
	if err != nil {
		return storeErr(err, id)
	}
	var mine []string // our revision, then its ancestors
	for r, l := range leaves {
		if i := slices.Index(l.ancestors, rev); i >= 0 {
			if r != rev {
				return nil // written over already: ours took
			}
			mine = l.ancestors
		}
	}
	if mine == nil {
		// On no copy that answered: nothing of ours to serve.
		return porting.E(porting.KindConflict, "datastore conflict")
	}
	lost := false
	for r, l := range leaves {
		if r == rev {
			continue
		}
		sib, live := sibling(l, mine)
		switch {
		case sib == "":
		case w == writeCreate:
			lost = lost || ranksFirst(sib, live, rev, true)
		default:
			lost = lost || live
		}
	}
	if !lost {
		return nil
	}
	if w != writeDeletion {
		if _, err := s.db(db).Delete(ctx, id, rev, s.writeOpts()...); err != nil && kivik.HTTPStatus(err) != http.StatusConflict {
			return storeErr(err, id)
		}
	}
	return porting.E(porting.KindConflict, "datastore conflict")
}

// sibling finds, on the branch of leaf l, the revision that shares the
// parent of mine[0] (for a first revision: the branch's first revision),
// and whether it was live as written: a revision with children was, a
// leaf says itself. "" when the branch parted from ours earlier.
func sibling(l leaf, mine []string) (string, bool) {
	for k, a := range l.ancestors {
		var sharesParent bool
		if len(mine) > 1 {
			sharesParent = k+1 < len(l.ancestors) && l.ancestors[k+1] == mine[1]
		} else {
			sharesParent = k == len(l.ancestors)-1 && revGen(a) == revGen(mine[0])
		}
		if sharesParent {
			return a, k > 0 || !l.deleted
		}
	}
	return "", false
}

// ranksFirst reports whether CouchDB would pick revision a (live or a
// deletion) over b as the winner: a live revision over a deletion, then
// the higher generation, then the greater revision id.
func ranksFirst(a string, aLive bool, b string, bLive bool) bool {
	if aLive != bLive {
		return aLive
	}
	if ga, gb := revGen(a), revGen(b); ga != gb {
		return ga > gb
	}
	return a > b
}

// writeOpts are the options of every write: w = n on a cluster.
func (s *Store) writeOpts() []kivik.Option {
	if s.writeN > 1 {
		return []kivik.Option{kivik.Param("w", s.writeN)}
	}
	return nil
}

// writeQuery is writeOpts for requests made without kivik.
func (s *Store) writeQuery() url.Values {
	if s.writeN > 1 {
		return url.Values{"w": {strconv.Itoa(s.writeN)}}
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

// openRevs reads every leaf revision of id with its ancestry (GET
// ?open_revs=all&revs=true), on a cluster from every copy (r = n).
func (s *Store) openRevs(ctx context.Context, db, id string) (map[string]leaf, error) {
	path := "/" + url.PathEscape(s.prefix+db) + "/" + chttp.EncodeDocID(id)
	resp, err := s.raw.DoReq(ctx, http.MethodGet, path, &chttp.Options{
		Query: s.openRevsQuery(),
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

func (s *Store) openRevsQuery() url.Values {
	q := url.Values{"open_revs": {"all"}, "revs": {"true"}}
	if s.writeN > 1 {
		q.Set("r", strconv.Itoa(s.writeN))
	}
	return q
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

// bulkDocs posts docs to _bulk_docs of db (all deletions, or none) and
// returns the per-document answers, those accepted without every copy
// settled: a lost race turns into Error "conflict".
func (s *Store) bulkDocs(ctx context.Context, db string, docs []any, deletions bool) ([]bulkResult, error) {
	body, err := json.Marshal(map[string]any{"docs": docs})
	if err != nil {
		return nil, porting.Wrap(porting.KindInternal, "couchstore: encode _bulk_docs", err)
	}
	path := "/" + url.PathEscape(s.prefix+db) + "/_bulk_docs"
	resp, err := s.raw.DoReq(ctx, http.MethodPost, path, &chttp.Options{
		Query:         s.writeQuery(),
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
		if r.Error != "" || !(r.Accepted || resp.StatusCode == http.StatusAccepted) || strings.HasPrefix(r.ID, "_") {
			continue
		}
		kind := writeCreate
		if deletions {
			kind = writeDeletion
		}
		switch err := s.settle(ctx, db, r.ID, r.Rev, kind); {
		case porting.IsKind(err, porting.KindConflict):
			r.Error, r.Reason = "conflict", "lost to a concurrent write on another shard copy"
		case err != nil:
			return nil, err
		}
	}
	return results, nil
}
