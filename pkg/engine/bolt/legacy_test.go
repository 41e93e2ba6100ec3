package bolt_test

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	bbolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/engine/bolt"
)

// The upgrade is tested on a file the old store wrote:
// testdata/legacy-v1.db, made by TestWriteLegacyFixture in pkg/boltstore
// (which says what it holds; the package is gone, its last version is in
// commit e19cd3b). The revisions, bodies and digests below are the ones
// the old store wrote.
const (
	customer = "6b71cb17a3e2c4d1f0a9b8c7d6e50003"
	ledgerDB = "account/6b/71/cb17a3e2c4d1f0a9b8c7d6e50003-202601"

	revCustomer    = "2-a883d8e04f9179de8e402e9efe9b5672"
	revCompleted   = "5-8d1537b1cce3e5d0c8ee135dfa549e15"
	revSubmitted   = "3-d776e7f369331d491b5f4c377002e280"
	revUnconfirmed = "1-6dd8fd3fc0c58c7e346d73b66d755c12"
	revReleased    = "2-d04243b84a823100569d652781581754" // deleted claim +12025550199
	revTakenBack   = "2-b6d8f9b427dc1209acafb5cfdddef014" // deleted number +13125550100

	billLen    = 100_000
	billDigest = "md5-KMtZXBWOm3TjSuno2nEP/w=="
	notes      = "Port on a weekday, please.\n"
	notesDig   = "md5-GC0kgGpuQue4YttziiwGaw=="
)

// legacyDir copies the fixture into a new data directory and returns the
// paths of the old file and of the engine's.
func legacyDir(t *testing.T) (legacy, eng string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "legacy-v1.db"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	legacy = filepath.Join(dir, "portreqd.db")
	if err := os.WriteFile(legacy, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return legacy, filepath.Join(dir, "engine.db")
}

// upgrade runs UpgradeLegacy, which must succeed.
func upgrade(t *testing.T, legacy, eng string, log *zap.Logger) *bolt.UpgradeReport {
	t.Helper()
	rep, err := bolt.UpgradeLegacy(legacy, eng, bolt.Options{Logger: log})
	if err != nil {
		t.Fatalf("UpgradeLegacy: %v", err)
	}
	return rep
}

// present checks which of paths exist.
func present(t *testing.T, want bool, paths ...string) {
	t.Helper()
	for _, p := range paths {
		_, err := os.Lstat(p)
		if got := err == nil; got != want {
			t.Errorf("%s exists: %v, want %v (%v)", p, got, want, err)
		}
	}
}

func docIn(t *testing.T, e *bolt.Engine, db, id string) map[string]any {
	t.Helper()
	raw, err := e.Get(ctx(t), db, id, engine.GetOptions{})
	if err != nil {
		t.Fatalf("Get %s/%s: %v", db, id, err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func jsonOf(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return m
}

func attachment(t *testing.T, e *bolt.Engine, db, id, name string) (*engine.Attachment, []byte) {
	t.Helper()
	a, err := e.GetAttachment(ctx(t), db, id, name)
	if err != nil {
		t.Fatalf("GetAttachment %s/%s/%s: %v", db, id, name, err)
	}
	defer a.Body.Close()
	b, err := io.ReadAll(a.Body)
	if err != nil {
		t.Fatal(err)
	}
	return a, b
}

// pattern is the fixture's binary attachment: byte i is i mod 251.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

func changes(t *testing.T, e *bolt.Engine, db string) []engine.Change {
	t.Helper()
	var out []engine.Change
	if err := e.Changes(ctx(t), db, engine.ChangesQuery{}, func(c engine.Change) error {
		out = append(out, c)
		return nil
	}); err != nil {
		t.Fatalf("Changes %s: %v", db, err)
	}
	return out
}

func TestUpgradeLegacy(t *testing.T) {
	legacy, eng := legacyDir(t)
	core, logs := observer.New(zap.InfoLevel)
	rep := upgrade(t, legacy, eng, zap.New(core))

	want := &bolt.UpgradeReport{Databases: 6, Documents: 13, Deleted: 2, Attachments: 2,
		Bytes: billLen + int64(len(notes)), Backup: legacy + ".pre-engine"}
	if diff := cmp.Diff(want, rep); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	present(t, true, eng, legacy+".pre-engine")
	present(t, false, legacy, eng+".upgrading")
	lines := logs.FilterMessage("legacy store upgraded").AllUntimed()
	if len(lines) != 1 || logs.Len() != 1 {
		t.Fatalf("log: %v", logs.AllUntimed())
	}
	fields := lines[0].ContextMap()
	for k, v := range map[string]any{"databases": int64(6), "documents": int64(13), "attachments": int64(2),
		"bytes": int64(100_027), "backup": legacy + ".pre-engine"} {
		if fields[k] != v {
			t.Errorf("log field %s = %v, want %v", k, fields[k], v)
		}
	}
	if _, ok := fields["duration"].(time.Duration); !ok {
		t.Errorf("log has no duration: %v", fields)
	}

	e := open(t, eng, bolt.Options{})
	c := ctx(t)
	dbs, err := e.AllDBs(c)
	if diff := cmp.Diff([]string{ledgerDB, "accounts", "numbers/+1202", "numbers/+1312", "port_number_claims", "port_requests"}, dbs); err != nil || diff != "" {
		t.Errorf("AllDBs: %v (-want +got):\n%s", err, diff)
	}

	// Documents keep id, revision and members.
	for _, d := range []struct{ db, id, body string }{
		{"accounts", customer, `{"_id":"` + customer + `","_rev":"` + revCustomer + `","name":"Customer Café",
			"pvt_account_db":"account%2F6b%2F71%2Fcb17a3e2c4d1f0a9b8c7d6e50003","pvt_account_id":"` + customer + `",
			"pvt_api_key":"key-customer","pvt_created":63900000020,"pvt_modified":63900000030,
			"pvt_tree":["6b71cb17a3e2c4d1f0a9b8c7d6e50001","6b71cb17a3e2c4d1f0a9b8c7d6e50002"],"pvt_type":"account"}`},
		{"port_requests", "kazoo/import+1", `{"_id":"kazoo/import+1","_rev":"1-61ce99a3ac2bc80dcc4d1fa29ca86559",
			"nested":{"list":[1,2.5,null,true]},"pvt_type":"note","text":"<b> & \"quoted\" é 日本"}`},
		{"port_requests", "6b71cb17a3e2c4d1f0a9b8c7d6e5a002", `{"_id":"6b71cb17a3e2c4d1f0a9b8c7d6e5a002","_rev":"` + revSubmitted + `","name":"Port 6b71cb17a3e2c4d1f0a9b8c7d6e5a002",
			"numbers":{"+12025550101":{},"+12025550102":{}},"pvt_account_db":"account%2F6b%2F71%2Fcb17a3e2c4d1f0a9b8c7d6e50003",
			"pvt_account_id":"` + customer + `","pvt_created":63900000100,"pvt_modified":63900000100,"pvt_port_state":"submitted",
			"pvt_sent":false,"pvt_transitions":[],"pvt_tree":["6b71cb17a3e2c4d1f0a9b8c7d6e50001","6b71cb17a3e2c4d1f0a9b8c7d6e50002","` + customer + `"],
			"pvt_type":"port_request","pvt_vsn":"1","_attachments":{
			"bill.pdf":{"content_type":"application/pdf","revpos":2,"digest":"` + billDigest + `","length":100000,"stub":true},
			"notes.txt":{"content_type":"text/plain","revpos":3,"digest":"` + notesDig + `","length":27,"stub":true}}}`},
		{ledgerDB, "txn-2", `{"_id":"txn-2","_rev":"1-ba487062579fb382bfc6e17d79c8ed9d","pvt_amount":20000,
			"pvt_reason":"number_activation","pvt_type":"debit"}`},
	} {
		if diff := cmp.Diff(jsonOf(t, d.body), docIn(t, e, d.db, d.id)); diff != "" {
			t.Errorf("%s/%s (-want +got):\n%s", d.db, d.id, diff)
		}
	}
	for _, d := range []struct{ db, id, rev, member, value string }{
		{"port_requests", "6b71cb17a3e2c4d1f0a9b8c7d6e5a003", revCompleted, "pvt_port_state", "completed"},
		{"port_requests", "6b71cb17a3e2c4d1f0a9b8c7d6e5a001", revUnconfirmed, "pvt_port_state", "unconfirmed"},
		{"port_requests", "6b71cb17a3e2c4d1f0a9b8c7d6e5a004", "2-5b2f41fccf164969ab7a888fa835b2ab", "pvt_deleted", "true"},
		{"numbers/+1202", "+12025550103", "1-21fe5a4b81c219c0c80340cdc7a42b0a", "pvt_state", "in_service"},
		{"port_number_claims", "+12025550101", "1-2d4926f3a2503c32eca5156c0c6ddf7f", "port_request_id", "6b71cb17a3e2c4d1f0a9b8c7d6e5a002"},
	} {
		m := docIn(t, e, d.db, d.id)
		if m["_rev"] != d.rev || strings.Trim(mustJSON(t, m[d.member]), `"`) != d.value {
			t.Errorf("%s/%s: _rev %v, %s %v; want %s, %s", d.db, d.id, m["_rev"], d.member, m[d.member], d.rev, d.value)
		}
	}

	// Deletions stay deletions, at their revisions; every document has its
	// own update sequence.
	for _, db := range []string{"port_number_claims", "numbers/+1312"} {
		for _, id := range []string{"+12025550199", "+13125550100"} {
			if _, err := e.Get(c, db, id, engine.GetOptions{}); !errors.Is(err, engine.ErrNotFound) {
				t.Errorf("Get %s/%s: %v, want not found", db, id, err)
			}
		}
	}
	ignoreDoc := cmpopts.IgnoreFields(engine.Change{}, "Doc")
	if diff := cmp.Diff([]engine.Change{
		{Seq: "1", ID: "+12025550101", Rev: "1-2d4926f3a2503c32eca5156c0c6ddf7f"},
		{Seq: "2", ID: "+12025550102", Rev: "1-55a72cf8d0ea5e5b03e3a0545c51f95a"},
		{Seq: "3", ID: "+12025550199", Rev: revReleased, Deleted: true},
	}, changes(t, e, "port_number_claims"), ignoreDoc); diff != "" {
		t.Errorf("claims changes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]engine.Change{{Seq: "1", ID: "+13125550100", Rev: revTakenBack, Deleted: true}},
		changes(t, e, "numbers/+1312"), ignoreDoc); diff != "" {
		t.Errorf("numbers/+1312 changes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]engine.Change{
		{Seq: "1", ID: "6b71cb17a3e2c4d1f0a9b8c7d6e5a001", Rev: revUnconfirmed},
		{Seq: "2", ID: "6b71cb17a3e2c4d1f0a9b8c7d6e5a002", Rev: revSubmitted},
		{Seq: "3", ID: "6b71cb17a3e2c4d1f0a9b8c7d6e5a003", Rev: revCompleted},
		{Seq: "4", ID: "6b71cb17a3e2c4d1f0a9b8c7d6e5a004", Rev: "2-5b2f41fccf164969ab7a888fa835b2ab"},
		{Seq: "5", ID: "kazoo/import+1", Rev: "1-61ce99a3ac2bc80dcc4d1fa29ca86559"},
	}, changes(t, e, "port_requests"), ignoreDoc); diff != "" {
		t.Errorf("port_requests changes (-want +got):\n%s", diff)
	}

	// Attachments: bytes, type, digest and length.
	if sum := md5.Sum(pattern(billLen)); "md5-"+base64.StdEncoding.EncodeToString(sum[:]) != billDigest {
		t.Fatal("the pattern is not the fixture's")
	}
	a, body := attachment(t, e, "port_requests", "6b71cb17a3e2c4d1f0a9b8c7d6e5a002", "bill.pdf")
	if !bytes.Equal(body, pattern(billLen)) || a.ContentType != "application/pdf" || a.Digest != billDigest || a.Length != billLen {
		t.Errorf("bill.pdf: %d bytes (pattern: %v), %s, %s, %d", len(body), bytes.Equal(body, pattern(billLen)), a.ContentType, a.Digest, a.Length)
	}
	a, body = attachment(t, e, "port_requests", "6b71cb17a3e2c4d1f0a9b8c7d6e5a002", "notes.txt")
	if string(body) != notes || a.ContentType != "text/plain" || a.Digest != notesDig || a.Length != int64(len(notes)) {
		t.Errorf("notes.txt: %q, %s, %s, %d", body, a.ContentType, a.Digest, a.Length)
	}

	// A view of a design document installed after the upgrade indexes the
	// copied documents, and follows later writes.
	byState := func() []string {
		t.Helper()
		var out []string
		if err := e.Query(c, "port_requests", "upgrade", "by_state", engine.Query{}, func(r engine.Row) error {
			out = append(out, string(r.Key)+" "+r.ID)
			return nil
		}); err != nil {
			t.Fatalf("Query: %v", err)
		}
		return out
	}
	if _, err := e.Put(c, "port_requests", "_design/upgrade", []byte(`{"language":"javascript","views":{"by_state":{"map":
		"function(doc) { if (doc.pvt_type === 'port_request' && !doc.pvt_deleted) emit(doc.pvt_port_state, null); }"}}}`)); err != nil {
		t.Fatal(err)
	}
	if got, want := byState(), []string{`"completed" 6b71cb17a3e2c4d1f0a9b8c7d6e5a003`, `"submitted" 6b71cb17a3e2c4d1f0a9b8c7d6e5a002`, `"unconfirmed" 6b71cb17a3e2c4d1f0a9b8c7d6e5a001`}; !slices.Equal(got, want) {
		t.Errorf("view: %q, want %q", got, want)
	}

	// Clients' revisions go on: the next write is generation N+1, with the
	// old revision as its parent; a wrong or missing revision conflicts.
	rev, err := e.Put(c, "port_requests", "6b71cb17a3e2c4d1f0a9b8c7d6e5a003", []byte(`{"_rev":"`+revCompleted+`","pvt_type":"port_request","pvt_port_state":"completed"}`))
	if err != nil || !strings.HasPrefix(rev, "6-") {
		t.Fatalf("Put at the old revision: %q, %v", rev, err)
	}
	leaves, err := e.Leaves(c, "port_requests", "6b71cb17a3e2c4d1f0a9b8c7d6e5a003")
	if err != nil || len(leaves) != 1 || !slices.Equal(leaves[0].Ancestors, []string{rev, revCompleted}) {
		t.Errorf("Leaves: %+v, %v", leaves, err)
	}
	for _, body := range []string{`{"_rev":"1-00000000000000000000000000000000","x":1}`, `{"x":1}`, `{"_rev":"` + revCustomer + `"}`} {
		if _, err := e.Put(c, "port_requests", "6b71cb17a3e2c4d1f0a9b8c7d6e5a001", []byte(body)); !errors.Is(err, engine.ErrConflict) {
			t.Errorf("Put %s: %v, want a conflict", body, err)
		}
	}
	// Stubs name the copied attachments.
	rev, err = e.Put(c, "port_requests", "6b71cb17a3e2c4d1f0a9b8c7d6e5a002", []byte(`{"_rev":"`+revSubmitted+`","pvt_type":"port_request",
		"pvt_port_state":"pending","_attachments":{"bill.pdf":{"stub":true},"notes.txt":{"stub":true}}}`))
	if err != nil || !strings.HasPrefix(rev, "4-") {
		t.Fatalf("Put with stubs: %q, %v", rev, err)
	}
	if _, body := attachment(t, e, "port_requests", "6b71cb17a3e2c4d1f0a9b8c7d6e5a002", "bill.pdf"); !bytes.Equal(body, pattern(billLen)) {
		t.Error("bill.pdf changed by a write keeping it")
	}
	if got, want := byState(), []string{`"completed" 6b71cb17a3e2c4d1f0a9b8c7d6e5a003`, `"pending" 6b71cb17a3e2c4d1f0a9b8c7d6e5a002`, `"unconfirmed" 6b71cb17a3e2c4d1f0a9b8c7d6e5a001`}; !slices.Equal(got, want) {
		t.Errorf("view after a write: %q, want %q", got, want)
	}
	// A deletion is continued by a create, a copied document deleted at its
	// revision.
	if rev, err := e.Put(c, "port_number_claims", "+12025550199", []byte(`{"pvt_type":"port_number_claim"}`)); err != nil || !strings.HasPrefix(rev, "3-") {
		t.Errorf("create over the copied deletion: %q, %v", rev, err)
	}
	if rev, err := e.Delete(c, "numbers/+1202", "+12025550103", "1-21fe5a4b81c219c0c80340cdc7a42b0a"); err != nil || !strings.HasPrefix(rev, "2-") {
		t.Errorf("Delete at the old revision: %q, %v", rev, err)
	}

	// Once is enough.
	if rep, err := bolt.UpgradeLegacy(legacy, eng, bolt.Options{}); rep != nil || err != nil {
		t.Errorf("second UpgradeLegacy: %+v, %v", rep, err)
	}
	entries, err := os.ReadDir(filepath.Dir(eng))
	var names []string
	for _, en := range entries {
		names = append(names, en.Name())
	}
	if !slices.Equal(names, []string{"engine.db", "portreqd.db.pre-engine"}) || err != nil {
		t.Errorf("data directory: %v, %v", names, err)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A run that died while building leaves an .upgrading file: discarded,
// and the upgrade done again.
func TestUpgradeLegacyDiscardsUnfinished(t *testing.T) {
	legacy, eng := legacyDir(t)
	if err := os.WriteFile(eng+".upgrading", []byte("half a file"), 0o600); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.InfoLevel)
	rep := upgrade(t, legacy, eng, zap.New(core))
	if rep == nil || rep.Documents != 13 || rep.Deleted != 2 {
		t.Fatalf("report: %+v", rep)
	}
	if logs.FilterMessage("legacy store: discarding an unfinished upgrade").Len() != 1 {
		t.Errorf("log: %v", logs.AllUntimed())
	}
	present(t, false, eng+".upgrading", legacy)
	e := open(t, eng, bolt.Options{})
	if m := docIn(t, e, "accounts", customer); m["_rev"] != revCustomer {
		t.Errorf("customer: %v", m)
	}
}

// A run that died between its two renames left the engine complete and the
// old file in place: the old file goes to its backup (numbered, an earlier
// one being there), nothing is copied again.
func TestUpgradeLegacyFinishesRename(t *testing.T) {
	legacy, eng := legacyDir(t)
	e, err := bolt.Open(eng, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.CreateDB(ctx(t), "kept"); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(legacy+".pre-engine", []byte("an earlier backup"), 0o600); err != nil {
		t.Fatal(err)
	}
	fixture, err := os.ReadFile(legacy)
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.InfoLevel)
	if rep, err := bolt.UpgradeLegacy(legacy, eng, bolt.Options{Logger: zap.New(core)}); rep != nil || err != nil {
		t.Fatalf("UpgradeLegacy: %+v, %v", rep, err)
	}
	present(t, false, legacy)
	if b, err := os.ReadFile(legacy + ".pre-engine.1"); err != nil || !bytes.Equal(b, fixture) {
		t.Errorf("backup: %d bytes, %v", len(b), err)
	}
	if b, err := os.ReadFile(legacy + ".pre-engine"); err != nil || string(b) != "an earlier backup" {
		t.Errorf("earlier backup: %q, %v", b, err)
	}
	if l := logs.FilterMessage("legacy store: upgrade had finished, old file moved to its backup").AllUntimed(); len(l) != 1 ||
		l[0].ContextMap()["backup"] != legacy+".pre-engine.1" {
		t.Errorf("log: %v", logs.AllUntimed())
	}
	e = open(t, eng, bolt.Options{})
	if dbs, err := e.AllDBs(ctx(t)); err != nil || !slices.Equal(dbs, []string{"kept"}) {
		t.Errorf("AllDBs: %v, %v", dbs, err)
	}
}

// setLegacy changes the old file with fn, as a test of a damaged or foreign
// file, and returns its bytes.
func setLegacy(t *testing.T, legacy string, fn func(tx *bbolt.Tx) error) []byte {
	t.Helper()
	db, err := bbolt.Open(legacy, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(legacy)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// failedUpgrade checks that UpgradeLegacy failed with an error naming the
// old file and saying want, and left everything as it was.
func failedUpgrade(t *testing.T, legacy, eng string, before []byte, o bolt.Options, want string) {
	t.Helper()
	rep, err := bolt.UpgradeLegacy(legacy, eng, o)
	if rep != nil || err == nil || !strings.Contains(err.Error(), legacy) || !strings.Contains(err.Error(), want) {
		t.Fatalf("UpgradeLegacy: %+v, %v; want an error naming %s and saying %q", rep, err, legacy, want)
	}
	if after, err := os.ReadFile(legacy); err != nil || !bytes.Equal(after, before) {
		t.Errorf("the old file changed (%v)", err)
	}
	present(t, false, eng, eng+".upgrading", legacy+".pre-engine")
}

func TestUpgradeLegacyUnknownFormat(t *testing.T) {
	legacy, eng := legacyDir(t)
	before := setLegacy(t, legacy, func(tx *bbolt.Tx) error { return tx.Bucket([]byte("_meta")).Put([]byte("format"), []byte("9")) })
	failedUpgrade(t, legacy, eng, before, bolt.Options{}, `format "9"`)
}

// A failure halfway (here an attachment whose body lost a chunk) leaves the
// old file alone and no engine file.
func TestUpgradeLegacyDamaged(t *testing.T) {
	legacy, eng := legacyDir(t)
	before := setLegacy(t, legacy, func(tx *bbolt.Tx) error {
		blob := tx.Bucket([]byte("_att")).Get([]byte("port_requests\x006b71cb17a3e2c4d1f0a9b8c7d6e5a002\x00bill.pdf\x00"))
		return tx.Bucket([]byte("_blob")).Delete(binary.BigEndian.AppendUint32(bytes.Clone(blob), 1))
	})
	failedUpgrade(t, legacy, eng, before, bolt.Options{}, `"bill.pdf"`)
}

// An old process still running holds the file: a clear error, not a wait.
func TestUpgradeLegacyInUse(t *testing.T) {
	legacy, eng := legacyDir(t)
	before, err := os.ReadFile(legacy)
	if err != nil {
		t.Fatal(err)
	}
	db, err := bbolt.Open(legacy, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	failedUpgrade(t, legacy, eng, before, bolt.Options{LockTimeout: 50 * time.Millisecond}, "in use")
}

func TestUpgradeLegacyNothingToDo(t *testing.T) {
	dir := t.TempDir()
	eng := filepath.Join(dir, "engine.db")
	if rep, err := bolt.UpgradeLegacy(filepath.Join(dir, "portreqd.db"), eng, bolt.Options{}); rep != nil || err != nil {
		t.Fatalf("UpgradeLegacy: %+v, %v", rep, err)
	}
	present(t, false, eng)
}

// An attachment larger than a batch of the upgrade is copied across
// several commits. The old file is written here in the old store's
// layout (see legacy.go), with one document.
func TestUpgradeLegacyLargeAttachment(t *testing.T) {
	const size = 9<<20 + 12345
	dir := t.TempDir()
	legacy, eng := filepath.Join(dir, "portreqd.db"), filepath.Join(dir, "engine.db")
	big := pattern(size)
	sum := md5.Sum(big)
	digest := "md5-" + base64.StdEncoding.EncodeToString(sum[:])
	const rev = "2-0123456789abcdef0123456789abcdef"
	blob := binary.BigEndian.AppendUint64(nil, 7)
	db, err := bbolt.Open(legacy, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		buckets := map[string]*bbolt.Bucket{}
		for _, name := range []string{"_meta", "_att", "_blob", "_staging", "port_requests"} {
			b, err := tx.CreateBucket([]byte(name))
			if err != nil {
				return err
			}
			buckets[name] = b
		}
		doc := `{"_attachments":{"big.bin":{"content_type":"application/octet-stream","digest":"` + digest +
			`","length":` + strings.TrimSpace(mustJSON(t, size)) + `,"revpos":2,"stub":true}},"_id":"big","_rev":"` + rev + `","pvt_type":"port_request"}`
		for _, kv := range [][3]string{
			{"_meta", "format", "1"},
			{"port_requests", "big", doc},
			{"_att", "port_requests\x00big\x00big.bin\x00", string(blob)},
		} {
			if err := buckets[kv[0]].Put([]byte(kv[1]), []byte(kv[2])); err != nil {
				return err
			}
		}
		for i := 0; i*65536 < size; i++ {
			k := binary.BigEndian.AppendUint32(bytes.Clone(blob), uint32(i))
			if err := buckets["_blob"].Put(k, big[i*65536:min(size, (i+1)*65536)]); err != nil {
				return err
			}
		}
		return nil
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}

	rep := upgrade(t, legacy, eng, nil)
	if rep.Documents != 1 || rep.Attachments != 1 || rep.Bytes != size {
		t.Errorf("report: %+v", rep)
	}
	e := open(t, eng, bolt.Options{})
	a, body := attachment(t, e, "port_requests", "big", "big.bin")
	if !bytes.Equal(body, big) || a.Digest != digest || a.Length != size {
		t.Errorf("big.bin: %d bytes, equal %v, %s, %d", len(body), bytes.Equal(body, big), a.Digest, a.Length)
	}
	if m := docIn(t, e, "port_requests", "big"); m["_rev"] != rev {
		t.Errorf("big: %v", m)
	}
}
