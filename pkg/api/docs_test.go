package api_test

import (
	"os"
	"regexp"
	"testing"

	"github.com/portreqd/portreqd/pkg/api"
	"github.com/portreqd/portreqd/test/doctest"
)

// TestDocsCoverEveryRoute asks docs/api.md for at least one example of
// every route routes.go registers, each method counted apart; the examples
// themselves run against a real portreqd in test/e2e (TestDocsExamples).
func TestDocsCoverEveryRoute(t *testing.T) {
	doc, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	examples, err := doctest.Parse(string(doc))
	if err != nil {
		t.Fatalf("docs/api.md: %v", err)
	}
	// A placeholder in a path stands for an id: any one segment.
	placeholder := regexp.MustCompile(`\$\{?[A-Z][A-Z0-9_]*\}?`)
	covered := map[api.Route]bool{}
	for _, ex := range examples {
		path := placeholder.ReplaceAllString(ex.Path, "0123456789abcdef0123456789abcdef")
		route, ok := api.RouteOf(ex.Method, path)
		if !ok {
			t.Errorf("docs/api.md:%d: %s %s matches no route", ex.Line, ex.Method, ex.Path)
			continue
		}
		covered[route] = true
	}
	routes, err := api.Routes()
	if err != nil {
		t.Fatal(err)
	}
	if len(routes) < 40 {
		t.Fatalf("found only %d routes; is the route walk broken?", len(routes))
	}
	for _, r := range routes {
		if !covered[r] {
			t.Errorf("docs/api.md has no example of %s %s", r.Method, r.Template)
		}
	}
}
