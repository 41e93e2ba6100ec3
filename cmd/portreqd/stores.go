package main

import (
	"context"
	"fmt"
	"strings"

	"go.uber.org/zap"

	"github.com/portreqd/portreqd/pkg/boltstore"
	"github.com/portreqd/portreqd/pkg/couchstore"
	"github.com/portreqd/portreqd/pkg/porting"
)

// store is what run and migrate need of either store.
type store interface {
	porting.Store
	porting.RawStore
}

// isCouchURL tells a CouchDB URL from a data directory.
func isCouchURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// openStore opens CouchDB at a URL (database names prefixed with prefix) or
// the embedded store in a directory.
func openStore(ctx context.Context, where, prefix string, log *zap.Logger) (store, string, error) {
	if isCouchURL(where) {
		s, err := couchstore.Open(ctx, couchstore.Options{URL: where, Prefix: prefix, Logger: log})
		if err != nil {
			return nil, "", fmt.Errorf("open CouchDB %s: %w", couchstore.MaskURL(where), err)
		}
		return s, "couchdb " + couchstore.MaskURL(where), nil
	}
	s, err := boltstore.Open(where, boltstore.Options{Logger: log})
	if err != nil {
		return nil, "", err
	}
	return s, "embedded " + where, nil
}
