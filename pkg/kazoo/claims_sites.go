package kazoo

import (
	"context"
	"encoding/json"
	"errors"
	"sync"

	"go.uber.org/zap"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/pkg/sites"
)

var _ porting.ClaimConflictStore = (*Store)(nil)

// ResolveClaimConflict keeps porting.ClaimWinner of number's live claim
// revisions and deletes the others. Each deletion keeps the losing claim
// in its tombstone with the winner's request (pvt_lost_to): the site that
// made the claim learns from it that its request lost, even when another
// site's deletion reaches it before it saw the conflict. The tombstone's
// content is fixed, so two sites deleting one revision write the same
// revision. It returns the winner (nil when no claim stands) and every
// losing claim the document's leaves record.
func (s *Store) ResolveClaimConflict(ctx context.Context, number string) (*porting.Claim, []*porting.Claim, error) {
	db := s.db(dbClaims)
	leaves, err := s.eng.Leaves(ctx, db, number)
	if isNotFound(err) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, storeErr(err, number)
	}
	var live, losers []*porting.Claim
	for _, l := range leaves {
		var c porting.Claim
		if err := json.Unmarshal(l.Doc, &c); err != nil {
			return nil, nil, porting.Wrap(porting.KindInternal, "decode claim", err)
		}
		c.Number, c.Rev = number, l.Rev
		switch {
		case !l.Deleted && c.RequestID != "":
			live = append(live, &c)
		case l.Deleted && c.LostTo != "":
			losers = append(losers, &c)
		}
	}
	winner := porting.ClaimWinner(live)
	for _, c := range live {
		if c == winner {
			continue
		}
		tomb := *c
		tomb.LostTo, tomb.Type = winner.RequestID, porting.ClaimType
		body, err := json.Marshal(struct {
			porting.Claim
			Deleted bool `json:"_deleted"`
		}{tomb, true})
		if err != nil {
			return nil, nil, porting.Wrap(porting.KindInternal, "encode claim", err)
		}
		if _, err := s.eng.Put(ctx, db, number, body); err != nil && !errors.Is(err, engine.ErrConflict) && !errors.Is(err, engine.ErrNotFound) {
			return nil, nil, storeErr(err, number)
		}
		tomb.Rev = ""
		losers = append(losers, &tomb)
	}
	return winner, losers, nil
}

// SiteID names the site this store's server stands for, on the claims it
// writes: an id kept in a _local document of the claims database, which
// replication never copies and every node of a cluster shares. The first
// process to ask makes it. An embedded store, which replicates with no
// one, has none ("").
func (s *Store) SiteID(ctx context.Context, newID func() string) (string, error) {
	if _, ok := s.eng.(engine.Replicating); !ok {
		return "", nil
	}
	return s.localValue(ctx, dbClaims, "_local/portreqd_site", "site", newID)
}

// LocalSecret is a secret shared by every process on this store's server
// and kept from every other (a _local document of the accounts database:
// replication never copies it): the token key of replicas started
// without one. The first process to ask makes it with newValue. An
// embedded store has no _local documents: KindUnavailable.
func (s *Store) LocalSecret(ctx context.Context, name string, newValue func() string) (string, error) {
	if _, ok := s.eng.(engine.Replicating); !ok {
		return "", porting.E(porting.KindUnavailable, "kazoo: the embedded store keeps no _local documents")
	}
	return s.localValue(ctx, dbAccounts, "_local/"+name, "value", newValue)
}

// localValue reads member field of _local document id of database db,
// making the document with newValue when there is none; of processes
// making it at once, the first write stands and all read it back.
func (s *Store) localValue(ctx context.Context, db, id, field string, newValue func() string) (string, error) {
	for range 3 {
		raw, err := s.eng.Get(ctx, s.db(db), id, engine.GetOptions{})
		if err == nil {
			var d map[string]any
			_ = json.Unmarshal(raw, &d)
			v, _ := d[field].(string)
			if v == "" {
				return "", porting.E(porting.KindInternal, "kazoo: "+id+" holds no "+field)
			}
			return v, nil
		}
		if !errors.Is(err, engine.ErrNotFound) {
			return "", storeErr(err, id)
		}
		if _, err := s.eng.Put(ctx, s.db(db), id, mustJSON(map[string]string{field: newValue()})); err != nil && !errors.Is(err, engine.ErrConflict) {
			return "", storeErr(err, id)
		}
	}
	return "", porting.E(porting.KindInternal, "kazoo: "+id+" could not be read back")
}

// Peer reads another site's claims and numbers: a Store on that site's
// engine, named for messages.
type Peer struct {
	store *Store
	name  string
}

var _ porting.Peer = (*Peer)(nil)

// NewPeer reads the databases of prefix on eng, another site's server.
func NewPeer(eng engine.Engine, prefix, name string) *Peer {
	return &Peer{store: &Store{eng: eng, prefix: prefix, log: zap.NewNop(), maxDoc: DefaultMaxDocumentBytes}, name: name}
}

func (p *Peer) Name() string { return p.name }

func (p *Peer) ClaimRevisions(ctx context.Context, numbers []string) (map[string][]*porting.Claim, error) {
	return p.store.ClaimRevisions(ctx, numbers)
}

func (p *Peer) GetNumbers(ctx context.Context, numbers []string) (map[string]*porting.PhoneNumber, error) {
	return p.store.GetNumbers(ctx, numbers)
}

// Master reads the site's master account (its id is fixed:
// porting.MasterAccountID); KindNotFound when it has none.
func (p *Peer) Master(ctx context.Context) (*porting.Account, error) {
	return p.store.GetAccount(ctx, porting.MasterAccountID)
}

// Peers reads the other sites this store's server replicates with
// (sites.Peers) each time it is called. Each site's server is opened with
// open when first read, and kept once it answered.
func (s *Store) Peers(open func(ctx context.Context, url string) (engine.Engine, error)) porting.Peers {
	var mu sync.Mutex
	engines := map[string]engine.Engine{}
	return func(ctx context.Context) ([]porting.Peer, error) {
		ps, err := sites.Peers(ctx, s.eng, s.prefix)
		if err != nil {
			return nil, storeErr(err, "")
		}
		out := make([]porting.Peer, 0, len(ps))
		for _, p := range ps {
			mu.Lock()
			eng := engines[p.URL]
			mu.Unlock()
			if eng == nil {
				eng = &lazyEngine{open: func(ctx context.Context) (engine.Engine, error) {
					opened, err := open(ctx, p.URL)
					if err != nil {
						return nil, err
					}
					mu.Lock()
					defer mu.Unlock()
					if had := engines[p.URL]; had != nil {
						_ = opened.Close()
						return had, nil
					}
					engines[p.URL] = opened
					return opened, nil
				}}
			}
			out = append(out, NewPeer(eng, s.prefix, p.Host))
		}
		return out, nil
	}
}

// lazyEngine opens its engine on first use: a peer that does not answer
// fails the read that needs it, not the listing of the peers.
type lazyEngine struct {
	engine.Engine // never set: only the methods below are used
	open          func(ctx context.Context) (engine.Engine, error)

	mu     sync.Mutex
	opened engine.Engine
}

func (l *lazyEngine) get(ctx context.Context) (engine.Engine, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.opened == nil {
		e, err := l.open(ctx)
		if err != nil {
			return nil, errors.Join(engine.ErrUnavailable, err)
		}
		l.opened = e
	}
	return l.opened, nil
}

func (l *lazyEngine) Get(ctx context.Context, db, id string, o engine.GetOptions) ([]byte, error) {
	e, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return e.Get(ctx, db, id, o)
}

func (l *lazyEngine) Leaves(ctx context.Context, db, id string) ([]engine.Leaf, error) {
	e, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return e.Leaves(ctx, db, id)
}

func (l *lazyEngine) DBExists(ctx context.Context, db string) (bool, error) {
	e, err := l.get(ctx)
	if err != nil {
		return false, err
	}
	return e.DBExists(ctx, db)
}

func (l *lazyEngine) AllDocs(ctx context.Context, db string, q engine.Query, fn func(engine.Row) error) error {
	e, err := l.get(ctx)
	if err != nil {
		return err
	}
	return e.AllDocs(ctx, db, q, fn)
}
