package loa

import (
	"bytes"
	"errors"
	"fmt"
	"image"
)

// MaxLogoPixels bounds a logo's decoded size. Its bytes are bounded by the
// upload limit, but a small PNG can declare a huge image (900 million
// pixels in 875 KB): decoding it to draw the letter would take gigabytes
// and minutes. A logo is drawn 150×48 pt; eight million pixels is far more
// than any letterhead needs.
const MaxLogoPixels = 8_000_000

// maxLogoSide bounds either side, so a long thin image is refused too.
const maxLogoSide = 8192

// ErrLogo is wrapped by CheckLogo's refusals.
var ErrLogo = errors.New("loa: unusable logo")

// CheckLogo reads only a logo's header and refuses what the letter cannot
// draw cheaply: not a PNG or JPEG, empty, or larger than MaxLogoPixels
// decoded.
func CheckLogo(logo []byte) error {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(logo))
	switch {
	case err != nil || (format != "png" && format != "jpeg"):
		return fmt.Errorf("%w: not a PNG or JPEG image", ErrLogo)
	case cfg.Width <= 0 || cfg.Height <= 0:
		return fmt.Errorf("%w: the image is empty", ErrLogo)
	case cfg.Width > maxLogoSide || cfg.Height > maxLogoSide || cfg.Width*cfg.Height > MaxLogoPixels:
		return fmt.Errorf("%w: %d×%d pixels; at most %d pixels and %d on a side", ErrLogo, cfg.Width, cfg.Height, MaxLogoPixels, maxLogoSide)
	}
	return nil
}
