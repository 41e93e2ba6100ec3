package collate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// TestAgainstCouchDB stores a corpus of keys in a real CouchDB, reads the
// view back in CouchDB's order and checks that sorting the same rows by
// Compare, and by Key, gives that order. Set COUCHDB_URL to a server admin
// URL (http://admin:secret@127.0.0.1:5984) to run it; couchdb/apache-couchdb
// start prints one.
func TestAgainstCouchDB(t *testing.T) {
	base := os.Getenv("COUCHDB_URL")
	if base == "" {
		t.Skip("COUCHDB_URL is not set: no CouchDB server to compare with")
	}
	c := &couch{t: t, base: strings.TrimRight(base, "/"), http: &http.Client{Timeout: 2 * time.Minute}}
	db := fmt.Sprintf("collate_test_%d", time.Now().UnixNano())
	c.do("PUT", "/"+db, nil, nil)
	t.Cleanup(func() { c.do("DELETE", "/"+db, nil, nil) })

	corpus := couchCorpus()
	ids := rand.New(rand.NewSource(7)).Perm(len(corpus)) // IDs unrelated to key order
	docs := make([]map[string]any, len(corpus))
	for i, k := range corpus {
		docs[i] = map[string]any{"_id": fmt.Sprintf("d%05d", ids[i]), "k": json.RawMessage(k)}
	}
	for start := 0; start < len(docs); start += 500 {
		var res []struct{ Error, Reason string }
		c.do("POST", "/"+db+"/_bulk_docs", map[string]any{"docs": docs[start:min(start+500, len(docs))]}, &res)
		for _, r := range res {
			if r.Error != "" {
				t.Fatalf("storing a document: %s: %s", r.Error, r.Reason)
			}
		}
	}
	c.do("PUT", "/"+db+"/_design/c", map[string]any{
		"views": map[string]any{"k": map[string]string{"map": "function(doc){ emit(doc.k, null) }"}},
	}, nil)
	var view struct{ Rows []row }
	c.do("GET", "/"+db+"/_design/c/_view/k", nil, &view)
	couchOrder := view.Rows
	if len(couchOrder) != len(corpus) {
		t.Fatalf("the view has %d rows for %d documents", len(couchOrder), len(corpus))
	}
	// The keys are compared as the view returns them: a key passes through
	// the JavaScript engine on its way into the view, which can respell it
	// (numbers become doubles, object members can move).
	respelled := 0
	byID := map[string]string{}
	for i, d := range docs {
		byID[d["_id"].(string)] = corpus[i]
	}
	for _, r := range couchOrder {
		if Compare(r.Key, []byte(byID[r.ID])) != 0 {
			respelled++
		}
	}

	byCompare := func(x, y row) int {
		if r := Compare(x.Key, y.Key); r != 0 {
			return r
		}
		return strings.Compare(x.ID, y.ID) // CouchDB's tie-break
	}
	keyOf := map[string][]byte{}
	for _, r := range couchOrder {
		k, err := Key(r.Key)
		if err != nil {
			t.Fatalf("Key(%s): %v", r.Key, err)
		}
		keyOf[r.ID] = append(k, r.ID...)
	}
	byKey := func(x, y row) int { return bytes.Compare(keyOf[x.ID], keyOf[y.ID]) }

	agreed := func(r row) bool { return inAgreedRepertoire(r.Key) }
	nAgreed := 0
	for _, r := range couchOrder {
		if agreed(r) {
			nAgreed++
		}
	}
	t.Logf("%d documents (%d keys respelled by the view's JavaScript), %d of them keyed within the repertoire where x/text agrees with ICU 72",
		len(corpus), respelled, nAgreed)

	for _, sorter := range []struct {
		name string
		cmp  func(x, y row) int
	}{{"Compare", byCompare}, {"Key", byKey}} {
		// Within the agreed repertoire the order must be CouchDB's.
		want := filterRows(couchOrder, agreed)
		got := slices.Clone(want)
		slices.SortStableFunc(got, sorter.cmp)
		reportOrder(t, t.Errorf, "sorted by "+sorter.name+" (agreed repertoire)", want, got, sorter.cmp)

		// Over the whole corpus, report where it is not (x/text's tables
		// are older than ICU 72's), without failing.
		all := slices.Clone(couchOrder)
		slices.SortStableFunc(all, sorter.cmp)
		reportOrder(t, t.Logf, "sorted by "+sorter.name+" (whole corpus, known x/text differences)", couchOrder, all, sorter.cmp)
	}

	// startkey: where a range starts is decided by the same collation, with
	// the query's key decoded by CouchDB (integers exactly, any size).
	sorted := slices.Clone(couchOrder)
	slices.SortStableFunc(sorted, byCompare)
	probes := 0
	defer func() { t.Logf("%d startkey probes", probes) }()
	for _, probe := range []string{
		`null`, `false`, `true`, `-1e300`, `-1`, `-0`, `0`, `0.5`, `1`, `1.0`, `1.5`, `2`,
		`9007199254740992`, `9007199254740993`, `12345678901234567000`, `12345678901234567001`,
		`12345678901234566999`, `1e21`, `1e300`, `""`, `" "`, `"-"`, `"0"`, `"9"`, `"a"`, `"A"`,
		`"á"`, `"b"`, `"e"`, `"é"`, `"résumé"`, `"z"`, `"Z"`, `"zz"`, `"Ω"`, `"я"`, `"あ"`, `"\ufff0"`,
		`[]`, `[null]`, `[1]`, `[1,"id"]`, `["a"]`, `["a",1]`, `["b",{}]`, `[[]]`, `[{}]`, `{}`, `{"a":1}`, `{"b":[]}`,
	} {
		if !inAgreedRepertoire([]byte(probe)) {
			continue
		}
		probes++
		var res struct{ Rows []row }
		c.do("GET", "/"+db+"/_design/c/_view/k?limit=1&startkey="+url.QueryEscape(probe), nil, &res)
		i, _ := slices.BinarySearchFunc(sorted, probe, func(r row, p string) int {
			if Compare(r.Key, []byte(p)) < 0 {
				return -1
			}
			return 1
		})
		switch {
		case len(res.Rows) == 0 && i == len(sorted):
		case len(res.Rows) == 0:
			t.Errorf("startkey=%s: CouchDB returns no row, Compare starts at %s (id %s)", probe, sorted[i].Key, sorted[i].ID)
		case i == len(sorted):
			t.Errorf("startkey=%s: CouchDB starts at %s (id %s), Compare after every row", probe, res.Rows[0].Key, res.Rows[0].ID)
		case res.Rows[0].ID != sorted[i].ID:
			t.Errorf("startkey=%s: CouchDB starts at %s (id %s), Compare at %s (id %s)", probe, res.Rows[0].Key, res.Rows[0].ID, sorted[i].Key, sorted[i].ID)
		}
	}
}

type row struct {
	ID  string          `json:"id"`
	Key json.RawMessage `json:"key"`
}

func filterRows(rows []row, keep func(row) bool) []row {
	var out []row
	for _, r := range rows {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

// reportOrder compares CouchDB's order (want) with a sorted one (got): it
// reports the first rows where they differ and every pair of rows that
// CouchDB has next to each other and cmp puts the other way round.
func reportOrder(t *testing.T, report func(string, ...any), what string, want, got []row, cmp func(x, y row) int) {
	t.Helper()
	diff := 0
	var first []string
	for i := range want {
		if want[i].ID != got[i].ID {
			diff++
			if len(first) < 5 {
				first = append(first, fmt.Sprintf("  row %d: CouchDB %s (id %s), Go %s (id %s)", i, want[i].Key, want[i].ID, got[i].Key, got[i].ID))
			}
		}
	}
	var inversions []string
	for i := 1; i < len(want); i++ {
		if cmp(want[i-1], want[i]) > 0 {
			inversions = append(inversions, fmt.Sprintf("  CouchDB has %s (id %s) before %s (id %s)", want[i-1].Key, want[i-1].ID, want[i].Key, want[i].ID))
		}
	}
	if diff == 0 {
		t.Logf("%s: all %d rows in CouchDB's order", what, len(want))
		return
	}
	if len(inversions) > 10 {
		inversions = append(inversions[:10], fmt.Sprintf("  … %d more", len(inversions)-10))
	}
	report("%s: %d of %d rows out of CouchDB's order; first differences:\n%s\nneighbours in CouchDB's order that Go orders the other way (%d):\n%s",
		what, diff, len(want), strings.Join(first, "\n"), len(inversions), strings.Join(inversions, "\n"))
}

// inAgreedRepertoire reports whether every string in the key keeps to the
// characters on which x/text's root collation (CLDR 23) and ICU 72's
// (CLDR 42) were found to agree, by comparing both on random strings:
// Latin (ASCII, Latin-1, Extended-A and -B, Extended Additional), control
// characters, basic Greek, the Russian alphabet, Hebrew and Arabic
// letters, kana, Hangul syllables and fullwidth ASCII, with at most one
// combining accent in a row.
func inAgreedRepertoire(raw []byte) bool {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if d.Decode(&v) != nil {
		return false
	}
	var ok func(v any) bool
	ok = func(v any) bool {
		switch v := v.(type) {
		case string:
			return agreedString(v)
		case []any:
			for _, e := range v {
				if !ok(e) {
					return false
				}
			}
		case map[string]any:
			for k, e := range v {
				if !agreedString(k) || !ok(e) {
					return false
				}
			}
		}
		return true
	}
	return ok(v)
}

func agreedString(s string) bool {
	prevMark := false
	for _, r := range s {
		mark := r >= 0x300 && r <= 0x36f
		switch {
		case mark && prevMark:
			return false
		case r < 0x250, mark, r >= 0x1e00 && r <= 0x1eff,
			r >= 0x391 && r <= 0x3c9 && r != 0x3a2,
			r >= 0x410 && r <= 0x44f, r == 0x401, r == 0x451,
			r >= 0x5d0 && r <= 0x5ea, r >= 0x621 && r <= 0x64a,
			r >= 0x3041 && r <= 0x3096, r >= 0x30a1 && r <= 0x30fa,
			r >= 0xac00 && r <= 0xd7a3, r >= 0xff01 && r <= 0xff5e:
		default:
			return false
		}
		prevMark = mark
	}
	return true
}

// couchCorpus returns about 2,000 keys, as JSON.
func couchCorpus() []string {
	r := rand.New(rand.NewSource(11))
	strs := []string{
		"", " ", "  ", "\t", "\n", " a", "a ", "a  b", "a b", "ab", "a-b", "a_b", "a.b", "a,b", "a'b", "a\"b", "a\\b", "a/b",
		"\u0000", "\u0001", "a\u0000b", "a\u0001", "\u001f", "\u007f", "a\u00ad", "\u200b", "a\u200db", "\ufeffa",
		"a", "A", "á", "Á", "à", "â", "ä", "ã", "å", "Å", "æ", "Æ", "b", "B", "c", "ç", "Ç", "e", "é", "É", "è", "ê", "ë",
		"e\u0301", "E\u0301", "i", "ı", "İ", "o", "ö", "ø", "Ø", "œ", "ß", "ss", "SS", "ẞ", "z", "Z", "ž", "Ž", "þ", "ð", "ł", "Ł",
		"resume", "Resume", "RESUME", "résumé", "Résumé", "resumé", "cote", "coté", "côte", "côté", "Cote", "COTE",
		"strasse", "straße", "Strasse", "naïve", "naive", "Zoë", "zoe", "Ångström", "angstrom", "Smith", "smith", "SMITH",
		"Müller", "Mueller", "Muller", "O'Brien", "OBrien", "o'brien", "de la Cruz", "De La Cruz", "dela cruz", "van der Berg", "Vanderberg",
		"Đặng", "Nguyễn", "Nguyen", "Łukasz", "Lukasz", "Żółć", "zolc", "Dvořák", "Dvorak", "Søren", "Soren",
		"0", "1", "2", "9", "00", "01", "1.5", "10", "100", "2a", "a1", "a10", "a2", "A1", "+1 555 0100", "(555) 010-0100", "555-0100", "5550100",
		"!", "\"", "#", "$", "%", "&", "'", "(", ")", "*", "+", ",", "-", ".", "/", ":", ";", "<", "=", ">", "?", "@", "[", "\\", "]", "^", "_", "`", "{", "|", "}", "~",
		"Ω", "ω", "Ωμέγα", "ωμέγα", "αβγ", "Αβγ", "ά", "ί", "Привет", "привет", "ёлка", "елка", "Ёлка", "Ж", "ж", "я", "Я",
		"שלום", "مرحبا", "あ", "ア", "か", "が", "カ", "ガ", "ｱ", "Ａ", "ａ", "１", "한국어", "가", "각",
		"中", "中文", "日本語", "一", "二", "丁", "丿", "乙", "人", "漢字", "汉字",
		"😀", "😃", "👍", "👍🏽", "🇫🇷", "🇩🇪", "❤", "❤️", "🧑‍💻", "🥑", "🤖", "☃", "★", "€", "£", "¥", "₿", "©", "®", "™", "°", "±", "×", "÷",
		"٠", "١", "०", "௧", "…", "‥", "–", "—", "‘", "’", "“", "”", "«", "»", "·", "•", "\u2028", "\uffff", "\ufffd", "\U0010fffd",
		"id", "Some Name", "0123abcd", "port_request", "port_requests", "port-request", "PortRequest", "account", "accounts",
	}
	agreedPieces := filterStrings(strs, agreedString)
	pick := func(pool []string) string { return pool[r.Intn(len(pool))] }
	randString := func(pool []string) string {
		var b strings.Builder
		for i := r.Intn(3) + 1; i > 0; i-- {
			b.WriteString(pick(pool))
		}
		return b.String()
	}
	nums := []string{
		"0", "-0", "0.0", "1", "1.0", "1e0", "-1", "2", "3.0", "4", "10", "1e3", "1000", "0.1", "0.25", "-0.25", "1.5", "-1.5",
		"1e-7", "5e-324", "1.7976931348623157e308", "-1.7976931348623157e308", "1e21", "1e300", "-1e300",
		"9007199254740991", "9007199254740992", "9007199254740993", "12345678901234567000", "123456789012345678901234567890",
		"63851200000", "1700000000000", "42", "-42", "3.141592653589793",
	}
	var keys []string
	add := func(v any) {
		b, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		keys = append(keys, string(b))
	}
	for range 3 {
		keys = append(keys, "null", "false", "true")
	}
	for _, s := range strs {
		add(s)
	}
	keys = append(keys, nums...)
	for range 400 {
		add(randString(agreedPieces))
	}
	for range 150 {
		add(randString(strs))
	}
	for range 100 {
		keys = append(keys, fmt.Sprintf("%d", r.Intn(2000)-1000), fmt.Sprintf("%.3f", r.Float64()*100-50))
	}
	scalar := func(pool []string) any {
		switch r.Intn(6) {
		case 0:
			return []any{nil, false, true}[r.Intn(3)]
		case 1, 2:
			return json.RawMessage(pick(nums))
		}
		return pick(pool)
	}
	for range 700 {
		pool := agreedPieces
		if r.Intn(5) == 0 {
			pool = strs
		}
		var a []any
		switch r.Intn(5) {
		case 0: // [string, string, "id"], as a typical view key
			a = []any{randString(pool), randString(pool), fmt.Sprintf("id%d", r.Intn(5))}
		case 1: // [number, "id"]
			a = []any{json.RawMessage(pick(nums)), pick(pool)}
		default:
			for i := r.Intn(4); i > 0; i-- {
				if r.Intn(6) == 0 {
					a = append(a, []any{scalar(pool), scalar(pool)}[:r.Intn(3)])
				} else {
					a = append(a, scalar(pool))
				}
			}
		}
		add(a)
	}
	names := []string{"a", "A", "b", "é", "id", "name", "z"}
	for range 200 {
		// Members written in a random order: json.RawMessage keeps it.
		var b strings.Builder
		b.WriteByte('{')
		for i := r.Intn(3); i >= 0; i-- {
			if b.Len() > 1 {
				b.WriteByte(',')
			}
			n, _ := json.Marshal(pick(names))
			v, _ := json.Marshal(scalar(agreedPieces))
			fmt.Fprintf(&b, "%s:%s", n, v)
		}
		if r.Intn(4) == 0 {
			b.Reset()
			b.WriteByte('{')
		}
		b.WriteByte('}')
		keys = append(keys, b.String())
	}
	return keys
}

func filterStrings(ss []string, keep func(string) bool) []string {
	var out []string
	for _, s := range ss {
		if keep(s) && utf8.ValidString(s) && strings.IndexFunc(s, unicode.IsControl) < 0 || s == "" {
			out = append(out, s)
		}
	}
	return out
}

type couch struct {
	t    *testing.T
	base string
	http *http.Client
}

// do sends a request with a JSON body (if any) and decodes the answer into
// out (if any); a failure ends the test.
func (c *couch) do(method, path string, body, out any) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	if resp.StatusCode >= 300 {
		c.t.Fatalf("%s %s: %s: %s", method, path, resp.Status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: decoding %s: %v", method, path, b, err)
		}
	}
}
