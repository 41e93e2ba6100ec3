package porting

import "sync/atomic"

// claimCounts counts the Service's claims as they happen, for ClaimStats.
type claimCounts struct {
	claimed, released, lost atomic.Uint64
}

// ClaimStats counts number claims since the Service was built, so that
// operators can watch claiming without the rules depending on a metrics
// library. Claimed: claims this Service wrote (one per number). Released:
// claims it deleted when a request let its numbers go (edited out,
// finished, or a claim undone). Lost: numbers whose claim another request
// won, in a race between writers or, across sites, when replication
// brought two claims and this site's lost.
type ClaimStats struct {
	Claimed, Released, Lost uint64
}

// ClaimStats returns the counts so far; it costs three atomic loads.
func (s *Service) ClaimStats() ClaimStats {
	return ClaimStats{
		Claimed:  s.claimCounts.claimed.Load(),
		Released: s.claimCounts.released.Load(),
		Lost:     s.claimCounts.lost.Load(),
	}
}
