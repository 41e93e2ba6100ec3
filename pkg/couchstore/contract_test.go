package couchstore_test

import (
	"testing"

	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/pkg/porting/storetest"
)

// The store contract, against the CouchDB of COUCHDB_URL (pouchdb-server
// in CI), on databases of a fresh prefix per test.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) porting.Store { return newEnv(t).store })
}
