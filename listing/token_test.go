package listing

import (
	"errors"
	"slices"
	"testing"
)

// TestResume: a first page has no token; a token resumes only the query it
// was made for, with a key that fits the order, and carries its number back.
func TestResume(t *testing.T) {
	t.Parallel()
	tokens := NewTokens([]byte("a key of thirty-two bytes, or so."))
	o, err := ParseOrder("upvotes desc")
	if err != nil {
		t.Fatal(err)
	}
	after, n, err := tokens.Resume("q", "", &o)
	if after != nil || n != 0 || err != nil {
		t.Errorf("no token: %v %d %v, want the first page", after, n, err)
	}
	key := Key{{I: 7}, {S: "2401.00001"}}
	tok := tokens.EncodeExtra("q", key, 42)
	after, n, err = tokens.Resume("q", tok, &o)
	if err != nil || n != 42 || !slices.Equal(after, key) {
		t.Errorf("own token: %v %d %v, want %v 42", after, n, err, key)
	}
	for name, tc := range map[string]struct {
		query, token string
		order        *Order
	}{
		"another query":        {"other", tok, &o},
		"a tampered token":     {"q", tok[:len(tok)-2] + "AA", &o},
		"not base64":           {"q", "%%%", nil},
		"a key of other shape": {"q", tokens.Encode("q", Key{{S: "x"}}), &o},
	} {
		if _, _, err := tokens.Resume(tc.query, tc.token, tc.order); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: %v, want ErrInvalidToken", name, err)
		}
	}
}
