// Package sites keeps the databases portreqd and Kazoo share replicated
// between sites: each site a CouchDB server (or cluster) with portreqd
// beside it, every site pulling every shared database from every other,
// continuously, through the servers' own replicator (_replicator
// documents). It writes those documents, keeps them as databases appear
// (account, ledger and number databases are created as ports happen), and
// reads back what each server's scheduler makes of them.
package sites

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"

	"github.com/portreqd/portreqd/pkg/engine"
)

// Site is one site's CouchDB.
type Site struct {
	// URL reaches the server from the other sites' replicators, with the
	// credentials of a server admin (replication writes design documents).
	URL    string
	Engine engine.Engine
}

// host names a site in replication document ids and status lines.
func (s Site) host() string {
	u, err := url.Parse(s.URL)
	if err != nil {
		return "?"
	}
	return u.Host
}

// Shared reports whether database name (its prefix removed) is one the
// sites share: Kazoo's and portreqd's databases of accounts and port
// requests, the number claims, the webhook subscriptions, each account's database and its monthly
// ledgers (account/xx/yy/rest and account/xx/yy/rest-YYYYMM), and the
// number databases (numbers/+1202).
func Shared(name string) bool {
	switch name {
	case "accounts", "port_requests", "port_number_claims", "port_webhooks":
		return true
	}
	return strings.HasPrefix(name, "account/") || strings.HasPrefix(name, "numbers/")
}

const (
	replicatorDB = "_replicator"
	docPrefix    = "portreqd:"
)

// Keeper writes and keeps the replication documents between Sites.
type Keeper struct {
	Sites []Site
	// Prefix is the database name prefix of every shared database
	// (portreqd's --db-prefix; Kazoo's databases have none).
	Prefix string
	Log    *slog.Logger
}

// Report says what one Sync did.
type Report struct {
	Databases int // shared databases found, over every site
	Created   int // replication documents written for the first time
	Updated   int // rewritten: changed, or failed and restarted
	Unchanged int
}

func (r Report) String() string {
	return fmt.Sprintf("%d shared databases; replications: %d created, %d updated, %d unchanged", r.Databases, r.Created, r.Updated, r.Unchanged)
}

// Sync makes every site pull every shared database of every other site,
// continuously, creating it where it is missing. It is idempotent: a
// replication document already as wanted is left alone (its replication
// is not restarted); one the scheduler gave up on (failed) is written
// again, which restarts it.
func (k *Keeper) Sync(ctx context.Context) (Report, error) {
	var rep Report
	if len(k.Sites) < 2 {
		return rep, errors.New("sites: replication needs at least two sites")
	}
	dbs := make([][]string, len(k.Sites))
	all := map[string]bool{}
	for i, s := range k.Sites {
		names, err := s.Engine.AllDBs(ctx)
		if err != nil {
			return rep, fmt.Errorf("sites: list the databases of %s: %w", s.host(), err)
		}
		for _, n := range names {
			if rest, ok := strings.CutPrefix(n, k.Prefix); ok && Shared(rest) {
				dbs[i] = append(dbs[i], n)
				all[n] = true
			}
		}
		if err := s.Engine.CreateDB(ctx, replicatorDB); err != nil {
			return rep, fmt.Errorf("sites: %s: create %s: %w", s.host(), replicatorDB, err)
		}
	}
	rep.Databases = len(all)
	for ti, t := range k.Sites {
		for si, s := range k.Sites {
			if si == ti {
				continue
			}
			for _, db := range dbs[si] {
				did, err := k.ensure(ctx, s, t, db)
				if err != nil {
					return rep, err
				}
				switch did {
				case created:
					rep.Created++
				case updated:
					rep.Updated++
				default:
					rep.Unchanged++
				}
			}
		}
	}
	return rep, nil
}

type outcome int

const (
	unchanged outcome = iota
	created
	updated
)

// replicationDoc is a _replicator document pulling db from one site into
// another. Hash sums what the document asks for, so that a document
// already as wanted is recognised without comparing credentials.
type replicationDoc struct {
	ID           string   `json:"_id"`
	Rev          string   `json:"_rev,omitempty"`
	Source       string   `json:"source"`
	Target       string   `json:"target"`
	Continuous   bool     `json:"continuous"`
	CreateTarget bool     `json:"create_target"`
	Portreqd     docFacts `json:"portreqd"`
}

type docFacts struct {
	DB   string `json:"db"`
	From string `json:"from"`
	To   string `json:"to"`
	Hash string `json:"hash"`
}

// docID names the replication pulling db from site from: one per source
// site and database in each target's _replicator.
func docID(from Site, db string) string { return docPrefix + from.host() + ":" + db }

// dbURL is the URL of database db on a server: the name escaped as one
// path segment ("/" as %2F, "+" as %2B, which CouchDB would read as a
// space).
func dbURL(server, db string) string {
	return strings.TrimRight(server, "/") + "/" + strings.ReplaceAll(url.PathEscape(db), "+", "%2B")
}

func (k *Keeper) ensure(ctx context.Context, from, to Site, db string) (outcome, error) {
	want := replicationDoc{
		ID: docID(from, db), Source: dbURL(from.URL, db), Target: dbURL(to.URL, db),
		Continuous: true, CreateTarget: true,
		Portreqd: docFacts{DB: db, From: from.host(), To: to.host()},
	}
	sum := sha256.Sum256([]byte(want.Source + "\n" + want.Target + "\ncontinuous create_target"))
	want.Portreqd.Hash = hex.EncodeToString(sum[:])

	raw, err := to.Engine.Get(ctx, replicatorDB, want.ID, engine.GetOptions{})
	did := created
	switch {
	case errors.Is(err, engine.ErrNotFound):
	case err != nil:
		return 0, fmt.Errorf("sites: %s: read %s: %w", to.host(), want.ID, err)
	default:
		var have struct {
			Rev      string   `json:"_rev"`
			State    string   `json:"_replication_state"`
			Portreqd docFacts `json:"portreqd"`
		}
		if err := json.Unmarshal(raw, &have); err != nil {
			return 0, fmt.Errorf("sites: %s: %s is not JSON: %w", to.host(), want.ID, err)
		}
		if have.Portreqd.Hash == want.Portreqd.Hash && have.State != "failed" {
			return unchanged, nil
		}
		want.Rev, did = have.Rev, updated
	}
	body, err := json.Marshal(want)
	if err != nil {
		return 0, err
	}
	if _, err := to.Engine.Put(ctx, replicatorDB, want.ID, body); err != nil {
		if errors.Is(err, engine.ErrConflict) {
			return unchanged, nil // another keeper wrote it meanwhile; the next pass checks it
		}
		return 0, fmt.Errorf("sites: %s: write %s: %w", to.host(), want.ID, err)
	}
	if k.Log != nil {
		k.Log.Info("replication set up", "db", db, "from", from.host(), "to", to.host(), "updated", did == updated)
	}
	return did, nil
}

// Remove deletes the replication documents of Keeper's prefix on every
// site, which stops those replications; the databases stay as they are.
func (k *Keeper) Remove(ctx context.Context) (int, error) {
	n := 0
	for _, s := range k.Sites {
		ids, err := k.ours(ctx, s)
		if err != nil {
			return n, err
		}
		for _, id := range ids {
			raw, err := s.Engine.Get(ctx, replicatorDB, id, engine.GetOptions{})
			if errors.Is(err, engine.ErrNotFound) {
				continue
			}
			if err != nil {
				return n, err
			}
			var have struct {
				Rev string `json:"_rev"`
			}
			if err := json.Unmarshal(raw, &have); err != nil {
				return n, err
			}
			if _, err := s.Engine.Delete(ctx, replicatorDB, id, have.Rev); err != nil && !errors.Is(err, engine.ErrNotFound) {
				return n, fmt.Errorf("sites: %s: delete %s: %w", s.host(), id, err)
			}
			n++
		}
	}
	return n, nil
}

// ours lists the ids of site s's replication documents for Keeper's
// prefix.
func (k *Keeper) ours(ctx context.Context, s Site) ([]string, error) {
	var ids []string
	start, _ := json.Marshal(docPrefix)
	end, _ := json.Marshal(docPrefix + "\ufff0")
	err := s.Engine.AllDocs(ctx, replicatorDB, engine.Query{StartKey: start, EndKey: end}, func(r engine.Row) error {
		if k.mine(r.ID) {
			ids = append(ids, r.ID)
		}
		return nil
	})
	if errors.Is(err, engine.ErrNotFound) {
		return nil, nil
	}
	return ids, err
}

// mine reports whether replication document id replicates a shared
// database of Keeper's prefix: portreqd:<host>:<db>.
func (k *Keeper) mine(id string) bool {
	rest, ok := strings.CutPrefix(id, docPrefix)
	i := strings.LastIndexByte(rest, ':') // database names hold no ':', hosts may
	if !ok || i < 0 {
		return false
	}
	name, ok := strings.CutPrefix(rest[i+1:], k.Prefix)
	return ok && Shared(name)
}

// Status is one replication as its target site's scheduler sees it.
type Status struct {
	Site string // the site whose replicator runs it (the target)
	engine.Replication
}

// Healthy reports whether the replication runs or waits its turn.
func (s Status) Healthy() bool {
	switch s.State {
	case "running", "pending", "initializing":
		return true
	}
	return false
}

// Status reports every replication of Keeper's prefix on every site,
// sorted by site and document.
func (k *Keeper) Status(ctx context.Context) ([]Status, error) {
	var out []Status
	for _, s := range k.Sites {
		r, ok := s.Engine.(engine.Replicating)
		if !ok {
			return nil, fmt.Errorf("sites: %s does not replicate (not CouchDB)", s.host())
		}
		reps, err := r.Replications(ctx)
		if err != nil {
			return nil, fmt.Errorf("sites: %s: %w", s.host(), err)
		}
		for _, rp := range reps {
			if k.mine(rp.DocID) {
				out = append(out, Status{Site: s.host(), Replication: rp})
			}
		}
	}
	slices.SortFunc(out, func(a, b Status) int {
		if c := strings.Compare(a.Site, b.Site); c != 0 {
			return c
		}
		return strings.Compare(a.DocID, b.DocID)
	})
	return out, nil
}

// Configured reports whether server eng runs replications of databases of
// prefix that a Keeper set up, so that portreqd there knows it shares its
// data with other sites.
func Configured(ctx context.Context, eng engine.Engine, prefix string) (bool, error) {
	k := &Keeper{Prefix: prefix}
	ids, err := k.ours(ctx, Site{Engine: eng})
	return len(ids) > 0, err
}

// Peer is another site as this one's replication documents name it.
type Peer struct {
	Host string // as the replication documents name it
	URL  string // the server, with the credentials replication uses
}

// Peers lists the sites server eng pulls the claims of prefix from (the
// replication documents a Keeper wrote, read in one request), which is
// every other site: a completion there asks each whether it holds the
// claims (porting.Peers).
func Peers(ctx context.Context, eng engine.Engine, prefix string) ([]Peer, error) {
	claims := prefix + "port_number_claims"
	suffix := "/" + strings.ReplaceAll(url.PathEscape(claims), "+", "%2B")
	start, _ := json.Marshal(docPrefix)
	end, _ := json.Marshal(docPrefix + "\ufff0")
	var out []Peer
	err := eng.AllDocs(ctx, replicatorDB, engine.Query{StartKey: start, EndKey: end, IncludeDocs: true}, func(r engine.Row) error {
		if !strings.HasSuffix(r.ID, ":"+claims) || len(r.Doc) == 0 {
			return nil
		}
		var d replicationDoc
		if err := json.Unmarshal(r.Doc, &d); err != nil {
			return fmt.Errorf("sites: %s is not JSON: %w", r.ID, err)
		}
		if server, ok := strings.CutSuffix(d.Source, suffix); ok && d.Portreqd.DB == claims {
			out = append(out, Peer{Host: d.Portreqd.From, URL: server}) // one a Keeper wrote
		}
		return nil
	})
	if errors.Is(err, engine.ErrNotFound) {
		return nil, nil
	}
	return out, err
}
