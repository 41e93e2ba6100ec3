package porting

import (
	"context"
	"sort"
	"sync"
)

// Kazoo's messages for a number that cannot go on a request.
const (
	msgOnRequest        = "Number is on a port request already: "
	msgOtherAccount     = "Number is being ported for a different account"
	msgExistsOnSystem   = "Number exists on the system already"
	numberErrorRuleType = "type"
)

// claimGrace is how long (seconds) a fresh claim is trusted without looking
// at its request; far longer than a claim-then-write takes.
const claimGrace = 120

// numberErrors collects per-number failures in the seed's shape, keyed by
// the number as the client sent it.
type numberErrors map[string]any

func (ne numberErrors) add(asSent, message string) {
	ne[asSent] = map[string]any{numberErrorRuleType: map[string]any{"cause": asSent, "message": message}}
}

func (ne numberErrors) err() error {
	if len(ne) == 0 {
		return nil
	}
	return &Error{Kind: KindInvalidRequest, Message: "invalid request", Data: map[string]any(ne)}
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// numberFacts is what the store knows about a set of numbers: which are in
// service, which are claimed, and which active requests carry them.
type numberFacts struct {
	inService map[string]*PhoneNumber
	claims    map[string]*Claim
	holders   map[string][]NumberHolder
}

// lookupNumbers asks the store its three questions at once: they are
// independent reads, so a create or submit waits for one round trip, not
// three.
func (s *Service) lookupNumbers(ctx context.Context, numbers []string) (*numberFacts, error) {
	f := &numberFacts{}
	var wg sync.WaitGroup
	var errs [3]error
	wg.Add(3)
	go func() { defer wg.Done(); f.inService, errs[0] = s.store.GetNumbers(ctx, numbers) }()
	go func() { defer wg.Done(); f.claims, errs[1] = s.store.GetClaims(ctx, numbers) }()
	go func() { defer wg.Done(); f.holders, errs[2] = s.store.ActiveHolders(ctx, numbers) }()
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return f, nil
}

// refuse adds an error for every number of asSent that request reqID of
// accountID may not carry: in service anywhere (but ported by reqID itself),
// claimed by another live request, or carried by another active request
// without a claim (written by Kazoo, replicated in). It returns the claims
// found stale, which a claiming caller may take over.
func (s *Service) refuse(ctx context.Context, f *numberFacts, reqID, accountID string, numbers []string, asSent map[string]string, ne numberErrors) ([]*Claim, error) {
	var stale []*Claim
	for _, n := range numbers {
		if f.inService[n].inServiceFor(reqID) {
			ne.add(asSent[n], msgExistsOnSystem)
			continue
		}
		if c, ok := f.claims[n]; ok && c.RequestID != reqID {
			live, err := s.claimIsLive(ctx, c)
			if err != nil {
				return nil, err
			}
			if live {
				ne.add(asSent[n], claimMessage(c, accountID))
				continue
			}
			stale = append(stale, c)
		}
		for _, h := range f.holders[n] {
			if h.RequestID != reqID {
				ne.add(asSent[n], claimMessage(&Claim{RequestID: h.RequestID, AccountID: h.AccountID}, accountID))
				break
			}
		}
	}
	return stale, nil
}

// checkNumbers refuses numbers in service anywhere or held by another live
// active request, without claiming anything (drafts hold no numbers).
func (s *Service) checkNumbers(ctx context.Context, reqID, accountID string, asSent map[string]string) error {
	numbers := sortedKeys(asSent)
	f, err := s.lookupNumbers(ctx, numbers)
	if err != nil {
		return err
	}
	ne := numberErrors{}
	if _, err := s.refuse(ctx, f, reqID, accountID, numbers, asSent, ne); err != nil {
		return err
	}
	return ne.err()
}

func claimMessage(c *Claim, accountID string) string {
	if c.AccountID != accountID {
		return msgOtherAccount
	}
	return msgOnRequest + c.RequestID
}

// claimIsLive reports whether a claim's request still holds the number. A
// process that died between claiming and writing its request leaves a stale
// claim; checking the holder makes such claims heal themselves.
//
// A claim younger than claimGrace counts as live whatever its request says:
// its holder may be between claiming and writing its new state.
func (s *Service) claimIsLive(ctx context.Context, c *Claim) (bool, error) {
	if s.gregorianNow()-c.Created < claimGrace {
		return true, nil
	}
	holder, err := s.store.GetRequest(ctx, c.RequestID)
	if IsKind(err, KindNotFound) {
		// A claim another site made may arrive before its request does:
		// only a request seen inactive frees it.
		return c.Site != "" && c.Site != s.site, nil
	}
	if err != nil {
		return false, err
	}
	if holder.Deleted || !holder.State.Active() {
		return false, nil
	}
	for _, n := range holder.Numbers() {
		if n == c.Number {
			return true, nil
		}
	}
	return false, nil
}

// claimNumbers makes request r hold every number in asSent. It returns the
// numbers this call claimed (to release if the caller's write fails). On
// any number error it releases what it took and returns the errors.
func (s *Service) claimNumbers(ctx context.Context, r *Request, asSent map[string]string) ([]string, error) {
	numbers := sortedKeys(asSent)
	f, err := s.lookupNumbers(ctx, numbers)
	if err != nil {
		return nil, err
	}
	ne := numberErrors{}
	stale, err := s.refuse(ctx, f, r.ID, r.AccountID, numbers, asSent, ne)
	if err != nil {
		return nil, err
	}
	if err := ne.err(); err != nil {
		return nil, err
	}
	if len(stale) > 0 {
		if err := s.store.DeleteClaims(ctx, stale); err != nil {
			return nil, err
		}
	}
	now := s.gregorianNow()
	var want []*Claim
	for _, n := range numbers {
		if c, ok := f.claims[n]; ok && c.RequestID == r.ID {
			continue
		}
		want = append(want, &Claim{Number: n, RequestID: r.ID, AccountID: r.AccountID, Created: now, Type: ClaimType, Site: s.site})
	}
	taken, err := s.store.CreateClaims(ctx, want)
	takenSet := map[string]bool{}
	for _, n := range taken {
		takenSet[n] = true
	}
	var got []string
	for _, c := range want {
		if !takenSet[c.Number] && c.Rev != "" {
			got = append(got, c.Number)
		}
	}
	s.claimCounts.claimed.Add(uint64(len(got)))
	if err != nil {
		s.releaseNumbers(ctx, r.ID, got)
		return nil, err
	}
	if len(taken) == 0 {
		return got, nil
	}
	// Someone claimed between our read and our write, or a CouchDB
	// cluster answered "conflict" to a write that stood on one shard copy
	// (racing creates through two nodes: TestClusterClaims under CI load).
	// Every copy's revisions decide: a number whose only live revision is
	// ours is ours (an earlier attempt of this request, or the race's only
	// survivor); beside another request's revision it is lost, and our
	// revision goes with the rest of what we took.
	revs, err := s.store.ClaimRevisions(ctx, taken)
	if err != nil {
		s.releaseNumbers(ctx, r.ID, append(got, taken...))
		return nil, err
	}
	var lost []string
	for _, n := range taken {
		if live := revs[n]; len(live) == 1 && live[0].RequestID == r.ID {
			got = append(got, n)
			s.claimCounts.claimed.Add(1)
			continue
		}
		lost = append(lost, n)
	}
	s.claimCounts.lost.Add(uint64(len(lost)))
	if len(lost) == 0 {
		return got, nil
	}
	s.releaseNumbers(ctx, r.ID, append(got, lost...))
	for _, n := range lost {
		var holder *Claim
		for _, c := range revs[n] {
			if c.RequestID != r.ID {
				holder = c
				break
			}
		}
		if holder == nil {
			return nil, E(KindConflict, "datastore conflict") // the holder left meanwhile: retry
		}
		ne.add(asSent[n], claimMessage(holder, r.AccountID))
	}
	return nil, ne.err()
}

// releaseNumbers deletes every revision of the claims request reqID holds
// on numbers (see ClaimStore.ClaimRevisions). It is best effort: a claim
// left behind is stale and is taken over by the next request that needs
// the number (see claimIsLive).
func (s *Service) releaseNumbers(ctx context.Context, reqID string, numbers []string) {
	if len(numbers) == 0 {
		return
	}
	ctx = context.WithoutCancel(ctx)
	revs, err := s.store.ClaimRevisions(ctx, numbers)
	if err != nil {
		s.log.Warn("claims not released (stale until taken over)", "request_id", reqID, "numbers", numbers, "error", err)
		return
	}
	var mine []*Claim
	for _, n := range numbers {
		for _, c := range revs[n] {
			if c.RequestID == reqID {
				mine = append(mine, c)
			}
		}
	}
	if err := s.store.DeleteClaims(ctx, mine); err != nil {
		s.log.Warn("claims not released (stale until taken over)", "request_id", reqID, "numbers", numbers, "error", err)
		return
	}
	s.claimCounts.released.Add(uint64(len(mine)))
}
