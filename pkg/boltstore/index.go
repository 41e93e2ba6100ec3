package boltstore

import (
	"encoding/json"
	"math"

	bolt "go.etcd.io/bbolt"

	"github.com/portreqd/portreqd/pkg/porting"
)

// The indexes are the views of views/*.json, kept as ordered buckets. Each
// entry's key ends with the document id, so that rows of one view key come
// in id order as CouchDB returns them. Entries are computed from the stored
// JSON exactly as the view's map function reads it (same guards on
// pvt_type and pvt_deleted), so documents written by Kazoo or copied from
// CouchDB are indexed as CouchDB would.
var (
	// listing_by_state: T(account, state) ‖ i64(modified) ‖ id → _rev.
	idxRequestsByState = []byte("_idx/port_requests/by_state")
	// listing_by_descendant_state: T(ancestor, state) ‖ i64(modified) ‖ id
	// → _rev, one entry per member of pvt_tree plus pvt_account_id,
	// deduplicated.
	idxRequestsByDescendant = []byte("_idx/port_requests/by_descendant_state")
	// listing_by_number: T(number) ‖ id → account.
	idxRequestsByNumber = []byte("_idx/port_requests/by_number")
	// port_in_numbers (submitted, pending, scheduled): T(number) ‖ id → account.
	idxActiveNumbers = []byte("_idx/port_requests/active_numbers")
	// all_port_in_numbers: T(account, number) ‖ id.
	idxAccountNumbers = []byte("_idx/port_requests/account_numbers")

	// listing_by_api: T(api key) ‖ id.
	idxAccountsByAPIKey = []byte("_idx/accounts/by_api_key")
	// listing_by_children: T(parent, name) ‖ id.
	idxAccountChildren = []byte("_idx/accounts/children")
	// listing_by_descendants: T(ancestor, name) ‖ id.
	idxAccountDescendants = []byte("_idx/accounts/descendants")
	// listing_by_superduper_admin: i64(created) ‖ id.
	idxAccountSuperDuper = []byte("_idx/accounts/superduper")
)

var indexBuckets = [][]byte{
	idxRequestsByState, idxRequestsByDescendant, idxRequestsByNumber, idxActiveNumbers, idxAccountNumbers,
	idxAccountsByAPIKey, idxAccountChildren, idxAccountDescendants, idxAccountSuperDuper,
}

// entry is one index row.
type entry struct {
	bucket []byte
	key    []byte
	value  []byte
}

// indexers lists, per database, the function computing a document's
// entries. Databases without views have none.
var indexers = map[string]func(id string, doc porting.Fields) []entry{
	dbPortRequests: requestEntries,
	dbAccounts:     accountEntries,
}

// requestEntries mirrors views/port_requests.json.
func requestEntries(id string, doc porting.Fields) []entry {
	if t, _ := jsString(doc["pvt_type"]); t != porting.RequestType || jsTruthy(doc["pvt_deleted"]) {
		return nil
	}
	var out []entry
	account, hasAccount := jsString(doc["pvt_account_id"])
	state, hasState := jsString(doc["pvt_port_state"])
	modified, hasModified := jsNumber(doc["pvt_modified"])
	// A document lacking one of these emits null in CouchDB, which no
	// portreqd query asks for.
	if hasAccount && hasState && hasModified {
		m := keyInt(modified)
		rev, _ := jsString(doc["_rev"])
		out = append(out, entry{idxRequestsByState, tuple{}.str(account).str(state).i64(m).tail(id), []byte(rev)})
		var tree []json.RawMessage
		_ = json.Unmarshal(doc["pvt_tree"], &tree)
		seen := map[string]bool{}
		for _, raw := range append(tree, doc["pvt_account_id"]) {
			a, ok := jsString(raw)
			if !ok || seen[a] {
				continue
			}
			seen[a] = true
			out = append(out, entry{idxRequestsByDescendant, tuple{}.str(a).str(state).i64(m).tail(id), []byte(rev)})
		}
	}
	var numbers map[string]json.RawMessage
	_ = json.Unmarshal(doc["numbers"], &numbers)
	active := state == string(porting.Submitted) || state == string(porting.Pending) || state == string(porting.Scheduled)
	for n := range numbers {
		out = append(out, entry{idxRequestsByNumber, tuple{}.str(n).tail(id), []byte(account)})
		if active {
			out = append(out, entry{idxActiveNumbers, tuple{}.str(n).tail(id), []byte(account)})
		}
		if hasAccount {
			out = append(out, entry{idxAccountNumbers, tuple{}.str(account).str(n).tail(id), nil})
		}
	}
	return out
}

// accountEntries mirrors views/accounts.json.
func accountEntries(id string, doc porting.Fields) []entry {
	if t, _ := jsString(doc["pvt_type"]); t != "account" || jsTruthy(doc["pvt_deleted"]) {
		return nil
	}
	var out []entry
	if key, ok := jsString(doc["pvt_api_key"]); ok && key != "" {
		out = append(out, entry{idxAccountsByAPIKey, tuple{}.str(key).tail(id), nil})
	}
	name, _ := jsString(doc["name"]) // doc.name || ''
	var tree []json.RawMessage
	_ = json.Unmarshal(doc["pvt_tree"], &tree)
	seen := map[string]bool{}
	for i, raw := range tree {
		a, ok := jsString(raw)
		if !ok {
			continue
		}
		if i == len(tree)-1 {
			out = append(out, entry{idxAccountChildren, tuple{}.str(a).str(name).tail(id), nil})
		}
		if !seen[a] {
			seen[a] = true
			out = append(out, entry{idxAccountDescendants, tuple{}.str(a).str(name).tail(id), nil})
		}
	}
	if len(tree) == 0 && jsTruthy(doc["pvt_superduper_admin"]) {
		created := int64(0) // doc.pvt_created || 0
		if f, ok := jsNumber(doc["pvt_created"]); ok {
			created = keyInt(f)
		} else if jsTruthy(doc["pvt_created"]) {
			created = math.MaxInt64 // a string sorts after every number
		}
		out = append(out, entry{idxAccountSuperDuper, tuple{}.i64(created).tail(id), nil})
	}
	return out
}

// reindex replaces the entries of document id of db computed from old
// (nil: none) with those computed from doc (nil: deleted), touching only
// the entries that differ.
func reindex(tx *bolt.Tx, db, id string, old, doc porting.Fields) error {
	f := indexers[db]
	if f == nil {
		return nil
	}
	var before, now []entry
	if old != nil {
		before = f(id, old)
	}
	if doc != nil {
		now = f(id, doc)
	}
	keep := make(map[string]string, len(before))
	for _, e := range before {
		keep[string(e.bucket)+"\x00"+string(e.key)] = string(e.value)
	}
	for _, e := range now {
		k := string(e.bucket) + "\x00" + string(e.key)
		if v, ok := keep[k]; ok && v == string(e.value) {
			delete(keep, k)
			continue
		}
		delete(keep, k)
		if err := tx.Bucket(e.bucket).Put(e.key, e.value); err != nil {
			return err
		}
	}
	for _, e := range before {
		if _, stale := keep[string(e.bucket)+"\x00"+string(e.key)]; stale {
			if err := tx.Bucket(e.bucket).Delete(e.key); err != nil {
				return err
			}
		}
	}
	return nil
}

// rebuildIndexes drops every index and computes it again from the
// documents; it returns the number of documents indexed.
func rebuildIndexes(tx *bolt.Tx) (int, error) {
	for _, name := range indexBuckets {
		if tx.Bucket(name) != nil {
			if err := tx.DeleteBucket(name); err != nil {
				return 0, err
			}
		}
		if _, err := tx.CreateBucket(name); err != nil {
			return 0, err
		}
	}
	n := 0
	for db := range indexers {
		b := tx.Bucket([]byte(db))
		if b == nil {
			continue
		}
		err := b.ForEach(func(k, v []byte) error {
			var doc porting.Fields
			if err := json.Unmarshal(v, &doc); err != nil {
				return nil // unreadable documents are in no view
			}
			n++
			return reindex(tx, db, string(k), nil, doc)
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
