// Package loa builds the Letter of Authorization (LOA) that a losing carrier
// needs before it releases telephone numbers to the gaining provider.
//
// The package is a leaf: it imports nothing from the rest of portreqd, and
// callers map their port request, account and provider documents to Input.
// It is the only package that imports gopdf and go-qrcode, so the PDF stack
// stays in one place. Layout is a pure function from Input to positioned
// text and shapes (golden-tested); Render turns that into PDF bytes.
package loa

import "time"

// Input is everything printed on the letter. Fields are plain strings so
// the caller decides where each comes from (port request, its bill block,
// the owning account, the port authority's LOA profile).
type Input struct {
	RequestID   string // port request id; with AccountID forms the QR payload
	AccountID   string // the account owning the request
	RequestName string // the request's name, shown as its title and in footers

	// Date is the request's last update. It is printed as the letter's date
	// and used as the PDF creation date, so the same request always yields
	// the same bytes (the output can be cached and compared).
	Date time.Time

	Provider Provider // the gaining provider, appointed as agent
	Customer Customer // the subscriber authorizing the port

	Carrier       string // losing carrier
	BTN           string // billing telephone number on the losing carrier's account
	AccountNumber string // account number at the losing carrier

	// HasPIN tells whether a PIN/passcode was supplied. The PIN itself is
	// deliberately not part of Input: a letter is mailed and faxed around,
	// so it only ever says "PIN: provided" or "PIN: not provided".
	HasPIN bool

	Numbers []string // numbers to port, E.164; every one is listed, in order
}

// Provider is the gaining provider: the port authority account, or the LOA
// profile it carries for branding.
type Provider struct {
	Name         string
	AddressLines []string
	Email, Phone string
	Logo         []byte // optional PNG or JPEG; ignored if it does not decode
}

// Customer is the account name plus the request's bill block, using the keys
// the port request schema stores.
type Customer struct {
	AccountName     string
	Name            string // bill.name: the name on the losing carrier's bill
	StreetAddress   string
	ExtendedAddress string
	Locality        string
	Region          string
	PostalCode      string
}

// Reference is the string the QR code encodes: "<account_id>-<request_id>",
// which identifies the request when a signed letter comes back.
func (in Input) Reference() string { return in.AccountID + "-" + in.RequestID }
