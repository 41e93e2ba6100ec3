package porting

import "testing"

func TestNormalizeNumber(t *testing.T) {
	cases := []struct {
		in   string
		want string
		ok   bool
	}{
		{"+12025559000", "+12025559000", true},
		{"2025559000", "+12025559000", true},
		{"12025559000", "+12025559000", true},
		{"(202) 555-9000", "+12025559000", true},
		{"202.555.9000", "+12025559000", true},
		{"011442071234567", "+442071234567", true},
		{"00442071234567", "+442071234567", true},
		{"+442071234567", "+442071234567", true},
		{"442071234567", "+442071234567", true},
		{"+1234567", "", false},          // 7 digits
		{"+1234567890123456", "", false}, // 16 digits
		{"12345", "", false},
		{"abc", "", false},
		{"", "", false},
		{"+", "", false},
		{"202555900x", "", false},
		{"+0123456789", "", false},
		{"1+2025559000", "", false},
	}
	for _, c := range cases {
		got, ok := NormalizeNumber(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("NormalizeNumber(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestNumberDB(t *testing.T) {
	if got := NumberDB("+12025559000"); got != "numbers/+1202" {
		t.Errorf("NumberDB = %q", got)
	}
}

func TestGregorian(t *testing.T) {
	// The seed's created 63630097779 is 2016-05-27 (Kazoo's docs era).
	if got := FromGregorian(63630097779).Year(); got != 2016 {
		t.Errorf("year %d", got)
	}
	if g := Gregorian(FromGregorian(63630097779)); g != 63630097779 {
		t.Errorf("round trip %d", g)
	}
}
