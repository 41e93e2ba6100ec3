// Package sample is testsummary's fixture: tests that pass, fail and
// skip, run for real by TestSummarize (never by go test ./...: testdata
// is not a package pattern's).
package sample

import "testing"

func TestPasses(t *testing.T) { t.Log("quiet when passing") }

func TestFails(t *testing.T) { t.Error("the failure's own words") }

func TestSkips(t *testing.T) { t.Skip("not here") }

func TestParent(t *testing.T) {
	t.Run("ok", func(t *testing.T) {})
	t.Run("bad", func(t *testing.T) { t.Error("a subtest fails") })
}
