package doctest

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// docs are the repository's own documents: the README and docs/.
func docs(t *testing.T) (root string, files []string) {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	more, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	return root, append([]string{filepath.Join(root, "README.md")}, more...)
}

// TestRepoTablesRender checks that every table in the README and docs/
// renders as a table.
func TestRepoTablesRender(t *testing.T) {
	_, files := docs(t)
	for _, f := range files {
		doc, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, err := range CheckTables(string(doc)) {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// TestRepoDocsStandAlone checks that the README and docs/ lead nowhere
// outside the repository: links resolve inside it (anchors included), and
// no text sends the reader to documents it does not hold (the product
// spec, the Kazoo seed documents, the shared directory of the machine
// they were written on).
func TestRepoDocsStandAlone(t *testing.T) {
	root, files := docs(t)
	outside := regexp.MustCompile(`(?i)\bSPEC(\.md)? ?§|\bSPEC\.md\b|the seed's|\.\./shared\b|/work/shared`)
	for _, f := range files {
		doc, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range outside.FindAllString(string(doc), -1) {
			t.Errorf("%s: %q points outside the repository", f, m)
		}
		for _, err := range CheckLinks(root, f) {
			t.Error(err)
		}
	}
}
