package boltstore

import (
	"context"
	"encoding/json"

	bolt "go.etcd.io/bbolt"

	"github.com/portreqd/portreqd/pkg/porting"
)

// GetClaims reads the claim documents of numbers; a number without a live
// claim (never claimed, released) is absent.
func (s *Store) GetClaims(ctx context.Context, numbers []string) (map[string]*porting.Claim, error) {
	out := map[string]*porting.Claim{}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		for _, n := range numbers {
			raw := getDoc(tx, dbClaims, n)
			if raw == nil {
				continue
			}
			var c porting.Claim
			if err := json.Unmarshal(raw, &c); err != nil {
				return porting.Wrap(porting.KindInternal, "decode claim", err)
			}
			if c.Number != "" {
				out[c.Number] = &c
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CreateClaims stores every claim in one transaction: a number with a live
// claim is reported taken, the others are created. One writer runs at a
// time, so two concurrent claims of one number never both succeed.
func (s *Store) CreateClaims(ctx context.Context, claims []*porting.Claim) ([]string, error) {
	taken := []string{}
	if len(claims) == 0 {
		return taken, nil
	}
	docs := make([]porting.Fields, len(claims))
	for i, c := range claims {
		doc := *c
		doc.Rev = ""
		if doc.Type == "" {
			doc.Type = porting.ClaimType
		}
		f, err := marshalFields(doc)
		if err != nil {
			return nil, err
		}
		docs[i] = f
	}
	revs := make([]string, len(claims))
	err := s.write(ctx, func(tx *bolt.Tx) error {
		taken = taken[:0]
		for i, c := range claims {
			rev, err := putDoc(tx, dbClaims, c.Number, docs[i].Clone(), create, "")
			switch {
			case porting.IsKind(err, porting.KindConflict):
				taken, revs[i] = append(taken, c.Number), ""
			case err != nil:
				return err
			default:
				revs[i] = rev
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, c := range claims {
		if revs[i] != "" {
			c.Rev = revs[i]
			if c.Type == "" {
				c.Type = porting.ClaimType
			}
		}
	}
	return taken, nil
}

// DeleteClaims removes each claim at its Rev. A claim released or taken
// again meanwhile (another revision, or none) is left alone.
func (s *Store) DeleteClaims(ctx context.Context, claims []*porting.Claim) error {
	var mine []*porting.Claim
	for _, c := range claims {
		if c.Rev != "" { // never stored by us otherwise
			mine = append(mine, c)
		}
	}
	if len(mine) == 0 {
		return nil
	}
	return s.write(ctx, func(tx *bolt.Tx) error {
		for _, c := range mine {
			err := deleteDoc(tx, dbClaims, c.Number, c.Rev)
			if err != nil && !porting.IsKind(err, porting.KindConflict) && !porting.IsKind(err, porting.KindNotFound) {
				return err
			}
		}
		return nil
	})
}
