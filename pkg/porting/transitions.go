package porting

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
)

// TransitionInput is what a PATCH carries besides the target state.
type TransitionInput struct {
	Data          Fields // public members to merge, plus reason / schedule_on
	AcceptCharges bool
}

// Charges is the 402 body asking the client to accept activation charges.
func chargesError(total float64) *Error {
	return &Error{Kind: KindPaymentRequired, Message: "accept charges", Data: map[string]any{
		"activation_charges": total,
		"number_services":    map[string]any{"port": map[string]any{"activation_charges": total}},
	}}
}

// Transition moves request id to state to. It checks the transition table,
// who may make the move, charges, and number claims; then records the
// transition in pvt_transitions. Any failure changes nothing.
func (s *Service) Transition(ctx context.Context, actor *Account, accountID, id string, to State, in TransitionInput) (*Request, error) {
	if _, err := s.Authorize(ctx, actor, accountID); err != nil {
		return nil, err
	}
	reason, scheduled, err := transitionExtras(in.Data)
	if err != nil {
		return nil, err
	}
	user := s.transitionUser(ctx, actor)
	var out *Request
	var mine string // the completion intent this call wrote, adopted on retries
	err = s.retryConflict(ctx, func() error {
		r, err := s.requestFor(ctx, accountID, id)
		if err != nil {
			return err
		}
		if err := s.guardIntent(ctx, r, mine); err != nil {
			return err
		}
		from := r.State
		if !CanTransition(from, to, s.rules.AllowSubmittedToScheduled) {
			return IllegalTransition(to)
		}
		if needsAuthority(from, to) {
			ok, auth, err := s.actsAsAuthority(ctx, actor, r)
			if err != nil {
				return err
			}
			if !ok {
				return Forbidden(fmt.Sprintf("only the port authority (%s) may move a %s port request to %s", auth.Name, from, to))
			}
		}
		next := *r
		next.Public = mergePublic(r.Public, in.Data)
		if _, ok := in.Data["comments"]; ok {
			if next.Public, err = s.mergeComments(ctx, actor, r, next.Public); err != nil {
				return err
			}
		}
		delete(next.Public, "reason")
		delete(next.Public, "schedule_on")
		delete(next.Public, "accept_charges")
		if scheduled != 0 {
			next.Public.Set("scheduled_date", scheduled)
		}
		v, err := validateRequest(next.Public)
		if err != nil {
			return err
		}
		next.Public = v.public
		if err := s.checkLimits(&next, r); err != nil {
			return err
		}
		numbers := next.Numbers()
		if to == Submitted && s.rules.ActivationCharge > 0 && !in.AcceptCharges {
			return chargesError(roundCents(s.rules.ActivationCharge * float64(len(numbers))))
		}
		now := s.gregorianNow()
		var claimed []string
		if to.Active() || to == Completed {
			if claimed, err = s.claimNumbers(ctx, &next, v.asSent); err != nil {
				return err
			}
		}
		if to == Completed {
			// The saga (completion.go): intent, activation, commit.
			in := intentOf(r)
			if in == nil || in.Token != mine {
				if err := s.confirmAtEverySite(ctx, &next, numbers); err != nil {
					if !IsKind(err, KindUnavailable) {
						// Claims this call took stay while the other
						// sites catch up with them, so that the retry
						// finds them confirmed; left unused they go
						// stale (claimIsLive).
						s.releaseNumbers(ctx, next.ID, claimed)
					}
					return err
				}
				in = &completionIntent{Token: RandomID(), Started: now, Numbers: numbers, By: actor.ID}
				if s.rules.ActivationCharge > 0 {
					in.DebitDB = LedgerDB(r.AccountID, now)
				}
				held := withIntent(r, in)
				if err := s.store.UpdateRequest(ctx, held); err != nil {
					s.releaseNumbers(ctx, next.ID, claimed)
					return err // a racing change won: read again
				}
				mine, next.Rev = in.Token, held.Rev
			}
			if err := s.activateNumbers(ctx, &next, in.Numbers, in.Started, in.DebitDB); err != nil {
				if rerr := s.rollBack(ctx, withIntent(&next, in), in, true); rerr != nil {
					s.log.Error("completion failed and its rollback too: the recovery pass will finish it", "request_id", next.ID, "error", rerr)
				}
				mine = ""
				s.releaseNumbers(ctx, next.ID, claimed)
				return err
			}
			// Kazoo 4.3 (knm_port_request clear_numbers_from_port) keeps
			// the numbers it ported in pvt_ported_numbers, which its
			// _read_only block shows; portreqd keeps numbers too.
			next.Private = next.Private.Clone()
			delete(next.Private, intentMember)
			if raw, ok := next.Public["numbers"]; ok {
				next.Private["pvt_ported_numbers"] = raw
			}
		}
		if to == Submitted {
			next.Sent = false
		}
		next.State = to
		next.Modified = now
		var tr Transition
		tr.Timestamp, tr.Type, tr.Reason = now, "transition", reason
		tr.Transition = TransitionState{New: to, Previous: from}
		tr.Authorization.Account.ID, tr.Authorization.Account.Name = actor.ID, actor.Name
		tr.Authorization.User = user
		next.Transitions = append([]Transition{tr}, r.Transitions...)
		SortTransitions(next.Transitions)
		ev := s.event(stateEvent(to), &next, actor, now)
		ev.Reason = reason
		next.addEvent(ev)
		if err := s.store.UpdateRequest(ctx, &next); err != nil {
			if to != Completed {
				s.releaseNumbers(ctx, next.ID, claimed)
			}
			// A completion keeps its claims and intent: on a conflict it
			// reads again and adopts them; on any other failure (the
			// write may even have landed) the recovery pass decides.
			return err
		}
		if !to.Active() {
			// Completed numbers now live in the number databases; rejected
			// and canceled requests hold nothing.
			s.releaseNumbers(ctx, next.ID, numbers)
		}
		out = &next
		return nil
	})
	return out, err
}

// activateNumbers puts every number of r in service in r's account and,
// when debitDB names the ledger, records the activation debit there. Both
// are idempotent (fixed ids): a number already in service for r, or the
// debit already written, is adopted, so a completion that retries neither
// duplicates numbers nor charges twice. now stamps what it creates.
func (s *Service) activateNumbers(ctx context.Context, r *Request, numbers []string, now int64, debitDB string) error {
	existing, err := s.store.GetNumbers(ctx, numbers)
	if err != nil {
		return err
	}
	ne := numberErrors{}
	for _, n := range numbers {
		if existing[n].inServiceFor(r.ID) {
			ne.add(n, msgExistsOnSystem)
		}
	}
	if err := ne.err(); err != nil {
		return err
	}
	for _, n := range numbers {
		if _, ok := existing[n]; ok {
			continue
		}
		doc := &PhoneNumber{Number: n, State: NumberInService, AssignedTo: r.AccountID, PortedIn: true,
			PortID: r.ID, Created: now, Modified: now, Other: Fields{}}
		if app := r.usedBy(n); app != "" {
			// The application the number was ported for (Monster UI's
			// numbers.<n>.used_by), as knm_numbers:assign_to_app keeps it.
			doc.Other.Set("pvt_used_by", app)
		}
		if err := s.store.CreateNumber(ctx, doc); err != nil {
			if IsKind(err, KindConflict) {
				ne.add(n, msgExistsOnSystem)
				return ne.err()
			}
			return err
		}
	}
	if debitDB == "" {
		return nil
	}
	t := &Transaction{
		ID: debitID(r.ID), Type: "debit", Reason: "number_activation", Code: 1003,
		Amount:      DollarsToUnits(s.rules.ActivationCharge * float64(len(numbers))),
		Description: fmt.Sprintf("activation charges for %d ported number(s), port request %s", len(numbers), r.ID),
		AccountID:   r.AccountID, DB: debitDB, Created: now, Modified: now, Vsn: 2,
	}
	t.AccountDB = EncodedDB(t.DB)
	t.Metadata.PortRequestID = r.ID
	t.Metadata.Numbers = numbers
	if err := s.store.CreateTransaction(ctx, t); err != nil && !IsKind(err, KindConflict) {
		return err
	}
	return nil
}

// LedgerDB is Kazoo's monthly database of account's transactions at now
// (Gregorian seconds): account/xx/yy/rest-YYYYMM.
func LedgerDB(account string, now int64) string {
	return AccountDB(account) + "-" + FromGregorian(now).Format("200601")
}

// transitionExtras reads reason and the schedule from a PATCH body.
// schedule_on {date_time: "2026-12-01 09:00", timezone: "America/New_York"}
// becomes scheduled_date in Gregorian seconds.
func transitionExtras(data Fields) (reason string, scheduled int64, err error) {
	if raw, ok := data["reason"]; ok && !isNull(raw) {
		if json.Unmarshal(raw, &reason) != nil {
			return "", 0, typeError("reason", "string", raw)
		}
	}
	raw, ok := data["schedule_on"]
	if !ok || isNull(raw) {
		return reason, 0, nil
	}
	var on struct {
		DateTime string `json:"date_time"`
		Timezone string `json:"timezone"`
	}
	if jsonType(raw) != "object" || json.Unmarshal(raw, &on) != nil {
		return "", 0, typeError("schedule_on", "object", raw)
	}
	loc := time.UTC
	if on.Timezone != "" {
		if loc, err = time.LoadLocation(on.Timezone); err != nil {
			return "", 0, ValidationError("schedule_on.timezone", "enum", "unknown time zone "+on.Timezone,
				map[string]any{"cause": on.Timezone})
		}
	}
	var t time.Time
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02T15:04:05"} {
		if t, err = time.ParseInLocation(layout, strings.TrimSpace(on.DateTime), loc); err == nil {
			return reason, Gregorian(t), nil
		}
	}
	return "", 0, ValidationError("schedule_on.date_time", "format",
		"expected a local date and time like 2026-12-01 09:00", map[string]any{"cause": on.DateTime})
}

func roundCents(x float64) float64 { return math.Round(x*100) / 100 }
