package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
)

// mixedName is the scenario that blends the others, as a service sees
// them: mostly reads, some writes, at every client count. It is where
// "steady RSS under the 16-client mixed load" is read (memory.Mixed).
const mixedName = "mixed"

// mixedPart is one kind of request in the mix and its weight (percent).
type mixedPart struct {
	name   string
	weight int
}

// mixedParts is the blend: reads of single requests dominate (Monster UI
// opens requests), then number searches, the account, the two paged
// listings; one request in four is a write: creations, and submissions of
// requests the mix itself created. Uploads and LOA renders are left out:
// they are measured on their own (upload_1mb, loa, attachment_8mb) and a
// few of them would outweigh everything else in this mix.
var mixedParts = []mixedPart{
	{"get_request", 35},
	{"by_number", 15},
	{"get_account", 10},
	{"page_completed_50", 10},
	{"descendants_completed_50", 5},
	{"create_request", 15},
	{"submit_request", 10},
}

func mixedNote() string {
	var parts []string
	for _, p := range mixedParts {
		parts = append(parts, fmt.Sprintf("%s %d%%", p.name, p.weight))
	}
	return "a blend, each request picked at random: " + strings.Join(parts, ", ") +
		" (as in those scenarios; create_request keeps the ids it creates and submit_request submits one of them, a create when none is left); each kind is sent once before the warmup, so that CouchDB's views are up to date when the measurement starts"
}

// prepareMixed prepares the read scenarios the mix draws on and returns
// the blended operation.
func prepareMixed(ctx context.Context, e *env, clients int, rates map[string]float64) (op, error) {
	main, _, _ := scenarios()
	ops := make([]op, len(mixedParts))
	var cum []int
	total := 0
	created := make(chan string, 4096) // unconfirmed requests for submit_request
	createPath := "/v2/accounts/" + e.seed.workAccount + "/port_requests"
	submitPrefix := createPath + "/"
	var n atomic.Int64
	create := func(ctx context.Context) error {
		body := requestBody("load mixed "+strconv.FormatInt(n.Add(1), 10), e.seed.numbers.next())
		env, err := e.api.call(ctx, http.MethodPut, createPath, body, http.StatusCreated)
		if err != nil {
			return err
		}
		id, _ := dataField(env, "id")
		if id == "" {
			return errors.New("create: no data.id")
		}
		select {
		case created <- id:
		default: // enough waiting: submit_request cannot keep up
		}
		return nil
	}
	for i, p := range mixedParts {
		total += p.weight
		cum = append(cum, total)
		switch p.name {
		case "create_request":
			ops[i] = func(ctx context.Context, _ *worker) error { return create(ctx) }
		case "submit_request":
			ops[i] = func(ctx context.Context, _ *worker) error {
				select {
				case id := <-created:
					return e.send(e.api.newRequest(ctx, http.MethodPatch, submitPrefix+id+"/submitted?accept_charges=true", nil))
				default:
					return create(ctx)
				}
			}
		default:
			s := main[p.name]
			if s == nil {
				return nil, fmt.Errorf("mixed: unknown scenario %q", p.name)
			}
			o, err := s.prepare(ctx, e, clients, rates)
			if err != nil {
				return nil, fmt.Errorf("mixed: %s: %w", p.name, err)
			}
			ops[i] = o
		}
	}
	// Each kind once, outside the clock: CouchDB updates a view when it is
	// queried, so the first listing after the write scenarios would wait
	// for every write since (seconds on pouchdb-server) inside the
	// measurement.
	w := &worker{rng: rand.New(rand.NewPCG(1, uint64(clients)))}
	for i, p := range mixedParts {
		if err := ops[i](ctx, w); err != nil {
			return nil, fmt.Errorf("mixed: priming %s: %w", p.name, err)
		}
	}
	return func(ctx context.Context, w *worker) error {
		x := w.rng.IntN(total)
		for i, c := range cum {
			if x < c {
				return ops[i](ctx, w)
			}
		}
		return ops[len(ops)-1](ctx, w)
	}, nil
}
