package kazoo

import "testing"

// TestListingRowParsing checks the hand-split readings of listing keys and
// values against what the decoder makes of the same bytes, odd shapes
// included.
func TestListingRowParsing(t *testing.T) {
	for _, tc := range []struct {
		value, rev, account string
	}{
		{`["3-abc","acct1"]`, "3-abc", "acct1"},
		{`[null,"acct1"]`, "", "acct1"},
		{`"3-abc"`, "", ""}, // an older view definition: the revision alone
		{`null`, "", ""},
		{`["3-a\"b","acct"]`, `3-a"b`, "acct"},
		{`["a","b","c"]`, "a", "b"}, // as the decoder reads it
		{`["3-abc", "acct1"]`, "3-abc", "acct1"},
	} {
		rev, acct := listValue([]byte(tc.value))
		if rev != tc.rev || acct != tc.account {
			t.Errorf("listValue(%s) = %q, %q; want %q, %q", tc.value, rev, acct, tc.rev, tc.account)
		}
	}
	for _, tc := range []struct {
		key  string
		want int64
	}{
		{`["a","completed",63720000500]`, 63720000500},
		{`["a,b","completed",1]`, 1},
		{`["a","completed",{}]`, -1},
		{`["a","completed","63"]`, -1},
		{`["a","completed"]`, -1},
		{`["a","completed",6.3e10]`, -1},
		{`["a","completed", 42 ]`, 42},
	} {
		if got := keyModified([]byte(tc.key)); got != tc.want {
			t.Errorf("keyModified(%s) = %d, want %d", tc.key, got, tc.want)
		}
	}
}
