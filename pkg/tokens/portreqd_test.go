package tokens_test

import (
	"encoding/base64"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portreqd/portreqd/pkg/tokens"
)

// TestTokensRememberedUntilExpiry checks that remembering verified tokens
// changes no answer: a token verified once is still refused after its
// expiry, and a forged or other-secret token is refused however often a
// good one was seen.
func TestTokensRememberedUntilExpiry(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }

	issuer := tokens.NewIssuer([]byte("secret"), time.Hour, clock)
	tok, err := issuer.Issue("0123456789abcdef0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := tokens.NewIssuer([]byte("other"), time.Hour, clock).Issue("0123456789abcdef0123456789abcdef")

	steps := []struct {
		name    string
		advance time.Duration
		token   string
		ok      bool
	}{
		{"first use", 0, tok, true},
		{"remembered", time.Minute, tok, true},
		{"other secret", 0, other, false},
		{"tampered", 0, tok[:len(tok)-2] + "xx", false},
		{"just before expiry", 58*time.Minute + 59*time.Second, tok, true},
		{"at expiry", time.Second, tok, false},
		{"after expiry", time.Hour, tok, false},
	}
	for _, s := range steps {
		advance(s.advance)
		id, err := issuer.Verify(s.token)
		if (err == nil) != s.ok {
			t.Fatalf("%s: Verify = %+v, %v; want ok=%v", s.name, id, err, s.ok)
		}
		if s.ok && (id.AccountID != "0123456789abcdef0123456789abcdef" || id.OwnerID != "") {
			t.Fatalf("%s: identity %+v, want the account and no user", s.name, id)
		}
	}
}

// A user's token carries the user, remembered or parsed; an API key's
// none, and no token can claim another's user by editing its payload.
func TestTokensCarryTheUser(t *testing.T) {
	issuer := tokens.NewIssuer([]byte("secret"), time.Hour, time.Now)
	want := tokens.Identity{AccountID: "0123456789abcdef0123456789abcdef", OwnerID: "fedcba9876543210fedcba9876543210", Method: "cb_user_auth"}
	tok, err := issuer.IssueFor(want)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []*tokens.Issuer{issuer, issuer, tokens.NewIssuer([]byte("secret"), time.Hour, time.Now)} {
		got, err := v.Verify(tok)
		if err != nil || got != want {
			t.Fatalf("Verify = %+v, %v; want %+v", got, err, want)
		}
	}
	// The payload with another owner, the signature kept: refused.
	parts := strings.Split(tok, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	forged := strings.Replace(string(payload), want.OwnerID, "00000000000000000000000000000000", 1)
	if forged == string(payload) {
		t.Fatalf("payload %s does not carry the owner", payload)
	}
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(forged))
	if id, err := issuer.Verify(strings.Join(parts, ".")); err == nil {
		t.Fatalf("a token with an edited owner verified: %+v", id)
	}
}

// BenchmarkVerify measures verifying a token a client sends again and
// again (remembered) against a fresh one each time (parsed and checked).
func BenchmarkVerify(b *testing.B) {
	issuer := tokens.NewIssuer([]byte("secret"), time.Hour, time.Now)
	tok, _ := issuer.Issue("0123456789abcdef0123456789abcdef")
	b.Run("remembered", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := issuer.Verify(tok); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fresh", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := tokens.NewIssuer([]byte("secret"), time.Hour, time.Now).Verify(tok); err != nil {
				b.Fatal(err)
			}
		}
	})
}
