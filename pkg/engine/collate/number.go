package collate

import (
	"math"
	"math/big"
	"strconv"
)

// A number is a JSON number as CouchDB's JSON decoder (jiffy) reads it: a
// literal without fraction or exponent is an exact integer, any other is
// the nearest double. CouchDB compares them with Erlang's term order, in
// which 1 == 1.0 and integers and doubles are compared exactly; so do we.
type number struct {
	kind numKind
	i    int64
	f    float64
	b    *big.Int
}

type numKind uint8

const (
	numInt   numKind = iota // i
	numFloat                // f
	numBig                  // b, an integer beyond int64
)

// parseNumber reads a JSON number literal; ok is false if it is not one.
// A double literal beyond the double range (1e400) becomes ±Inf and orders
// beyond every finite number; CouchDB refuses such a document.
func parseNumber[T string | []byte](lit T) (n number, ok bool) {
	i := 0
	if i < len(lit) && lit[i] == '-' {
		i++
	}
	digits := i
	if i < len(lit) && lit[i] == '0' {
		i++
	} else {
		for i < len(lit) && lit[i] >= '0' && lit[i] <= '9' {
			i++
		}
	}
	if i == digits {
		return n, false
	}
	intEnd := i
	if i < len(lit) && lit[i] == '.' {
		i++
		start := i
		for i < len(lit) && lit[i] >= '0' && lit[i] <= '9' {
			i++
		}
		if i == start {
			return n, false
		}
	}
	if i < len(lit) && (lit[i] == 'e' || lit[i] == 'E') {
		i++
		if i < len(lit) && (lit[i] == '+' || lit[i] == '-') {
			i++
		}
		start := i
		for i < len(lit) && lit[i] >= '0' && lit[i] <= '9' {
			i++
		}
		if i == start {
			return n, false
		}
	}
	if i != len(lit) {
		return n, false
	}
	if intEnd == len(lit) { // an integer literal
		if len(lit)-digits <= 18 {
			var v int64
			for _, c := range []byte(lit[digits:]) {
				v = v*10 + int64(c-'0')
			}
			if digits == 1 {
				v = -v
			}
			return number{kind: numInt, i: v}, true
		}
		b, _ := new(big.Int).SetString(string(lit), 10)
		return number{kind: numBig, b: b}, true
	}
	f, err := strconv.ParseFloat(string(lit), 64)
	if err != nil && !math.IsInf(f, 0) {
		return n, false
	}
	return number{kind: numFloat, f: f}, true
}

// maxExact is 2^53: every integer of smaller magnitude is a double.
const maxExact = 1 << 53

func cmpInt(a, b int64) int {
	if a < b {
		return -1
	}
	if a > b {
		return 1
	}
	return 0
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	case a == b:
		return 0
	}
	// NaN, which no JSON number is (it can come from CompareValues):
	// after everything else, equal to itself.
	switch {
	case a != a && b != b:
		return 0
	case a != a:
		return 1
	}
	return -1
}

// compareNumbers compares two numbers exactly.
func compareNumbers(a, b number) int {
	switch {
	case a.kind == numInt && b.kind == numInt:
		return cmpInt(a.i, b.i)
	case a.kind == numFloat && b.kind == numFloat:
		return cmpFloat(a.f, b.f)
	case a.kind == numInt && b.kind == numFloat && a.i > -maxExact && a.i < maxExact:
		return cmpFloat(float64(a.i), b.f)
	case a.kind == numFloat && b.kind == numInt && b.i > -maxExact && b.i < maxExact:
		return cmpFloat(a.f, float64(b.i))
	}
	if a.kind == numFloat && a.f != a.f || b.kind == numFloat && b.f != b.f {
		return cmpFloat(a.toFloat(), b.toFloat())
	}
	return a.toBig().Cmp(b.toBig())
}

func (n number) toFloat() float64 {
	switch n.kind {
	case numInt:
		return float64(n.i)
	case numBig:
		f, _ := new(big.Float).SetInt(n.b).Float64()
		return f
	}
	return n.f
}

// toBig returns n exactly (an integer's precision is its bit length).
func (n number) toBig() *big.Float {
	switch n.kind {
	case numInt:
		return new(big.Float).SetInt64(n.i)
	case numBig:
		return new(big.Float).SetPrec(uint(max(n.b.BitLen(), 64))).SetInt(n.b)
	}
	return new(big.Float).SetFloat64(n.f)
}

// Number sort keys: tagNumber, a class byte, and for a non-zero finite
// number its decimal exponent and digits. A positive number is written as
// 0.d1d2…dn × 10^e with d1 ≠ 0 and dn ≠ 0: a larger exponent is a larger
// number, and for equal exponents the digit strings order the numbers,
// a shorter prefix first. A negative number is written as its magnitude
// with every byte complemented, which reverses that order.
const (
	numNegInf byte = 1
	numNeg    byte = 2
	numZero   byte = 3
	numPos    byte = 4
	numPosInf byte = 5
	numNaN    byte = 6
)

// appendNumberKey appends n's class and, if any, exponent and digits.
//
// The digits are exact where exactness matters. An integer's are its own.
// A double below 2^53 in magnitude is written in its shortest round-trip
// form, which orders doubles as their values do and, because its rounding
// interval holds no other integer, compares with every integer as the
// double itself does. A double of 2^53 or more is an integer, written
// exactly.
func appendNumberKey(dst []byte, n number) []byte {
	var digitsBuf [32]byte
	var digits []byte
	neg := false
	switch n.kind {
	case numInt:
		if n.i == 0 {
			return append(dst, numZero)
		}
		u := uint64(n.i)
		if n.i < 0 {
			neg, u = true, -u
		}
		digits = strconv.AppendUint(digitsBuf[:0], u, 10)
	case numBig:
		if n.b.Sign() == 0 {
			return append(dst, numZero)
		}
		neg = n.b.Sign() < 0
		digits = new(big.Int).Abs(n.b).Append(digitsBuf[:0], 10)
	case numFloat:
		f := n.f
		switch {
		case f != f:
			return append(dst, numNaN)
		case f == 0:
			return append(dst, numZero)
		case math.IsInf(f, 1):
			return append(dst, numPosInf)
		case math.IsInf(f, -1):
			return append(dst, numNegInf)
		}
		if f < 0 {
			neg, f = true, -f
		}
		if f >= maxExact {
			bi, _ := new(big.Float).SetFloat64(f).Int(nil)
			digits = bi.Append(digitsBuf[:0], 10)
		} else {
			return appendMantissa(dst, neg, shortestDigits(digitsBuf[:0], f))
		}
	}
	// digits is an integer's: its exponent is its length.
	e := len(digits)
	for len(digits) > 0 && digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
	}
	return appendMantissa(dst, neg, decimal{digits: digits, exp: e})
}

// decimal is 0.digits × 10^exp, digits without leading or trailing zeros.
type decimal struct {
	digits []byte
	exp    int
}

// shortestDigits returns the shortest decimal that reads back as f > 0.
func shortestDigits(buf []byte, f float64) decimal {
	s := strconv.AppendFloat(buf, f, 'e', -1, 64) // d.ddddde±xx
	mant, exp := s, 0
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == 'e' {
			mant = s[:i]
			x, _ := strconv.Atoi(string(s[i+1:]))
			exp = x + 1
			break
		}
	}
	// Drop the decimal point: mant is d or d.ddd.
	if len(mant) > 1 {
		copy(mant[1:], mant[2:])
		mant = mant[:len(mant)-1]
	}
	for len(mant) > 0 && mant[len(mant)-1] == '0' {
		mant = mant[:len(mant)-1]
	}
	return decimal{digits: mant, exp: exp}
}

// appendMantissa writes the class, the exponent and the digits of a
// non-zero number, complemented if it is negative.
func appendMantissa(dst []byte, neg bool, d decimal) []byte {
	if neg {
		dst = append(dst, numNeg)
	} else {
		dst = append(dst, numPos)
	}
	start := len(dst)
	// The exponent: one byte 0x80+e for |e| < 0x70, otherwise a marker
	// byte (0x10 below, 0xF0 above) and four bytes, big-endian.
	switch e := d.exp; {
	case e > -0x70 && e < 0x70:
		dst = append(dst, byte(0x80+e))
	case e >= 0x70:
		dst = append(dst, 0xf0, byte(e>>24), byte(e>>16), byte(e>>8), byte(e))
	default:
		u := uint32(int64(e) + 1<<31)
		dst = append(dst, 0x10, byte(u>>24), byte(u>>16), byte(u>>8), byte(u))
	}
	// The digits, two to a byte, each as digit+1 in a nibble; a zero
	// nibble ends them (a whole zero byte after an even count).
	ds := d.digits
	for i := 0; i < len(ds); i += 2 {
		hi := ds[i] - '0' + 1
		lo := byte(0)
		if i+1 < len(ds) {
			lo = ds[i+1] - '0' + 1
		}
		dst = append(dst, hi<<4|lo)
	}
	if len(ds)%2 == 0 {
		dst = append(dst, 0)
	}
	if neg {
		for i := start; i < len(dst); i++ {
			dst[i] = ^dst[i]
		}
	}
	return dst
}
