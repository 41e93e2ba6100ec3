package porting

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Numbers across sites. Every site (a CouchDB server or cluster, with
// portreqd beside it) claims numbers in its own claims database, and
// replication carries each claim to the others. Within a site a claim is
// exclusive at once (a create of a fixed id). Across sites two claims of
// one number can only meet after a partition, as two revisions of one
// claim document; then:
//
//   - the earliest claim wins on every site (ClaimWinner), the others are
//     deleted with a tombstone naming the winner, and the site each losing
//     claim was made at rejects its request, with the reason on its
//     timeline (ReconcileClaim);
//   - a completion waits until every other site holds this request's claim
//     as the only live revision of each number, and none has the number in
//     service for another request (confirmAtEverySite). A site that holds
//     our claim can no longer claim the number itself, so no two sites
//     ever complete one number; a site that does not answer holds every
//     completion back until it does.

// Peer is another site, read directly: its claims and its numbers in
// service, as its own CouchDB holds them now (not as replication brought
// them here).
type Peer interface {
	// Name identifies the site in messages and logs.
	Name() string
	ClaimRevisions(ctx context.Context, numbers []string) (map[string][]*Claim, error)
	GetNumbers(ctx context.Context, numbers []string) (map[string]*PhoneNumber, error)
}

// Peers lists the other sites this one replicates with; none when it
// replicates with no one.
type Peers func(ctx context.Context) ([]Peer, error)

// peerTimeout bounds how long a completion waits for each other site.
const peerTimeout = 5 * time.Second

// ClaimWinner is the claim that keeps its number when several sites
// claimed it during a partition: the earliest, ties broken by site and
// then by request, so every site picks the same one whatever order
// replication brings the claims in.
func ClaimWinner(claims []*Claim) *Claim {
	if len(claims) == 0 {
		return nil
	}
	sorted := append([]*Claim(nil), claims...)
	sort.SliceStable(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if a.Created != b.Created {
			return a.Created < b.Created
		}
		if a.Site != b.Site {
			return a.Site < b.Site
		}
		return a.RequestID < b.RequestID
	})
	return sorted[0]
}

// Site names this site on the claims it writes ("" when it replicates with
// no one).
func (s *Service) Site() string { return s.site }

// confirmAtEverySite checks, before request r completes numbers, that
// every other site holds r's claim as the only live revision of each
// number and has none of them in service for another request. It also
// checks this site's own copies for a rival revision replication brought
// in and the resolver has not settled yet.
func (s *Service) confirmAtEverySite(ctx context.Context, r *Request, numbers []string) error {
	if s.peers == nil || len(numbers) == 0 {
		return nil
	}
	peers, err := s.peers(ctx)
	if err != nil {
		return Wrap(KindUnavailable, "the other sites are unknown: a number completes only once every site confirms its claim", err)
	}
	local, err := s.store.ClaimRevisions(ctx, numbers)
	if err != nil {
		return err
	}
	ne := numberErrors{}
	for _, n := range numbers {
		if rivalClaim(local[n], r.ID) {
			ne.add(n, msgClaimedElsewhere)
		}
	}
	type answer struct {
		claims  map[string][]*Claim
		numbers map[string]*PhoneNumber
		err     error
	}
	answers := make([]answer, len(peers))
	var wg sync.WaitGroup
	for i, p := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(ctx, peerTimeout)
			defer cancel()
			a := &answers[i]
			if a.claims, a.err = p.ClaimRevisions(ctx, numbers); a.err == nil {
				a.numbers, a.err = p.GetNumbers(ctx, numbers)
			}
		}()
	}
	wg.Wait()
	var unconfirmed []string
	for i, p := range peers {
		a := answers[i]
		if a.err != nil {
			return Wrap(KindUnavailable, fmt.Sprintf("site %s did not answer: a number completes only once every site confirms its claim; try again when it is back", p.Name()), a.err)
		}
		for _, n := range numbers {
			switch {
			case a.numbers[n].inServiceFor(r.ID):
				ne.add(n, msgExistsOnSystem)
			case rivalClaim(a.claims[n], r.ID):
				ne.add(n, msgClaimedElsewhere)
			case len(a.claims[n]) == 0 && ne[n] == nil:
				unconfirmed = append(unconfirmed, p.Name()+" "+n)
			}
		}
	}
	if err := ne.err(); err != nil {
		return err
	}
	if len(unconfirmed) > 0 {
		return E(KindUnavailable, "not every site holds this request's claims yet ("+strings.Join(unconfirmed, ", ")+"): replication brings them within seconds; try again")
	}
	return nil
}

// msgClaimedElsewhere refuses a number another site claimed for another
// request while the sites could not reach each other; the claims are being
// reconciled.
const msgClaimedElsewhere = "Number is claimed at another site by a different port request; the sites are reconciling their claims"

// ClaimConflictStore resolves a claim that replication brought into
// conflict.
type ClaimConflictStore interface {
	// ResolveClaimConflict keeps ClaimWinner of number's live claim
	// revisions and deletes the others, each with a tombstone naming the
	// winner. It returns the claim that stands (nil if none) and every
	// claim that lost to another, here or at another site, as their
	// tombstones record them.
	ResolveClaimConflict(ctx context.Context, number string) (winner *Claim, losers []*Claim, err error)
}

// ReconcileClaim settles a claim of number that several sites made: the
// store keeps the earliest, and each request whose claim lost at this
// site and that still carries the number, active, is rejected with the
// reason on its timeline; its other numbers are released. It returns the
// requests it rejected. Losers made at other sites are rejected there, so
// that one write, not one per site, records each rejection.
func (s *Service) ReconcileClaim(ctx context.Context, number string) ([]string, error) {
	cs, ok := s.store.(ClaimConflictStore)
	if !ok {
		return nil, nil
	}
	winner, losers, err := cs.ResolveClaimConflict(ctx, number)
	if err != nil || winner == nil {
		return nil, err
	}
	var rejected []string
	for _, l := range losers {
		if l.Site != s.site || l.RequestID == winner.RequestID {
			continue
		}
		s.claimCounts.lost.Add(1)
		done, err := s.rejectLostClaim(ctx, l, winner)
		if err != nil {
			return rejected, err
		}
		if done {
			rejected = append(rejected, l.RequestID)
		}
	}
	return rejected, nil
}

// rejectLostClaim rejects the request of claim lost, which lost its number
// to winner, if that request still carries the number, active.
func (s *Service) rejectLostClaim(ctx context.Context, lost, winner *Claim) (bool, error) {
	done := false
	var released []string
	err := s.retryConflict(ctx, func() error {
		r, err := s.store.GetRequest(ctx, lost.RequestID)
		if IsKind(err, KindNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if r.Deleted || !r.State.Active() || !slices.Contains(r.Numbers(), lost.Number) {
			if r.State == Completed && slices.Contains(r.Numbers(), lost.Number) {
				s.log.Error("a request completed a number another site had claimed first", "request_id", r.ID, "number", lost.Number, "winner", winner.RequestID)
			}
			return nil
		}
		master, err := s.master(ctx)
		if err != nil {
			return err
		}
		now := s.gregorianNow()
		whose := "a port request of another account"
		if winner.AccountID == r.AccountID {
			whose = "port request " + winner.RequestID
		}
		next := *r
		var tr Transition
		tr.Timestamp, tr.Type = now, "transition"
		tr.Reason = fmt.Sprintf("Number %s was claimed first, at another site, by %s while the sites could not reach each other; remove it from this request and submit again", lost.Number, whose)
		tr.Transition = TransitionState{New: Rejected, Previous: r.State}
		tr.Authorization.Account.ID, tr.Authorization.Account.Name = master.ID, master.Name
		next.Transitions = append([]Transition{tr}, r.Transitions...)
		SortTransitions(next.Transitions)
		next.State, next.Modified = Rejected, now
		ev := s.event(EventRejected, &next, master, now)
		ev.Reason = tr.Reason
		next.addEvent(ev)
		if err := s.store.UpdateRequest(ctx, &next); err != nil {
			return err
		}
		done, released = true, next.Numbers()
		return nil
	})
	if done {
		s.releaseNumbers(ctx, lost.RequestID, released)
		s.log.Warn("port request rejected: another site claimed one of its numbers first", "request_id", lost.RequestID, "number", lost.Number, "winner", winner.RequestID, "winner_site", winner.Site)
	}
	return done, err
}

// rivalClaim reports whether any of a number's claim revisions belongs to
// a request other than reqID.
func rivalClaim(claims []*Claim, reqID string) bool {
	return slices.ContainsFunc(claims, func(c *Claim) bool { return c.RequestID != reqID })
}
