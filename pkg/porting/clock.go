package porting

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// gregorianOffset is the number of seconds from 0000-01-01 to 1970-01-01 in
// the proleptic Gregorian calendar. Kazoo stores every timestamp as Gregorian
// seconds, and documents must replicate with Kazoo unchanged.
const gregorianOffset = 62167219200

// Gregorian converts t to Kazoo's Gregorian seconds.
func Gregorian(t time.Time) int64 { return t.Unix() + gregorianOffset }

// FromGregorian converts Kazoo's Gregorian seconds to a time.
func FromGregorian(g int64) time.Time { return time.Unix(g-gregorianOffset, 0).UTC() }

// Clock tells the time; injected so tests control it.
type Clock func() time.Time

// IDSource makes new document ids; injected so tests control them.
type IDSource func() string

// RandomID returns 32 lowercase hex characters from crypto/rand, the shape of
// every Kazoo document id.
func RandomID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// IsID reports whether s has the shape of a Kazoo id (32 lowercase hex).
func IsID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
