package porting

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Completing a port request writes to three places: the numbers go in
// service (number documents), the account is debited (ledger), and the
// request becomes completed. No store writes them together, so completion
// is a saga whose commit point is the request's own write:
//
//  1. the completer records an intent on the request (pvt_completion: a
//     token, when, the numbers, the debit's database), at the revision it
//     read: a racing cancel or edit makes this write, or the cancel, fail;
//  2. it puts the numbers in service and writes the debit, both idempotent
//     (fixed ids), so a retry of the same completion adopts what it wrote;
//  3. it writes the request completed and the intent gone, at the
//     revision of step 1; a conflict sends it back to step 1, where it
//     adopts its own intent.
//
// While an intent is fresh (Rules.CompletionGrace), every other transition and
// edit of the request is refused (409). An intent older than that was cut
// off (the process died, the store went away): a rollback takes it over,
// takes the numbers out of service, deletes the debit and clears it; the
// recovery pass (RecoverCompletions, at start and periodically, safe on
// several replicas) finds such intents. So a number is in service only on
// a completed request, and a debit exists only for one.

// DefaultCompletionGrace is how long a completion intent is trusted unless
// Rules.CompletionGrace says otherwise: far longer than a completion takes,
// and longer than the API's deadlines (body plus answer), so its completer
// has given up before anyone takes it over. A shorter grace stays safe (the
// takeover makes the completer's commit fail) but may undo a slow
// completion that would have committed.
const DefaultCompletionGrace = 5 * time.Minute

const intentMember = "pvt_completion"

// completionIntent is pvt_completion.
type completionIntent struct {
	Token       string   `json:"token"`
	Started     int64    `json:"started"`
	Numbers     []string `json:"numbers"`
	DebitDB     string   `json:"debit_db,omitempty"`
	By          string   `json:"by,omitempty"`
	RollingBack bool     `json:"rolling_back,omitempty"`
}

// live tells whether the intent's completer may still be at work at now:
// it is younger than grace (seconds) and nobody has taken it over.
func (in *completionIntent) live(now, grace int64) bool {
	return now-in.Started < grace && !in.RollingBack
}

// completionGrace is the rules' grace in whole seconds, at least one.
func (s *Service) completionGrace() int64 {
	g := s.rules.CompletionGrace
	if g <= 0 {
		g = DefaultCompletionGrace
	}
	return max(int64(g/time.Second), 1)
}

// intentOf returns r's completion intent, nil when it has none.
func intentOf(r *Request) *completionIntent {
	raw, ok := r.Private[intentMember]
	if !ok || string(raw) == "null" {
		return nil
	}
	var in completionIntent
	if json.Unmarshal(raw, &in) != nil || in.Token == "" {
		return nil
	}
	return &in
}

// withIntent is a copy of r carrying intent in (nil: none).
func withIntent(r *Request, in *completionIntent) *Request {
	c := *r
	c.Private = r.Private.Clone()
	if in == nil {
		delete(c.Private, intentMember)
		return &c
	}
	c.Private.Set(intentMember, in)
	return &c
}

// busyError answers a change of a request whose completion is under way.
// It is a conflict the caller retries (a completion takes milliseconds),
// so a cancel racing a completion waits for it and then finds the request
// completed; only a completion that outlasts the retries answers 409.
func busyError(in *completionIntent, now int64) error {
	return &Error{Kind: KindConflict, Message: "conflict", Data: map[string]any{
		"message": fmt.Sprintf("a completion of this port request is under way (started %d s ago); retry shortly", now-in.Started)}}
}

// guardIntent lets a change of r go on only when no completion is under way.
// A fresh intent (not the caller's own, mine) refuses it; a stale one is
// rolled back first, and the caller re-reads (KindConflict).
func (s *Service) guardIntent(ctx context.Context, r *Request, mine string) error {
	in := intentOf(r)
	if in == nil || (mine != "" && in.Token == mine) {
		return nil
	}
	if now := s.gregorianNow(); in.live(now, s.completionGrace()) {
		return busyError(in, now)
	}
	if err := s.rollBack(ctx, r, in, false); err != nil {
		return err
	}
	return E(KindConflict, "datastore conflict") // read it again
}

// rollBack undoes a completion that did not commit: it takes the intent
// over (unless own: the caller wrote it), takes the request's numbers out of
// service, deletes its debit and clears the intent. Each step is
// idempotent and conditional on what it read, so replicas racing to roll
// back one request, or a late completer, leave it whole.
func (s *Service) rollBack(ctx context.Context, r *Request, in *completionIntent, own bool) error {
	ctx = context.WithoutCancel(ctx)
	if r.State == Completed {
		return s.clearIntent(ctx, r.ID, in.Token) // committed; the intent is a leftover
	}
	if !own {
		// Take it over: the old completer's commit (at the revision it
		// wrote) now fails, and it will not touch the numbers again.
		taken := *in
		taken.Token, taken.RollingBack = RandomID(), true
		next := withIntent(r, &taken)
		if err := s.store.UpdateRequest(ctx, next); err != nil {
			return err
		}
		in, r = &taken, next
		s.log.Warn("rolling back a completion cut off half-done", "request_id", r.ID, "numbers", in.Numbers)
	}
	docs, err := s.store.GetNumbers(ctx, in.Numbers)
	if err != nil {
		return err
	}
	for _, n := range in.Numbers {
		d, ok := docs[n]
		if !ok || d.PortID != r.ID {
			continue // never put in service, or someone else's
		}
		if err := s.store.DeleteNumber(ctx, d); err != nil && !IsKind(err, KindNotFound) {
			return err
		}
	}
	if in.DebitDB != "" {
		t, err := s.store.GetTransaction(ctx, in.DebitDB, debitID(r.ID))
		switch {
		case err == nil:
			if err := s.store.DeleteTransaction(ctx, t); err != nil && !IsKind(err, KindNotFound) {
				return err
			}
		case !IsKind(err, KindNotFound):
			return err
		}
	}
	return s.clearIntent(ctx, r.ID, in.Token)
}

// clearIntent removes intent token from request id, re-reading on
// conflicts; an intent that is no longer token is left alone.
func (s *Service) clearIntent(ctx context.Context, id, token string) error {
	return s.retryConflict(ctx, func() error {
		r, err := s.store.GetRequest(ctx, id)
		if err != nil {
			return err
		}
		if in := intentOf(r); in == nil || in.Token != token {
			return nil
		}
		return s.store.UpdateRequest(ctx, withIntent(r, nil))
	})
}

// RecoverCompletions rolls back every completion cut off half-done (its
// intent older than Rules.CompletionGrace) and returns how many it rolled back.
// portreqd runs it at start and periodically; replicas may run it at once.
func (s *Service) RecoverCompletions(ctx context.Context) (int, error) {
	ids, err := s.store.CompletionIntents(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		r, err := s.store.GetRequest(ctx, id)
		if IsKind(err, KindNotFound) {
			continue
		}
		if err != nil {
			return n, err
		}
		in := intentOf(r)
		if in == nil || in.live(s.gregorianNow(), s.completionGrace()) {
			continue
		}
		switch err := s.rollBack(ctx, r, in, false); {
		case err == nil:
			n++
		case IsKind(err, KindConflict):
			// Another replica, or the completer, got there first.
		default:
			return n, err
		}
	}
	return n, nil
}

func debitID(requestID string) string { return "port_request-" + requestID }
