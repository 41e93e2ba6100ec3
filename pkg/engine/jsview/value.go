package jsview

import (
	"errors"
	"math"
	"math/big"
)

// kind is the type of a decoded JSON value: as CouchDB's Erlang side sees it
// (parseValue), or as JavaScript does (parseJS: every number a kFloat).
type kind uint8

const (
	kNull kind = iota
	kFalse
	kTrue
	kInt
	kFloat
	kString
	kArray
	kObject
	kLazy // parseJS: an array or object not built yet (raw holds its text)
)

// value is a decoded JSON value with the distinctions CouchDB's reducers
// make: integers (any size) apart from floats, and objects keeping their
// member order. It is also the parsed document map functions read.
type value struct {
	kind  kind
	i     *big.Int // kInt
	f     float64  // kFloat
	s     string   // kString
	elems []value  // kArray elements, kObject member values
	keys  []string // kObject member names
	raw   []byte   // kLazy
}

func intValue(n int64) value { return value{kind: kInt, i: big.NewInt(n)} }

func (v value) isNumber() bool { return v.kind == kInt || v.kind == kFloat }

// float converts a number to float64 the way Erlang does (nearest).
func (v value) float() float64 {
	if v.kind == kFloat {
		return v.f
	}
	f, _ := new(big.Float).SetInt(v.i).Float64()
	return f
}

// errArith is Erlang's badarith: a float operation overflowed.
var errArith = errors.New("badarith: floating point overflow")

func checkFloat(f float64) (value, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return value{}, errArith
	}
	return value{kind: kFloat, f: f}, nil
}

// addNum adds two numbers with Erlang's rules: integers stay exact,
// anything with a float is a float.
func addNum(a, b value) (value, error) {
	if a.kind == kInt && b.kind == kInt {
		return value{kind: kInt, i: new(big.Int).Add(a.i, b.i)}, nil
	}
	return checkFloat(a.float() + b.float())
}

func mulNum(a, b value) (value, error) {
	if a.kind == kInt && b.kind == kInt {
		return value{kind: kInt, i: new(big.Int).Mul(a.i, b.i)}, nil
	}
	return checkFloat(a.float() * b.float())
}

// cmpNum compares two numbers exactly, as Erlang does across int and float.
func cmpNum(a, b value) int {
	if a.kind == kInt && b.kind == kInt {
		return a.i.Cmp(b.i)
	}
	x, y := new(big.Float), new(big.Float)
	if a.kind == kInt {
		x.SetInt(a.i)
	} else {
		x.SetFloat64(a.f)
	}
	if b.kind == kInt {
		y.SetInt(b.i)
	} else {
		y.SetFloat64(b.f)
	}
	return x.Cmp(y)
}
