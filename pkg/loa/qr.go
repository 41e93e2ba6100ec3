package loa

import (
	"fmt"

	qrcode "github.com/skip2/go-qrcode"
)

// qrPNG encodes payload as a QR code PNG with one pixel per module and no
// quiet zone. It is generated locally (Kazoo fetched it from a web service
// at request time). One pixel per module keeps the image tiny and, drawn
// scaled without interpolation, sharp at any zoom; the layout leaves the
// white quiet zone around it on the page. Medium error correction survives
// a fax or a photocopy of the signed letter.
func qrPNG(payload string) ([]byte, error) {
	q, err := qrcode.New(payload, qrcode.Medium)
	if err != nil {
		return nil, fmt.Errorf("loa: qr code: %w", err)
	}
	q.DisableBorder = true
	png, err := q.PNG(-1)
	if err != nil {
		return nil, fmt.Errorf("loa: qr code: %w", err)
	}
	return png, nil
}
