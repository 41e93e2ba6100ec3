package lnp_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portreqd/portreqd/pkg/lnp"
)

func TestNANP(t *testing.T) {
	for _, c := range []struct{ in, e164, reason string }{
		{"+12025550100", "+12025550100", ""},
		{"12025550100", "+12025550100", ""},
		{"(202) 555-0100", "+12025550100", ""},
		{"202.555.0100", "+12025550100", ""},
		{"+1 911 555 0100", "", "the area code must not be a service code (N11)"},
		{"2024110100", "", "the exchange must not be a service code (N11)"},
		{"1025550100", "", "the area code must not start with 0 or 1"},
		{"2021550100", "", "the exchange must not start with 0 or 1"},
		{"+442079460000", "", "not a North American (+1) number"},
		{"202555010", "", "a North American number has 10 digits"},
		{"202555010x", "", "not a phone number"},
		{"", "", "a North American number has 10 digits"},
	} {
		e164, reason := lnp.NANP(c.in)
		if e164 != c.e164 || reason != c.reason {
			t.Errorf("NANP(%q) = %q, %q; want %q, %q", c.in, e164, reason, c.e164, c.reason)
		}
	}
}

// The longest block wins; numbers outside every block are unknown; the
// lookup service is asked only about those, and what it does not know
// stays unknown.
func TestLookupTableThenService(t *testing.T) {
	table, err := lnp.ReadTable(strings.NewReader(`# comment
prefix,losing_carrier,carriers,documents
312555,Lakeside,Us;Them,loa;bill
3125550,Lakeside Wireless,Us,loa;csr
`))
	if err != nil {
		t.Fatal(err)
	}
	var asked []string
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := new(strings.Builder)
		_, _ = io.Copy(body, r.Body)
		asked = append(asked, body.String())
		_, _ = w.Write([]byte(`{"numbers":{"+14155550100":{"losing_carrier":"Bay","carriers":["Us"]}}}`))
	}))
	defer svc.Close()
	got, err := lnp.Lookup(context.Background(), []string{"3125551234", "+13125550999", "+14155550100", "+16175550100", "911"}, table, &lnp.HTTP{URL: svc.URL})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]lnp.Result{
		"3125551234":   {Status: lnp.Known, LosingCarrier: "Lakeside", Carriers: []string{"Us", "Them"}, Documents: []string{"loa", "bill"}, Source: "table"},
		"+13125550999": {Status: lnp.Known, LosingCarrier: "Lakeside Wireless", Carriers: []string{"Us"}, Documents: []string{"loa", "csr"}, Source: "table"},
		"+14155550100": {Status: lnp.Known, LosingCarrier: "Bay", Carriers: []string{"Us"}, Documents: []string{}, Source: "http"},
		"+16175550100": {Status: lnp.Unknown},
		"911":          {Status: lnp.Invalid, Reason: "a North American number has 10 digits"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Lookup (-want +got):\n%s", diff)
	}
	if len(asked) != 1 || asked[0] != `{"numbers":["+14155550100","+16175550100"]}` {
		t.Errorf("service asked %q, want only the numbers the table does not know", asked)
	}
}

func TestReadTableRefusesBadRows(t *testing.T) {
	for _, body := range []string{
		"prefix,carrier\n",
		"prefix,losing_carrier,carriers,documents\n20,X,,\n",
		"prefix,losing_carrier,carriers,documents\n202555,,,\n",
		"prefix,losing_carrier,carriers,documents\n202555,X,,\n202555,Y,,\n",
		"prefix,losing_carrier,carriers,documents\n20255a,X,,\n",
	} {
		if _, err := lnp.ReadTable(strings.NewReader(body)); err == nil {
			t.Errorf("ReadTable(%q) accepted", body)
		}
	}
}

// The sample the repository ships loads.
func TestSampleTable(t *testing.T) {
	tbl, err := lnp.LoadTable("../../deploy/lnp/sample-npanxx.csv")
	if err != nil {
		t.Fatal(err)
	}
	if tbl.Len() != 5 {
		t.Errorf("sample: %d blocks, want 5", tbl.Len())
	}
	if _, err := lnp.LoadTable("missing.csv"); !os.IsNotExist(err) {
		t.Errorf("missing table: %v", err)
	}
}
