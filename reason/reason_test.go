package reason

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeListsEveryReason checks that README.md's table of error reasons
// is All: every reason with its code, and no other.
func TestReadmeListsEveryReason(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]string{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([A-Z_]+)` \\| `([A-Z_]+)` ").FindAllStringSubmatch(string(readme), -1) {
		listed[m[1]] = m[2]
	}
	for _, r := range All {
		code := strings.ToUpper(regexp.MustCompile("([a-z])([A-Z])").ReplaceAllString(r.Code.String(), "${1}_${2}"))
		if code == "CANCELED" {
			code = "CANCELLED"
		}
		if got, ok := listed[r.Reason]; !ok || got != code {
			t.Errorf("README lists %s with %q, want %s", r.Reason, got, code)
		}
		delete(listed, r.Reason)
	}
	for r := range listed {
		t.Errorf("README lists %s, which is not in All", r)
	}
}
