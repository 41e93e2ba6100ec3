package loa

import "github.com/portreqd/portreqd/pkg/porting"

// FromData maps what the service knows of a request to the letter. Street address is bill's
// street_address, or address as Monster UI 4.0 sends it.
func FromData(d *porting.LOAData) Input {
	r := d.Request
	var bill porting.Fields
	_ = bill.UnmarshalRaw(r.Public["bill"])
	street := bill.String("street_address")
	if street == "" {
		street = bill.String("address")
	}
	carrier := r.Public.String("carrier")
	if carrier == "" {
		carrier = bill.String("carrier")
	}
	in := Input{
		RequestID: r.ID, AccountID: r.AccountID, RequestName: r.Name(),
		Date:     porting.FromGregorian(r.Modified),
		Provider: Provider{Name: d.Authority.Name},
		Customer: Customer{
			AccountName: d.Account.Name, Name: bill.String("name"), StreetAddress: street,
			ExtendedAddress: bill.String("extended_address"), Locality: bill.String("locality"),
			Region: bill.String("region"), PostalCode: bill.String("postal_code"),
		},
		Carrier: carrier, BTN: bill.String("btn"), AccountNumber: bill.String("account_number"),
		HasPIN:  bill.String("pin") != "",
		Numbers: r.Numbers(),
	}
	if p := d.Profile; p != nil {
		in.Provider = Provider{Name: p.Name, AddressLines: p.AddressLines, Email: p.Email, Phone: p.Phone, Logo: d.Logo}
	}
	return in
}
