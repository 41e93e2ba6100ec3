package kazoo

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/pkg/sites"
)

// ResolveRequestConflict merges the live revisions of port request id when
// it has more than one (porting.MergeRequestLeaves): the merge is written
// over its base revision, attachments another revision wins are copied in
// from that revision, and the other revisions are deleted. It returns nil
// when the request is not in conflict. Every step is a write of fixed
// content over a fixed revision, so two sites resolving one conflict at
// once write the same revisions, and a resolution cut off halfway is
// finished by the next one.
func (s *Store) ResolveRequestConflict(ctx context.Context, id string) (*porting.MergedRequest, error) {
	db := s.db(dbPortRequests)
	live, err := s.liveLeaves(ctx, db, id)
	if err != nil {
		return nil, storeErr(err, id)
	}
	if len(live) < 2 {
		return nil, nil
	}
	m, err := porting.MergeRequestLeaves(live)
	if err != nil {
		return nil, porting.Wrap(porting.KindInternal, "merge the revisions of "+id, err)
	}
	// The base revision's attachments it keeps stay as stubs; the others
	// are copied in once the merge is written.
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(m.Doc, &doc); err != nil {
		return nil, porting.Wrap(porting.KindInternal, "merge", err)
	}
	stubs := map[string]json.RawMessage{}
	var base struct {
		Attachments map[string]json.RawMessage `json:"_attachments"`
	}
	for _, l := range live {
		if l.Rev == m.Base {
			_ = json.Unmarshal(l.Doc, &base)
		}
	}
	for name, stub := range base.Attachments {
		if m.Attachments[name] == m.Base {
			stubs[name] = stub
		}
	}
	if len(stubs) > 0 {
		doc["_attachments"] = mustJSON(stubs)
	}
	body, err := json.Marshal(doc)
	if err != nil {
		return nil, porting.Wrap(porting.KindInternal, "merge", err)
	}
	rev, err := s.eng.Put(ctx, db, id, body)
	if err != nil {
		return nil, storeErr(err, id)
	}
	for name, from := range m.Attachments {
		if from == m.Base {
			continue
		}
		if rev, err = s.copyAttachment(ctx, db, id, name, from, rev); err != nil {
			return nil, err
		}
	}
	for _, l := range live {
		if l.Rev == m.Base {
			continue
		}
		if _, err := s.eng.Delete(ctx, db, id, l.Rev); err != nil && !errors.Is(err, engine.ErrNotFound) && !errors.Is(err, engine.ErrConflict) {
			return nil, storeErr(err, id)
		}
	}
	return m, nil
}

// ResolveAccountConflict keeps the revision of account id modified last
// (porting.LastModifiedLeaf) and deletes its other live revisions, in the
// accounts database and in the account's own database alike. It returns
// the revisions it deleted, and whether the account's own copy stands at
// an older write than the accounts copy: replication has not brought its
// conflicting revision yet, and the account is worth checking again.
func (s *Store) ResolveAccountConflict(ctx context.Context, id string) (deleted []string, behind bool, err error) {
	return s.keepLastModified(ctx, dbAccounts, id, func([]byte) string { return porting.AccountDB(id) })
}

// keepLastModified resolves document id in db and in its second copy (the
// database second names from the revision kept; "" for none) by
// porting.LastModifiedLeaf, deleting the other live revisions of each. It
// returns the revisions deleted, and whether the second copy stands at an
// older write than the first (its conflict not replicated yet).
func (s *Store) keepLastModified(ctx context.Context, db, id string, second func(kept []byte) string) (deleted []string, behind bool, err error) {
	var standing [2]int64 // pvt_modified of what stands in each copy
	var kept []byte       // the first copy's revision kept (nil: none)
	for i, name := range []string{db, ""} {
		if i == 1 {
			if name = second(kept); name == "" {
				break
			}
		}
		live, err := s.liveLeaves(ctx, s.db(name), id)
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return deleted, false, storeErr(err, id)
		}
		keep := porting.LastModifiedLeaf(live)
		for _, l := range live {
			if l.Rev == keep {
				var d struct {
					Modified int64 `json:"pvt_modified"`
				}
				_ = json.Unmarshal(l.Doc, &d)
				standing[i] = d.Modified
				if i == 0 {
					kept = l.Doc
				}
				continue
			}
			if _, err := s.eng.Delete(ctx, s.db(name), id, l.Rev); err != nil && !errors.Is(err, engine.ErrNotFound) && !errors.Is(err, engine.ErrConflict) {
				return deleted, false, storeErr(err, id)
			}
			deleted = append(deleted, name+"@"+l.Rev)
		}
	}
	return deleted, standing[1] != 0 && standing[1] < standing[0], nil
}

// liveLeaves returns the revisions of document id of db that are not
// deletions: more than one is a conflict.
func (s *Store) liveLeaves(ctx context.Context, db, id string) ([]porting.Leaf, error) {
	leaves, err := s.eng.Leaves(ctx, db, id)
	if err != nil {
		return nil, err
	}
	var live []porting.Leaf
	for _, l := range leaves {
		if !l.Deleted {
			live = append(live, porting.Leaf{Rev: l.Rev, Doc: l.Doc})
		}
	}
	return live, nil
}

// ReplicatedFromSites reports whether this CouchDB pulls portreqd's
// databases from other sites (portreqd replicate), through the engine the
// store runs on.
func (s *Store) ReplicatedFromSites(ctx context.Context) (bool, error) {
	return sites.Configured(ctx, s.eng, s.prefix)
}

// copyAttachment copies attachment name as revision from holds it onto the
// document at revision rev, returning the new revision.
func (s *Store) copyAttachment(ctx context.Context, db, id, name, from, rev string) (string, error) {
	at, ok := s.eng.(engine.AttachmentsAt)
	if !ok {
		return "", porting.E(porting.KindInternal, "kazoo: the engine cannot read an attachment of a past revision")
	}
	att, err := at.GetAttachmentAt(ctx, db, id, name, from)
	if err != nil {
		return "", storeErr(err, id)
	}
	defer att.Body.Close()
	newRev, err := s.eng.PutAttachment(ctx, db, id, rev, name, att.ContentType, att.Body)
	if err != nil {
		return "", storeErr(err, id)
	}
	return newRev, nil
}

// ConflictReport is what became of one conflicted document.
type ConflictReport struct {
	DB       string // "port_requests", "accounts", "port_number_claims" or a number database
	ID       string
	Merged   *porting.MergedRequest // a port request's merge
	Dropped  string                 // an account: the revisions deleted, when any
	Rejected []string               // a claim: the requests of this site that lost it
	Err      error                  // the resolution failed; it is tried again
}

// ConflictWatch says how WatchConflicts resolves.
type ConflictWatch struct {
	// Settle is how long a document stays in conflict before it is
	// resolved.
	Settle time.Duration
	// ReconcileClaim settles a number's claim in conflict and rejects
	// this site's requests that lost it (porting.Service.ReconcileClaim);
	// nil leaves claims alone.
	ReconcileClaim func(ctx context.Context, number string) ([]string, error)
	// Report hears of every resolution, failed ones included; nil: none.
	Report func(ConflictReport)
	// NumberSweep is how often the number databases, too many to follow
	// each with a feed, are read for changes since the last pass; 0:
	// DefaultNumberSweep. Their conflicts (Kazoo editing one number at
	// two sites) are rarer and less urgent than claims'.
	NumberSweep time.Duration
}

// WatchConflicts follows the changes of the port requests and the accounts
// from the start (since "0": conflicts made while portreqd was down are
// found too) and resolves each document that has more than one leaf once
// it has stayed in conflict for settle: on a CouchDB cluster a write
// racing another leaves a conflict for a moment, which the engine settles
// itself (cluster.go); only a conflict that outlives that, as replication
// between sites brings, is resolved. Port requests are merged
// (ResolveRequestConflict), accounts keep their last write
// (ResolveAccountConflict). report hears of every resolution, failed ones
// included, which are tried again after settle. It runs until ctx ends,
// or returns the error that stopped a feed; the caller starts it again.
func (s *Store) WatchConflicts(ctx context.Context, cw ConflictWatch) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := &conflictWatch{store: s, ConflictWatch: cw, pending: map[string]bool{}, timers: map[*time.Timer]bool{}}
	defer w.stop()
	dbs := []string{dbPortRequests, dbAccounts}
	if cw.ReconcileClaim != nil {
		dbs = append(dbs, dbClaims)
	}
	errc := make(chan error, len(dbs)+1)
	go func() { errc <- w.sweepNumbers(ctx) }()
	for _, db := range dbs {
		go func() {
			q := engine.ChangesQuery{Since: "0", Continuous: true, AllLeaves: true}
			errc <- s.eng.Changes(ctx, s.db(db), q, func(c engine.Change) error {
				if len(c.Leaves) > 1 && !strings.HasPrefix(c.ID, "_design/") {
					w.later(ctx, db, c.ID, 0)
				}
				return nil
			})
		}()
	}
	err := <-errc
	cancel()
	for range len(dbs) {
		<-errc
	}
	return err
}

// conflictWatch schedules the resolution of conflicted documents.
type conflictWatch struct {
	store *Store
	ConflictWatch

	mu      sync.Mutex
	pending map[string]bool // db + "/" + id
	timers  map[*time.Timer]bool
	stopped bool
	wg      sync.WaitGroup
}

// stop drops the timers not fired yet and waits for resolutions under way.
func (w *conflictWatch) stop() {
	w.mu.Lock()
	w.stopped = true
	for tm := range w.timers {
		if tm.Stop() {
			w.wg.Done()
		}
	}
	w.mu.Unlock()
	w.wg.Wait()
}

// accountFollowUps is how many times, at most, an account (or a number)
// whose conflict was resolved is checked again while its copy in the
// account's own database stands behind the other copy: that copy may
// bring its conflict later, and no feed follows every account database. The waits grow from 2 to 16 times settle.
const accountFollowUps = 8

// later resolves document id of db after settle << min(attempt, 4),
// unless it is scheduled already.
func (w *conflictWatch) later(ctx context.Context, db, id string, attempt int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	key := db + "/" + id
	if w.stopped || w.pending[key] {
		return
	}
	w.pending[key] = true
	w.wg.Add(1)
	var tm *time.Timer
	tm = time.AfterFunc(w.Settle<<min(attempt, 4), func() {
		defer w.wg.Done()
		w.mu.Lock()
		delete(w.timers, tm)
		delete(w.pending, key)
		w.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		r := ConflictReport{DB: db, ID: id}
		behind := false
		switch {
		case db == dbPortRequests:
			r.Merged, r.Err = w.store.ResolveRequestConflict(ctx, id)
		case db == dbClaims:
			r.Rejected, r.Err = w.ReconcileClaim(ctx, id)
		case strings.HasPrefix(db, numbersPrefix):
			var deleted []string
			deleted, behind, r.Err = w.store.ResolveNumberConflict(ctx, db, id)
			r.Dropped = strings.Join(deleted, ", ")
		default:
			var deleted []string
			deleted, behind, r.Err = w.store.ResolveAccountConflict(ctx, id)
			r.Dropped = strings.Join(deleted, ", ")
		}
		if porting.IsKind(r.Err, porting.KindConflict) {
			r.Err = nil // written meanwhile: its change is seen next
		}
		if r.Err != nil && ctx.Err() != nil {
			return // cut short by the watcher's own shutdown: not a failure
		}
		if w.Report != nil && (r.Merged != nil || r.Dropped != "" || len(r.Rejected) > 0 || r.Err != nil) {
			w.Report(r)
		}
		switch {
		case ctx.Err() != nil:
		case r.Err != nil:
			w.later(ctx, db, id, 0)
		case behind && attempt < accountFollowUps:
			w.later(ctx, db, id, attempt+1)
		}
	})
	w.timers[tm] = true
}

// WatchAccounts calls changed with the id of every account document
// written from now on, by this process or any other, here or replicated
// from another site, until ctx ends or the feed fails (its error).
func (s *Store) WatchAccounts(ctx context.Context, changed func(id string)) error {
	q := engine.ChangesQuery{Since: "now", Continuous: true}
	return s.eng.Changes(ctx, s.db(dbAccounts), q, func(c engine.Change) error {
		if !strings.HasPrefix(c.ID, "_design/") {
			changed(c.ID)
		}
		return nil
	})
}

// numbersPrefix starts the name of every number database (numbers/+1202).
const numbersPrefix = "numbers/"

// DefaultNumberSweep is ConflictWatch.NumberSweep's default.
const DefaultNumberSweep = time.Minute

// sweepNumbers schedules the resolution of every number document in
// conflict, reading the changes of every number database from the start
// and then, every NumberSweep, those since.
func (w *conflictWatch) sweepNumbers(ctx context.Context) error {
	since := map[string]string{}
	every := w.NumberSweep
	if every <= 0 {
		every = DefaultNumberSweep
	}
	for {
		names, err := w.store.eng.AllDBs(ctx)
		if err != nil {
			return err
		}
		for _, n := range names {
			name, ok := strings.CutPrefix(n, w.store.prefix)
			if !ok || !strings.HasPrefix(name, numbersPrefix) {
				continue
			}
			q := engine.ChangesQuery{Since: since[name], AllLeaves: true}
			err := w.store.eng.Changes(ctx, n, q, func(c engine.Change) error {
				if len(c.Leaves) > 1 && !strings.HasPrefix(c.ID, "_design/") {
					w.later(ctx, name, c.ID, 0)
				}
				if c.Seq != "" {
					since[name] = c.Seq
				}
				return nil
			})
			if err != nil && !errors.Is(err, engine.ErrNotFound) {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
	}
}

// ResolveNumberConflict keeps the revision of number id modified last
// (porting.LastModifiedLeaf) in number database db and in the copy in its
// account's database, as for accounts, and deletes their other live
// revisions. It returns the revisions it deleted, and whether the
// account's copy stands at an older write than the number database's (its
// conflict not replicated yet: worth checking again).
func (s *Store) ResolveNumberConflict(ctx context.Context, db, id string) (deleted []string, behind bool, err error) {
	return s.keepLastModified(ctx, db, id, func(kept []byte) string {
		var d struct {
			AssignedTo string `json:"pvt_assigned_to"`
		}
		if json.Unmarshal(kept, &d) != nil || d.AssignedTo == "" {
			return ""
		}
		return porting.AccountDB(d.AssignedTo)
	})
}
