package porting

import (
	"os/exec"
	"strings"
	"testing"
)

// TestStandardLibraryOnly keeps the domain on the standard library: what
// it imports beyond it is portreqd's own packages, which must keep to it
// too (codecs, caches and anything using other libraries depend on
// porting, never the reverse).
func TestStandardLibraryOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if !strings.HasPrefix(p, "github.com/portreqd/portreqd/") {
			t.Errorf("porting depends on %s, which is not the standard library", p)
		}
	}
}
