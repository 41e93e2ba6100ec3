package loa

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"testing"
	"time"
)

// example is the seed's request "Porting 202.555.9000" with a bill block,
// carrier and PIN, padded to n numbers (n <= 1 keeps the seed's one).
func example(n int) Input {
	nums := []string{"+12025559000"}
	for i := 1; i < n; i++ {
		nums = append(nums, fmt.Sprintf("+1202555%04d", 9000+i))
	}
	return Input{
		RequestID:   "0684aa1e2785d62c76ce27d2451a1c26",
		AccountID:   "4b8c6fec4b2597882c0390202d195419",
		RequestName: "Porting 202.555.9000",
		Date:        time.Unix(63630120578-62167219200, 0).UTC(), // the seed's "updated", Gregorian seconds
		Provider: Provider{
			Name:         "Bayview Voice Networks",
			AddressLines: []string{"500 Howard Street, Suite 300", "San Francisco, CA 94105"},
			Email:        "porting@bayviewvoice.example",
			Phone:        "+1 415 555 0199",
		},
		Customer: Customer{
			AccountName:   "Natoma Dental Group",
			Name:          "John Doe",
			StreetAddress: "116 Natoma Street",
			Locality:      "San Francisco",
			Region:        "CA",
			PostalCode:    "94105",
		},
		Carrier:       "PACIFIC BELL",
		BTN:           "+14155550100",
		AccountNumber: "1234-5678",
		HasPIN:        true,
		Numbers:       nums,
	}
}

// international is a request whose names need Latin-1 letters.
func international() Input {
	in := example(3)
	in.Provider.Name = "Télécom Québec Inc."
	in.Customer = Customer{
		AccountName:     "Société Générale",
		Name:            "Zoë Müller",
		StreetAddress:   "Bahnhofstraße 12",
		ExtendedAddress: "Étage 3, Bâtiment Ä",
		Locality:        "Zürich",
		Region:          "ZH",
		PostalCode:      "8001",
	}
	in.HasPIN = false
	return in
}

// logoPNG draws a small signal-bars mark, standing in for a provider's logo.
func logoPNG(t testing.TB, w, h int, deep bool) []byte {
	t.Helper()
	var img interface {
		image.Image
		Set(x, y int, c color.Color)
	}
	if deep {
		img = image.NewNRGBA64(image.Rect(0, 0, w, h))
	} else {
		img = image.NewNRGBA(image.Rect(0, 0, w, h))
	}
	bars := []color.NRGBA{{22, 62, 120, 255}, {40, 110, 180, 255}, {90, 160, 220, 255}}
	for i, c := range bars {
		x0 := i * w / 3
		top := h - (i+1)*h/3
		for y := top; y < h; y++ {
			for x := x0 + w/24; x < x0+w/3-w/24; x++ {
				img.Set(x, y, c)
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
