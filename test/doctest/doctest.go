// Package doctest reads the examples of a Markdown API reference
// (docs/api.md) so that tests can run every one against a real portreqd
// and check that every route has one: documentation that is executed
// cannot drift from the server.
//
// The convention, also stated at the top of docs/api.md: an example is a
// fenced ```sh block holding one curl command (lines may continue with a
// trailing backslash; a here-document may follow as its body), followed,
// with nothing but blank lines between, by a fenced ```http block: the
// status line, any headers the answer must carry, a blank line and the
// answer's body. A ```sh block without curl is not an example.
package doctest

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
)

// Example is one documented call and its documented answer.
type Example struct {
	Line    int               // line of the command in the document (1-based)
	Command string            // the shell text, exactly as documented
	Method  string            // HTTP method the curl command sends
	Path    string            // URL path after $PORTREQD, $VARIABLES left in, no query
	Status  int               // documented status code
	Header  map[string]string // documented headers (canonical names not required)
	Body    string            // documented body, possibly empty
}

// fence is one fenced code block.
type fence struct {
	info string
	line int // line of the opening fence
	text string
	next int // index of the first line after the closing fence
}

// Parse returns the examples of a Markdown document, in document order.
// A curl block without an answer block, or an answer that does not start
// with a status line, is an error: an example that is not checked must
// not look like one that is.
func Parse(doc string) ([]Example, error) {
	lines := strings.Split(doc, "\n")
	var fences []fence
	between := map[int]bool{} // index into fences: only blank lines before the next fence
	for i := 0; i < len(lines); i++ {
		info, ok := strings.CutPrefix(lines[i], "```")
		if !ok {
			continue
		}
		f := fence{info: strings.TrimSpace(info), line: i + 1}
		var body []string
		j := i + 1
		for ; j < len(lines) && strings.TrimSpace(lines[j]) != "```"; j++ {
			body = append(body, lines[j])
		}
		if j == len(lines) {
			return nil, fmt.Errorf("line %d: code block never closed", i+1)
		}
		f.text, f.next = strings.Join(body, "\n"), j+1
		if n := len(fences); n > 0 {
			blank := true
			for _, l := range lines[fences[n-1].next:i] {
				blank = blank && strings.TrimSpace(l) == ""
			}
			between[n-1] = blank
		}
		fences = append(fences, f)
		i = j
	}
	var out []Example
	for k, f := range fences {
		if f.info != "sh" || !strings.Contains(f.text, "curl ") {
			continue
		}
		if k+1 == len(fences) || !between[k] || fences[k+1].info != "http" {
			return nil, fmt.Errorf("line %d: a curl example must be followed by a ```http answer block", f.line)
		}
		if n := curlCount(f.text); n != 1 {
			return nil, fmt.Errorf("line %d: an example holds one curl command, this one %d", f.line, n)
		}
		ex, err := example(f, fences[k+1])
		if err != nil {
			return nil, err
		}
		out = append(out, ex)
	}
	return out, nil
}

// example reads one command and its answer.
func example(cmd, answer fence) (Example, error) {
	ex := Example{Line: cmd.line + 1, Command: cmd.text, Header: map[string]string{}}
	words, err := split(curlLine(cmd.text))
	if err != nil {
		return ex, fmt.Errorf("line %d: %v", ex.Line, err)
	}
	ex.Method, ex.Path, err = request(words)
	if err != nil {
		return ex, fmt.Errorf("line %d: %v", ex.Line, err)
	}
	sc := bufio.NewScanner(strings.NewReader(answer.text))
	if !sc.Scan() {
		return ex, fmt.Errorf("line %d: empty answer block", answer.line)
	}
	proto, rest, _ := strings.Cut(sc.Text(), " ")
	code, _, _ := strings.Cut(rest, " ")
	if ex.Status, err = strconv.Atoi(code); err != nil || !strings.HasPrefix(proto, "HTTP/") {
		return ex, fmt.Errorf("line %d: answer must start with a status line such as HTTP/1.1 200 OK", answer.line+1)
	}
	for sc.Scan() && sc.Text() != "" {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			return ex, fmt.Errorf("line %d: header line without a colon: %q", answer.line, sc.Text())
		}
		ex.Header[strings.TrimSpace(name)] = strings.TrimSpace(value)
	}
	var body []string
	for sc.Scan() {
		body = append(body, sc.Text())
	}
	ex.Body = strings.Join(body, "\n")
	return ex, nil
}

// curlCount counts the lines of text that start a curl command.
func curlCount(text string) int {
	n := 0
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "curl ") {
			n++
		}
	}
	return n
}

// curlLine returns the curl command's own line, continuations joined,
// without a here-document's body.
func curlLine(text string) string {
	var b strings.Builder
	started := false
	for _, l := range strings.Split(text, "\n") {
		if !started {
			if !strings.HasPrefix(strings.TrimSpace(l), "curl ") {
				continue
			}
			started = true
		}
		cont, more := strings.CutSuffix(l, "\\")
		b.WriteString(cont + " ")
		if !more {
			break
		}
	}
	return b.String()
}

// request finds the method and path a curl command sends.
func request(words []string) (method, path string, err error) {
	data := false
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch {
		case strings.HasPrefix(w, "$PORTREQD") || strings.HasPrefix(w, "${PORTREQD}"):
			path = strings.TrimPrefix(strings.TrimPrefix(w, "$PORTREQD"), "${PORTREQD}")
		case w == "--request" && i+1 < len(words):
			method = words[i+1]
			i++
		case w == "--head":
			method = "HEAD"
		case strings.HasPrefix(w, "--data") || w == "--form":
			data = true
		case len(w) > 1 && w[0] == '-' && w[1] != '-':
			// a cluster of short options such as -sI or -sX PUT
			for j, c := range w[1:] {
				rest := w[2+j:]
				switch c {
				case 'I':
					method = "HEAD"
				case 'd', 'F':
					data = true
				case 'X':
					if rest == "" && i+1 < len(words) {
						rest = words[i+1]
						i++
					}
					method = rest
				default:
					continue
				}
				if c != 'I' {
					break
				}
			}
		}
	}
	if path == "" {
		return "", "", fmt.Errorf("curl command has no URL starting with $PORTREQD")
	}
	path, _, _ = strings.Cut(path, "?")
	switch {
	case method != "":
	case data:
		method = "POST"
	default:
		method = "GET"
	}
	return method, path, nil
}

// split cuts a shell command line into words, honouring single and double
// quotes (enough for documented curl commands; no expansions).
func split(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range line {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unclosed quote in %q", line)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
