// Package lnp answers a portability pre-check (Monster UI master's wizard,
// POST …/port_requests/lnp_lookup): for each number, whether it is a
// valid North American number, which carrier holds it today (the losing
// carrier), which carriers can take it, and the documents a port needs.
// The answers come from sources the operator configures: a table of
// NPA-NXX blocks loaded at start, and optionally an HTTP lookup service.
// A number no source knows is reported unknown, never guessed portable.
package lnp

import (
	"context"
	"strings"
)

// Status says what is known of a number.
type Status string

const (
	// Known: a source names its losing carrier.
	Known Status = "known"
	// Unknown: no source knows the number; nothing is claimed about it.
	Unknown Status = "unknown"
	// Invalid: not a valid North American number.
	Invalid Status = "invalid"
)

// Result is what is known of one number.
type Result struct {
	Status Status
	// LosingCarrier holds the number today.
	LosingCarrier string
	// Carriers can take the number (port it in).
	Carriers []string
	// Documents a port of this number needs (e.g. "loa", "bill").
	Documents []string
	// Reason explains an invalid number.
	Reason string
	// Source names where the answer came from ("table", "http").
	Source string
}

// Source looks numbers up. Numbers arrive as valid NANP E.164
// (+1NXXNXXXXXX); a number the source does not know is left out.
type Source interface {
	Lookup(ctx context.Context, numbers []string) (map[string]Result, error)
}

// Lookup validates numbers (as the client sent them) and asks each source
// in turn about those still unknown. The answer is keyed by the number as
// sent.
func Lookup(ctx context.Context, numbers []string, sources ...Source) (map[string]Result, error) {
	out := make(map[string]Result, len(numbers))
	e164 := map[string][]string{} // E.164 → as sent
	var pending []string
	for _, n := range numbers {
		norm, reason := NANP(n)
		if reason != "" {
			out[n] = Result{Status: Invalid, Reason: reason}
			continue
		}
		if _, seen := e164[norm]; !seen {
			pending = append(pending, norm)
		}
		e164[norm] = append(e164[norm], n)
		out[n] = Result{Status: Unknown}
	}
	for _, src := range sources {
		if len(pending) == 0 {
			break
		}
		found, err := src.Lookup(ctx, pending)
		if err != nil {
			return nil, err
		}
		var still []string
		for _, n := range pending {
			r, ok := found[n]
			if !ok || r.LosingCarrier == "" {
				still = append(still, n)
				continue
			}
			r.Status = Known
			for _, sent := range e164[n] {
				out[sent] = r
			}
		}
		pending = still
	}
	return out, nil
}

// NANP normalizes a North American number to E.164, or says why it is
// not one: ten digits (optionally after +1 or 1) whose area code and
// exchange start with 2–9 and are not N11 service codes.
func NANP(raw string) (e164, reason string) {
	var digits strings.Builder
	for i, r := range strings.TrimSpace(raw) {
		switch {
		case r >= '0' && r <= '9':
			digits.WriteRune(r)
		case r == '+' && i == 0:
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return "", "not a phone number"
		}
	}
	d := digits.String()
	if strings.HasPrefix(strings.TrimSpace(raw), "+") && !strings.HasPrefix(d, "1") {
		return "", "not a North American (+1) number"
	}
	if len(d) == 11 && d[0] == '1' {
		d = d[1:]
	}
	if len(d) != 10 {
		return "", "a North American number has 10 digits"
	}
	npa, nxx := d[0:3], d[3:6]
	switch {
	case npa[0] < '2':
		return "", "the area code must not start with 0 or 1"
	case npa[1:] == "11":
		return "", "the area code must not be a service code (N11)"
	case nxx[0] < '2':
		return "", "the exchange must not start with 0 or 1"
	case nxx[1:] == "11":
		return "", "the exchange must not be a service code (N11)"
	}
	return "+1" + d, ""
}
