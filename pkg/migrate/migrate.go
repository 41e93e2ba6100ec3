// Package migrate copies portreqd's data between stores (the embedded store
// and CouchDB, either way). Both keep Kazoo's documents, so a migration is a
// copy of documents database by database; it is idempotent (documents
// already present and equal are skipped) and verifies every copy.
//
// Documents without attachments (nearly all of them) go in batches: one
// bulk read of the batch from the target to find those already equal, one
// bulk write of the others (one transaction on the embedded store, one
// _bulk_docs on CouchDB) and one bulk read to verify them. A document with
// attachments is copied on its own, its attachments streamed.
package migrate

import (
	"context"
	"crypto/md5"
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"github.com/schollz/progressbar/v3"

	"github.com/portreqd/portreqd/pkg/porting"
)

// Report counts what a migration did.
type Report struct {
	// Notes are what the operator should know beyond the counts (a
	// master account replaced).
	Notes       []string
	Databases   int
	Documents   int // read from the source
	Copied      int // written to the target
	Skipped     int // already present and equal
	Verified    int // read back from the target equal to the source
	Attachments int // attachments copied
}

func (r *Report) String() string {
	return fmt.Sprintf("%d databases, %d documents: %d copied (%d attachments), %d already equal, %d verified",
		r.Databases, r.Documents, r.Copied, r.Attachments, r.Skipped, r.Verified)
}

// BatchSize is how many documents without attachments are compared,
// written and verified together.
const BatchSize = 500

// fixedDatabases always exist; the others are found from the documents.
var fixedDatabases = []string{"accounts", "port_requests", "port_number_claims"}

// Copy copies every database portreqd uses from one store to the other,
// reporting progress to progress (nil for none).
func Copy(ctx context.Context, from, to porting.RawStore, progress io.Writer) (*Report, error) {
	note, err := checkMasters(ctx, from, to)
	if err != nil {
		return nil, err
	}
	dbs, err := databases(ctx, from)
	if err != nil {
		return nil, err
	}
	if progress == nil {
		progress = io.Discard
	}
	bar := progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(progress),
		progressbar.OptionSetDescription("copying"),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("docs"),
		progressbar.OptionThrottle(200_000_000),
		progressbar.OptionClearOnFinish(),
	)
	defer bar.Finish()
	rep := &Report{Databases: len(dbs)}
	if note != "" {
		rep.Notes = append(rep.Notes, note)
	}
	for _, db := range dbs {
		bar.Describe("copying " + db)
		batch := make([]*porting.RawDoc, 0, BatchSize)
		err := from.RawDocs(ctx, db, func(doc *porting.RawDoc) error {
			rep.Documents++
			_ = bar.Add(1)
			if len(doc.Attachments) > 0 {
				return copyDoc(ctx, from, to, db, doc, rep)
			}
			batch = append(batch, doc)
			if len(batch) < BatchSize {
				return nil
			}
			err := copyBatch(ctx, to, db, batch, rep)
			batch = batch[:0]
			return err
		})
		if err == nil && len(batch) > 0 {
			err = copyBatch(ctx, to, db, batch, rep)
		}
		if err != nil {
			return rep, fmt.Errorf("%s: %w", db, err)
		}
	}
	return rep, nil
}

// copyBatch copies documents without attachments: those the target lacks
// or holds otherwise are written together and read back together.
func copyBatch(ctx context.Context, to porting.RawStore, db string, batch []*porting.RawDoc, rep *Report) error {
	ids := make([]string, len(batch))
	for i, doc := range batch {
		ids[i] = doc.ID
	}
	have, err := to.RawGetMany(ctx, db, ids)
	if err != nil {
		return err
	}
	differ := batch[:0:0]
	for _, doc := range batch {
		if h := have[doc.ID]; h != nil && h.Equal(doc) {
			rep.Skipped++
		} else {
			differ = append(differ, doc)
		}
	}
	if len(differ) == 0 {
		return nil
	}
	ids = ids[:0]
	for _, doc := range differ {
		ids = append(ids, doc.ID)
	}
	if err := to.RawPutMany(ctx, db, differ); err != nil {
		return fmt.Errorf("copy %d documents (%s to %s): %w", len(differ), ids[0], ids[len(ids)-1], err)
	}
	rep.Copied += len(differ)
	got, err := to.RawGetMany(ctx, db, ids)
	if err != nil {
		return fmt.Errorf("verify %d documents (%s to %s): %w", len(differ), ids[0], ids[len(ids)-1], err)
	}
	for _, doc := range differ {
		switch g := got[doc.ID]; {
		case g == nil:
			return fmt.Errorf("verify %s: missing from the target after the copy", doc.ID)
		case !g.Equal(doc):
			return fmt.Errorf("verify %s: the copy differs from the source", doc.ID)
		}
		rep.Verified++
	}
	return nil
}

// copyDoc copies one document with its attachments.
func copyDoc(ctx context.Context, from, to porting.RawStore, db string, doc *porting.RawDoc, rep *Report) error {
	have, err := to.RawGet(ctx, db, doc.ID)
	switch {
	case err == nil && have.Equal(doc):
		same, err := sameBytes(ctx, from, to, db, doc, have)
		if err != nil {
			return err
		}
		if same {
			rep.Skipped++
			return nil
		}
	case err != nil && !porting.IsKind(err, porting.KindNotFound):
		return err
	}
	open := func(name string) (io.ReadCloser, error) { return from.RawAttachment(ctx, db, doc.ID, name) }
	if err := to.RawPut(ctx, db, doc, open); err != nil {
		return fmt.Errorf("copy %s: %w", doc.ID, err)
	}
	rep.Copied++
	rep.Attachments += len(doc.Attachments)
	got, err := to.RawGet(ctx, db, doc.ID)
	if err != nil {
		return fmt.Errorf("verify %s: %w", doc.ID, err)
	}
	same := got.Equal(doc)
	if same {
		if same, err = sameBytes(ctx, from, to, db, doc, got); err != nil {
			return fmt.Errorf("verify %s: %w", doc.ID, err)
		}
	}
	if !same {
		return fmt.Errorf("verify %s: the copy differs from the source", doc.ID)
	}
	rep.Verified++
	return nil
}

// sameBytes compares, through MD5, the bytes of the attachments whose
// digests cannot tell (porting.DigestsComparable): CouchDB digests the gzip
// of compressible types such as text/plain, the embedded store the bytes.
func sameBytes(ctx context.Context, from, to porting.RawStore, db string, src, dst *porting.RawDoc) (bool, error) {
	for name, a := range src.Attachments {
		if porting.DigestsComparable(a, dst.Attachments[name]) {
			continue
		}
		x, err := md5Of(from.RawAttachment(ctx, db, src.ID, name))
		if err != nil {
			return false, fmt.Errorf("attachment %s of the source: %w", name, err)
		}
		y, err := md5Of(to.RawAttachment(ctx, db, dst.ID, name))
		if err != nil {
			return false, fmt.Errorf("attachment %s of the target: %w", name, err)
		}
		if x != y {
			return false, nil
		}
	}
	return true, nil
}

func md5Of(rc io.ReadCloser, err error) ([md5.Size]byte, error) {
	var sum [md5.Size]byte
	if err != nil {
		return sum, err
	}
	defer rc.Close()
	h := md5.New()
	if _, err := io.Copy(h, rc); err != nil {
		return sum, err
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

// databases lists the fixed databases plus those found from the documents:
// the account database of every account (Kazoo's primary copy of the
// account, and the copies of its numbers), the number database of every
// number on a request, and the monthly ledger database of every
// completion. Database names are derived, never listed, because
// pouchdb-server mangles names holding "/" in _all_dbs.
func databases(ctx context.Context, from porting.RawStore) ([]string, error) {
	found := map[string]bool{}
	err := from.RawDocs(ctx, "accounts", func(doc *porting.RawDoc) error {
		var a struct {
			Type string `json:"pvt_type"`
		}
		if json.Unmarshal(doc.Body, &a) == nil && a.Type == "account" && porting.IsID(doc.ID) {
			found[porting.AccountDB(doc.ID)] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("accounts: %w", err)
	}
	err = from.RawDocs(ctx, "port_requests", func(doc *porting.RawDoc) error {
		var r struct {
			Type        string                     `json:"pvt_type"`
			AccountID   string                     `json:"pvt_account_id"`
			Numbers     map[string]json.RawMessage `json:"numbers"`
			Transitions []porting.Transition       `json:"pvt_transitions"`
		}
		if json.Unmarshal(doc.Body, &r) != nil || r.Type != porting.RequestType {
			return nil
		}
		for n := range r.Numbers {
			found[porting.NumberDB(n)] = true
		}
		for _, t := range r.Transitions {
			if t.Transition.New == porting.Completed && r.AccountID != "" {
				found[porting.LedgerDB(r.AccountID, t.Timestamp)] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("port_requests: %w", err)
	}
	derived := make([]string, 0, len(found))
	for db := range found {
		derived = append(derived, db)
	}
	sort.Strings(derived)
	return append(append([]string{}, fixedDatabases...), derived...), nil
}
