package migrate

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/portreqd/portreqd/pkg/porting"
)

// master is a store's master account: the super-duper admin at the root
// of the account tree.
type master struct {
	id     string
	apiKey string
}

// mastersOf lists the master accounts of a store's accounts database
// (normally one).
func mastersOf(ctx context.Context, s porting.RawStore) ([]master, error) {
	var out []master
	err := s.RawDocs(ctx, "accounts", func(doc *porting.RawDoc) error {
		var a struct {
			Type       string   `json:"pvt_type"`
			SuperDuper bool     `json:"pvt_superduper_admin"`
			Deleted    bool     `json:"pvt_deleted"`
			Tree       []string `json:"pvt_tree"`
			APIKey     string   `json:"pvt_api_key"`
		}
		if json.Unmarshal(doc.Body, &a) == nil && a.Type == "account" && a.SuperDuper && !a.Deleted && len(a.Tree) == 0 {
			out = append(out, master{id: doc.ID, apiKey: a.APIKey})
		}
		return nil
	})
	return out, err
}

// checkMasters refuses a copy that would leave two master accounts in the
// target, each a stranger to the other's accounts (403 across). The same
// master on both sides (portreqd creates it under one id everywhere) is
// merged: the source's copy wins, and the note says so when its API key
// differs.
func checkMasters(ctx context.Context, from, to porting.RawStore) (note string, err error) {
	src, err := mastersOf(ctx, from)
	if err != nil {
		return "", fmt.Errorf("source accounts: %w", err)
	}
	dst, err := mastersOf(ctx, to)
	if err != nil {
		return "", fmt.Errorf("target accounts: %w", err)
	}
	for _, s := range src {
		for _, d := range dst {
			if d.id != s.id {
				return "", fmt.Errorf("the target already has a master account (%s) and the source has another (%s): "+
					"a store has one master, and two would each be refused the other's accounts. "+
					"Migrate into a target no portreqd has started on (or whose portreqd databases were deleted), "+
					"or move the accounts under one master first", d.id, s.id)
			}
			if d.apiKey != s.apiKey {
				note = "the target's master account " + d.id + " is replaced by the source's: its API key is now the source's master key"
			}
		}
	}
	return note, nil
}
