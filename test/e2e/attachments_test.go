package e2e

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// TestAttachmentsConcurrentAndNegotiation uploads to one request from many
// clients at once (all must land), then checks Accept negotiation both ways
// and the state rule on delete.
func TestAttachmentsConcurrentAndNegotiation(t *testing.T) {
	forEachStore(t, testAttachmentsConcurrentAndNegotiation)
}

func testAttachmentsConcurrentAndNegotiation(t *testing.T, e *env) {
	s := e.start(t)
	mtok, master := s.login(t, e.apiKey)
	tok, acct := s.customer(t, mtok, master, "Uploader")
	id := s.createRequest(t, tok, acct, "attachments", "+16175550100")
	base := "/v2/accounts/" + acct + "/port_requests/" + id + "/attachments"

	const n = 8
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			body := append(append([]byte{}, minimalPDF...), []byte(fmt.Sprintf("%% upload %d\n", i))...)
			r := s.do(t, "PUT", fmt.Sprintf("%s?filename=doc%d", base, i), tok, body, "Content-Type", "application/pdf")
			if r.Status != 201 {
				t.Errorf("upload %d: %d %s", i, r.Status, r.Raw)
			}
		}(i)
	}
	wg.Wait()
	list := s.do(t, "GET", base, tok, nil).expect(t, 200)
	if len(list.data()) != n {
		t.Fatalf("%d attachments landed, want %d: %s", len(list.data()), n, list.Raw)
	}
	got := s.do(t, "GET", "/v2/accounts/"+acct+"/port_requests/"+id, tok, nil).expect(t, 200)
	if up, _ := got.data()["uploads"].(map[string]any); len(up) != n {
		t.Errorf("uploads shows %d", len(up))
	}

	// Raw upload read as Monster UI does: a data URI comes back.
	txt := s.do(t, "GET", base+"/doc0.pdf", tok, nil, "Accept", "text/plain, */*; q=0.01").expect(t, 200)
	want := "data:application/pdf;base64," + base64.StdEncoding.EncodeToString(append(append([]byte{}, minimalPDF...), []byte("% upload 0\n")...))
	if string(txt.Raw) != want {
		t.Errorf("text/plain of a raw PDF: %.60q", txt.Raw)
	}
	if cd := txt.Header.Get("Content-Disposition"); !strings.Contains(cd, "doc0.pdf") {
		t.Errorf("Content-Disposition %q", cd)
	}
	pdf := s.do(t, "GET", base+"/doc0.pdf", tok, nil, "Accept", "application/x-pdf").expect(t, 200)
	if !bytes.HasPrefix(pdf.Raw, []byte("%PDF-")) || pdf.Header.Get("Content-Type") != "application/pdf" {
		t.Errorf("PDF download: %q %q", pdf.Header.Get("Content-Type"), pdf.Raw)
	}

	// Replace: POST to an existing name works, to a missing name is 404.
	s.do(t, "POST", base+"/doc1.pdf", tok, minimalPDF, "Content-Type", "application/pdf").expect(t, 200)
	s.do(t, "POST", base+"/missing.pdf", tok, minimalPDF, "Content-Type", "application/pdf").expect(t, 404)

	// Delete is allowed while unconfirmed, refused once submitted.
	s.do(t, "DELETE", base+"/doc2.pdf", tok, nil).expect(t, 200)
	s.do(t, "PATCH", "/v2/accounts/"+acct+"/port_requests/"+id+"/submitted", tok, nil).expect(t, 200)
	s.do(t, "DELETE", base+"/doc3.pdf", tok, nil).expect(t, 405)
	// The owner may no longer edit it; the authority may.
	edit := map[string]any{"data": map[string]any{"name": "edited", "numbers": map[string]any{"+16175550100": map[string]any{}}}}
	s.do(t, "POST", "/v2/accounts/"+acct+"/port_requests/"+id, tok, edit).expect(t, 403)
	s.do(t, "POST", "/v2/accounts/"+acct+"/port_requests/"+id, mtok, edit).expect(t, 200)
	if l := s.do(t, "GET", base, tok, nil).data(); len(l) != n-1 {
		t.Errorf("after edit %d attachments, want %d", len(l), n-1)
	}
}

// TestRejectedReclaim checks that a rejected request gives its numbers up,
// and cannot take them back once another request holds them.
func TestRejectedReclaim(t *testing.T) { forEachStore(t, testRejectedReclaim) }

func testRejectedReclaim(t *testing.T, e *env) {
	s := e.start(t)
	mtok, master := s.login(t, e.apiKey)
	tok, acct := s.customer(t, mtok, master, "Reclaimer")
	base := "/v2/accounts/" + acct + "/port_requests/"
	first := s.createRequest(t, tok, acct, "first", "+16465550100")
	s.do(t, "PATCH", base+first+"/submitted", tok, nil).expect(t, 200)
	s.do(t, "PATCH", base+first+"/rejected", mtok, map[string]any{"data": map[string]any{"reason": "bad LOA"}}).expect(t, 200)
	second := s.createRequest(t, tok, acct, "second", "+16465550100")
	s.do(t, "PATCH", base+second+"/submitted", tok, nil).expect(t, 200)
	r := s.do(t, "PATCH", base+first+"/submitted", tok, nil)
	if msg := numberError(t, r, "+16465550100"); msg != "Number is on a port request already: "+second {
		t.Errorf("reclaim: %q", msg)
	}
	r = s.do(t, "PATCH", base+first+"/completed", mtok, nil)
	if msg := numberError(t, r, "+16465550100"); !strings.HasPrefix(msg, "Number is on a port request already") {
		t.Errorf("complete a rejected request holding a taken number: %q", msg)
	}
	if st := s.do(t, "GET", base+first, tok, nil).data()["port_state"]; st != "rejected" {
		t.Errorf("failed reclaim changed the state to %v", st)
	}
}
