package porting

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

// failingCleanup is a store whose cleanup writes fail; nothing else of it
// is called by the code under test.
type failingCleanup struct {
	Store
	getErr error
}

var errStoreDown = errors.New("store down")

func (f failingCleanup) ClaimRevisions(_ context.Context, numbers []string) (map[string][]*Claim, error) {
	if f.getErr != nil {
		return nil, f.getErr
	}
	out := map[string][]*Claim{}
	for _, n := range numbers {
		out[n] = []*Claim{{Number: n, RequestID: "r1", Rev: "1-a"}}
	}
	return out, nil
}

func (failingCleanup) DeleteClaims(context.Context, []*Claim) error { return errStoreDown }

// TestCleanupFailuresLogged: best-effort cleanups that fail are not
// returned to anyone, so they must reach the log, naming what was left.
func TestCleanupFailuresLogged(t *testing.T) {
	cases := []struct {
		name string
		run  func(s *Service)
		want []string
	}{
		{"claims not read", func(s *Service) {
			s.store = failingCleanup{getErr: errStoreDown}
			s.releaseNumbers(context.Background(), "r1", []string{"+13125550100"})
		}, []string{`"level":"WARN"`, "claims not released", "+13125550100", "store down"}},
		{"claims not deleted", func(s *Service) {
			s.releaseNumbers(context.Background(), "r1", []string{"+13125550101"})
		}, []string{`"level":"WARN"`, "claims not released", "+13125550101", "store down"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			s := NewService(Config{Store: failingCleanup{}, Log: slog.New(slog.NewJSONHandler(&buf, nil))})
			c.run(s)
			for _, w := range c.want {
				if !strings.Contains(buf.String(), w) {
					t.Errorf("log lacks %q:\n%s", w, buf.String())
				}
			}
		})
	}
}
