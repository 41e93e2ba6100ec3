package api

import (
	"encoding/json"

	"github.com/portreqd/portreqd/pkg/lnp"
	"github.com/portreqd/portreqd/pkg/porting"
)

// maxLookupNumbers bounds one portability check.
const maxLookupNumbers = 1000

// lnpLookup is POST …/port_requests/lnp_lookup, Monster UI master's
// portability check: {"data":{"numbers":["+1…"]}} answered with, per
// number as sent, its losing carrier, the carriers that can take it
// (portability true) and the documents a port needs; a number no source
// knows has status "unknown" and no carrier. Numbers that are not valid
// North American numbers are refused, each with its reason.
func (a *API) lnpLookup(c *call) (*reply, error) {
	acct, err := c.pathID("account_id")
	if err != nil {
		return nil, err
	}
	if _, err := a.svc.Authorize(c.r.Context(), c.actor, acct); err != nil {
		return nil, err
	}
	data, err := c.data()
	if err != nil {
		return nil, err
	}
	var numbers []string
	if raw, ok := data["numbers"]; !ok || json.Unmarshal(raw, &numbers) != nil || len(numbers) == 0 {
		return nil, porting.ValidationError("numbers", "required", "numbers must be a non-empty list of phone numbers", nil)
	}
	if len(numbers) > maxLookupNumbers {
		return nil, porting.ValidationError("numbers", "maxItems", "at most 1000 numbers per lookup", map[string]any{"value": len(numbers)})
	}
	results, err := lnp.Lookup(c.r.Context(), numbers, a.lnp...)
	if err != nil {
		return nil, porting.Wrap(porting.KindUnavailable, "portability lookup unavailable", err)
	}
	invalid := map[string]any{}
	out := map[string]any{}
	for n, r := range results {
		if r.Status == lnp.Invalid {
			invalid[n] = map[string]any{"pattern": map[string]any{"cause": n, "message": r.Reason}}
			continue
		}
		out[n] = lookupAnswer(r)
	}
	if len(invalid) > 0 {
		return nil, &porting.Error{Kind: porting.KindValidation, Message: "validation error", Data: invalid}
	}
	return &reply{data: map[string]any{"numbers": out}}, nil
}

func lookupAnswer(r lnp.Result) map[string]any {
	if r.Status != lnp.Known {
		return map[string]any{"status": string(r.Status), "carriers": []any{}, "documents": []string{}}
	}
	carriers := make([]any, len(r.Carriers))
	for i, name := range r.Carriers {
		carriers[i] = map[string]any{"name": name, "portability": true}
	}
	return map[string]any{
		"status":         string(r.Status),
		"losing_carrier": map[string]any{"name": r.LosingCarrier},
		"carriers":       carriers,
		"documents":      r.Documents,
		"source":         r.Source,
	}
}
