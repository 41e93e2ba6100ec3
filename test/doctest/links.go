package doctest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// link is a Markdown inline link or image: [text](target).
var link = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// CheckLinks reports the links of the Markdown file path that lead
// nowhere: a relative target that is not a file or directory inside root
// (the repository), or an #anchor that names no heading of its document.
// Links to web addresses are not followed.
func CheckLinks(root, path string) []error {
	doc, err := os.ReadFile(path)
	if err != nil {
		return []error{err}
	}
	var errs []error
	for _, m := range link.FindAllStringSubmatch(stripFences(string(doc)), -1) {
		target := m[1]
		if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
			continue
		}
		file, anchor, _ := strings.Cut(target, "#")
		dest := path
		if file != "" {
			dest = filepath.Join(filepath.Dir(path), file)
		}
		rel, err := filepath.Rel(root, dest)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			errs = append(errs, fmt.Errorf("%s: link %q leads outside the repository", path, target))
			continue
		}
		if _, err := os.Stat(dest); err != nil {
			errs = append(errs, fmt.Errorf("%s: link %q: no such file", path, target))
			continue
		}
		if anchor == "" {
			continue
		}
		text, err := os.ReadFile(dest)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: link %q: %v", path, target, err))
			continue
		}
		if !anchors(string(text))[anchor] {
			errs = append(errs, fmt.Errorf("%s: link %q: no heading with that anchor", path, target))
		}
	}
	return errs
}

// anchors returns the anchors GitHub gives a document's headings: lower
// case, spaces to hyphens, other punctuation dropped; repeats get -1, -2….
func anchors(doc string) map[string]bool {
	out := map[string]bool{}
	for _, line := range strings.Split(stripFences(doc), "\n") {
		title, ok := strings.CutPrefix(strings.TrimLeft(line, "#"), " ")
		if !ok || !strings.HasPrefix(line, "#") {
			continue
		}
		var b strings.Builder
		for _, r := range strings.ToLower(strings.TrimSpace(title)) {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r > 127:
				b.WriteRune(r)
			}
		}
		slug := b.String()
		for n, s := 0, slug; ; n++ {
			if !out[s] {
				out[s] = true
				break
			}
			s = fmt.Sprintf("%s-%d", slug, n+1)
		}
	}
	return out
}

// stripFences blanks the fenced code blocks of doc.
func stripFences(doc string) string {
	lines := strings.Split(doc, "\n")
	in := false
	for i, l := range lines {
		if strings.HasPrefix(l, "```") {
			in = !in
			lines[i] = ""
			continue
		}
		if in {
			lines[i] = ""
		}
	}
	return strings.Join(lines, "\n")
}
