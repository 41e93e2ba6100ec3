package porting

import "encoding/json"

// PhoneNumber is a number document in Kazoo's number database
// (`numbers/<first five chars>`), the record that a number is in service.
type PhoneNumber struct {
	Number     string
	Rev        string
	State      string // pvt_state: "in_service"
	AssignedTo string // pvt_assigned_to: the account
	PortedIn   bool
	PortID     string
	Created    int64
	Modified   int64
	Other      Fields
}

// NumberInService is pvt_state of a working number.
const NumberInService = "in_service"

var numberKnown = map[string]bool{"_id": true, "_rev": true, "pvt_state": true, "pvt_assigned_to": true,
	"pvt_ported_in": true, "port_id": true, "pvt_created": true, "pvt_modified": true,
	"pvt_type": true, "pvt_db_name": true, "pvt_module_name": true}

// MarshalJSON writes Kazoo's number document.
func (n PhoneNumber) MarshalJSON() ([]byte, error) {
	doc := n.Other.Clone()
	doc.Set("_id", n.Number)
	if n.Rev != "" {
		doc.Set("_rev", n.Rev)
	}
	doc.Set("pvt_type", "number")
	doc.Set("pvt_db_name", EncodedNumberDB(n.Number))
	doc.Set("pvt_module_name", "knm_local")
	doc.Set("pvt_state", n.State)
	doc.Set("pvt_assigned_to", n.AssignedTo)
	doc.Set("pvt_ported_in", n.PortedIn)
	if n.PortID != "" {
		doc.Set("port_id", n.PortID)
	}
	doc.Set("pvt_created", n.Created)
	doc.Set("pvt_modified", n.Modified)
	return json.Marshal(map[string]json.RawMessage(doc))
}

// UnmarshalJSON reads a number document.
func (n *PhoneNumber) UnmarshalJSON(b []byte) error {
	var doc Fields
	if err := json.Unmarshal(b, &doc); err != nil {
		return err
	}
	out := PhoneNumber{Other: Fields{}}
	out.Number = doc.String("_id")
	out.Rev = doc.String("_rev")
	out.State = doc.String("pvt_state")
	out.AssignedTo = doc.String("pvt_assigned_to")
	out.PortedIn = doc.Bool("pvt_ported_in")
	out.PortID = doc.String("port_id")
	_ = json.Unmarshal(doc["pvt_created"], &out.Created)
	_ = json.Unmarshal(doc["pvt_modified"], &out.Modified)
	for k, v := range doc {
		if !numberKnown[k] {
			out.Other[k] = v
		}
	}
	*n = out
	return nil
}

// Transaction is a debit in Kazoo's ledger shape, stored in the account's
// monthly database (`account/xx/xx/xxxx-YYYYMM`).
type Transaction struct {
	ID          string `json:"_id"`
	Rev         string `json:"_rev,omitempty"`
	Type        string `json:"pvt_type"`   // "debit"
	Amount      int64  `json:"pvt_amount"` // in Kazoo units: 1/10000 of a dollar
	Reason      string `json:"pvt_reason"` // "number_activation"
	Code        int    `json:"pvt_code"`
	Description string `json:"description"`
	AccountID   string `json:"pvt_account_id"`
	DB          string `json:"-"`              // the monthly database it lives in: account/xx/xx/xxxx-YYYYMM
	AccountDB   string `json:"pvt_account_db"` // DB as Kazoo writes it (account%2Fxx%2F…)
	Created     int64  `json:"pvt_created"`
	Modified    int64  `json:"pvt_modified"`
	Vsn         int    `json:"pvt_vsn"`
	Metadata    struct {
		PortRequestID string   `json:"port_request_id"`
		Numbers       []string `json:"numbers"`
	} `json:"metadata"`
}

// DollarsToUnits converts dollars to Kazoo's ledger units (1/10000 dollar).
func DollarsToUnits(d float64) int64 { return int64(d*10000 + 0.5) }

// inServiceFor reports whether n (nil: no document) holds its number for
// a request other than reqID: in service, or in any state but deleted.
func (n *PhoneNumber) inServiceFor(reqID string) bool {
	return n != nil && n.State != "" && n.State != "deleted" && n.PortID != reqID
}
