package requestjson

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/portreqd/portreqd/pkg/porting"
)

// benchRequestDoc is a port request as a store keeps it (compact, sorted
// members): 10 numbers, a bill block, notifications, a comment, 3
// transitions, 2 attachment stubs and Kazoo's private members.
func benchRequestDoc(tb testing.TB) []byte {
	tb.Helper()
	r := porting.Request{
		ID: "84e0a824c6b74fe1e3ec48962a600ef2", Rev: "7-3f2c9a0e1d4b5c6a7f8e9d0c1b2a3f4e",
		Public: porting.Fields{}, Private: porting.Fields{},
		State: porting.Scheduled, AccountID: "8a2b4c6d8e0f1a3b5c7d9e1f3a5b7c9d",
		Tree:    []string{"1f2e3d4c5b6a79881f2e3d4c5b6a7988", "5c7d9e1f3a5b7c9d8a2b4c6d8e0f1a3b", "8a2b4c6d8e0f1a3b5c7d9e1f3a5b7c9d"},
		Created: 63900000000, Modified: 63900086400, Sent: true,
		Attachments: map[string]porting.Attachment{
			"loa.pdf":  {ContentType: "application/pdf", Length: 183_422, Digest: "md5-9q1xh0aE3Yb1pN4mZ2uXcQ==", Revpos: 3},
			"bill.pdf": {ContentType: "application/pdf", Length: 92_310, Digest: "md5-Kx8m2Yw0Zr5oV1lT3sQ9eA==", Revpos: 4},
		},
	}
	numbers := map[string]any{}
	for i := range 10 {
		n := map[string]any{}
		if i%3 == 0 {
			n["used_by"] = "callflow"
		}
		numbers[fmt.Sprintf("+1202555%04d", 100+i)] = n
	}
	r.Public.Set("name", "Acme Corp main lines")
	r.Public.Set("numbers", numbers)
	r.Public.Set("bill", map[string]any{
		"name": "Acme Corp", "street_address": "1600 Pennsylvania Ave NW", "locality": "Washington",
		"region": "DC", "postal_code": "20500", "account_number": "12345-678", "pin": "0000", "btn": "+12025550100",
	})
	r.Public.Set("carrier", "Verizon")
	r.Public.Set("winning_carrier", "Telnyx")
	r.Public.Set("transfer_date", 63901000000)
	r.Public.Set("notifications", map[string]any{"email": map[string]any{"send_to": "porting@acme.example"}})
	r.Public.Set("comments", []map[string]any{{"content": "LOA attached", "timestamp": 63900000100, "is_private": false}})
	r.Private.Set("pvt_request_id", "e1f7c9b2a3d44c5e8f90a1b2c3d4e5f6")
	r.Private.Set("pvt_auth_account_id", "1f2e3d4c5b6a79881f2e3d4c5b6a7988")
	for i, st := range [][2]porting.State{{porting.Unconfirmed, porting.Submitted}, {porting.Submitted, porting.Pending}, {porting.Pending, porting.Scheduled}} {
		t := porting.Transition{Timestamp: 63900000000 + int64(i)*3600, Type: "transition",
			Transition: porting.TransitionState{Previous: st[0], New: st[1]}}
		t.Authorization.Account.ID = "8a2b4c6d8e0f1a3b5c7d9e1f3a5b7c9d"
		t.Authorization.Account.Name = "Acme Corp"
		if i == 2 {
			t.Reason = "FOC date confirmed by the losing carrier"
		}
		r.Transitions = append(r.Transitions, t)
	}
	b, err := json.Marshal(r)
	if err != nil {
		tb.Fatal(err)
	}
	// As stored: attachment stubs carry revpos and stub, Kazoo's account
	// db is there.
	var check porting.Request
	if err := json.Unmarshal(b, &check); err != nil {
		tb.Fatal(err)
	}
	return b
}

func BenchmarkRequestUnmarshal(b *testing.B) {
	doc := benchRequestDoc(b)
	b.Run("UnmarshalJSON", func(b *testing.B) { // Decode: the name the benchmark had in porting
		b.ReportAllocs()
		b.SetBytes(int64(len(doc)))
		for b.Loop() {
			if _, err := Decode(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
	// encoding/json, which defines the result, for comparison.
	b.Run("encoding_json", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(doc)))
		for b.Loop() {
			var r porting.Request
			if err := json.Unmarshal(doc, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
}
