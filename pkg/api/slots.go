package api

import (
	"context"

	"github.com/portreqd/portreqd/pkg/porting"
)

// slots bounds how many of an expensive kind of request run at once
// (letters rendered, uploads spooled): the rest wait their turn, and one
// whose client leaves while waiting is dropped without the work being
// done.
type slots chan struct{}

func newSlots(n int) slots { return make(slots, n) }

// acquire waits for a slot; the error when ctx ends first.
func (s slots) acquire(ctx context.Context) (release func(), err error) {
	select {
	case s <- struct{}{}:
		return func() { <-s }, nil
	case <-ctx.Done():
		return nil, porting.Wrap(porting.KindUnavailable, "busy: the request was given up while waiting its turn", ctx.Err())
	}
}
