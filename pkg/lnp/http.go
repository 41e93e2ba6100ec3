package lnp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// HTTP asks an operator's lookup service: POST {"numbers":["+1…"]} to URL,
// answered {"numbers":{"+1…":{"losing_carrier":"…","carriers":["…"],
// "documents":["…"]}}}; numbers it leaves out are unknown to it.
type HTTP struct {
	URL    string
	Client *http.Client // nil: a client with a 10 s timeout
}

// Lookup posts the numbers and reads the answer.
func (h *HTTP) Lookup(ctx context.Context, numbers []string) (map[string]Result, error) {
	client := h.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	body, _ := json.Marshal(map[string][]string{"numbers": numbers})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("lnp lookup service: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("lnp lookup service answered %s", resp.Status)
	}
	var answer struct {
		Numbers map[string]struct {
			LosingCarrier string   `json:"losing_carrier"`
			Carriers      []string `json:"carriers"`
			Documents     []string `json:"documents"`
		} `json:"numbers"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&answer); err != nil {
		return nil, fmt.Errorf("lnp lookup service: %w", err)
	}
	out := map[string]Result{}
	for _, n := range numbers {
		a, ok := answer.Numbers[n]
		if !ok || a.LosingCarrier == "" {
			continue
		}
		if a.Carriers == nil {
			a.Carriers = []string{}
		}
		if a.Documents == nil {
			a.Documents = []string{}
		}
		out[n] = Result{LosingCarrier: a.LosingCarrier, Carriers: a.Carriers, Documents: a.Documents, Source: "http"}
	}
	return out, nil
}
