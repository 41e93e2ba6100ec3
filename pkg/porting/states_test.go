package porting

import "testing"

func TestTransitionTable(t *testing.T) {
	// allowed[to] = the sources SPEC §5 allows.
	allowed := map[State]map[State]bool{
		Submitted:   {Unconfirmed: true, Rejected: true},
		Pending:     {Submitted: true},
		Scheduled:   {Pending: true},
		Completed:   {Pending: true, Scheduled: true, Rejected: true},
		Rejected:    {Submitted: true, Pending: true, Scheduled: true},
		Canceled:    {Unconfirmed: true, Submitted: true, Pending: true, Scheduled: true, Rejected: true},
		Unconfirmed: {},
	}
	for _, to := range States {
		for _, from := range States {
			if got := CanTransition(from, to, false); got != allowed[to][from] {
				t.Errorf("%s → %s: %v, want %v", from, to, got, allowed[to][from])
			}
		}
	}
	if !CanTransition(Submitted, Scheduled, true) {
		t.Error("--allow-submitted-to-scheduled does not allow submitted → scheduled")
	}
	if CanTransition(Unconfirmed, Scheduled, true) {
		t.Error("the option opens more than submitted → scheduled")
	}
}

func TestNeedsAuthority(t *testing.T) {
	cases := []struct {
		from, to State
		want     bool
	}{
		{Unconfirmed, Submitted, false},
		{Rejected, Submitted, false},
		{Unconfirmed, Canceled, false},
		{Submitted, Canceled, true},
		{Rejected, Canceled, true},
		{Submitted, Pending, true},
		{Pending, Scheduled, true},
		{Scheduled, Completed, true},
		{Submitted, Rejected, true},
	}
	for _, c := range cases {
		if got := needsAuthority(c.from, c.to); got != c.want {
			t.Errorf("needsAuthority(%s, %s) = %v", c.from, c.to, got)
		}
	}
}

func TestActiveAndWindowed(t *testing.T) {
	for _, s := range States {
		wantActive := s == Submitted || s == Pending || s == Scheduled
		if s.Active() != wantActive {
			t.Errorf("%s.Active() = %v", s, s.Active())
		}
		wantWindowed := s == Completed || s == Canceled
		if s.Windowed() != wantWindowed {
			t.Errorf("%s.Windowed() = %v", s, s.Windowed())
		}
	}
}
