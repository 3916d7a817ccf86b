package paperpb

import "testing"

func TestPaperIDs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, id string
		ok     bool
	}{
		{"2111.13056", "2111.13056", true},
		{"0704.0001", "0704.0001", true},
		{"hep-th/9901001", "hep-th/9901001", true},
		{"hep-th-9901001", "hep-th/9901001", true},
		{"math.GT/0309136", "math.GT/0309136", true},
		{"math.GT-0309136", "math.GT/0309136", true},
		{"cond-mat-0102536", "cond-mat/0102536", true},
		{"2111.13056v2", "", false},
		{"hep-th/9901001v1", "", false},
		{"", "", false},
		{"21111.3056", "", false},
		{"papers/2111.13056", "", false},
		{"HEP-TH/9901001", "", false},
		{"hep-th/990100", "", false},
	}
	for _, tt := range tests {
		id, problem := ParseID(tt.in)
		if (problem == "") != tt.ok || id != tt.id {
			t.Errorf("ParseID(%q) = %q, %q; want %q, ok %v", tt.in, id, problem, tt.id, tt.ok)
		}
		if tt.ok {
			back, problem := ParseName(Name(id))
			if problem != "" || back != id {
				t.Errorf("name round trip of %q: %q %q", id, back, problem)
			}
		}
	}
}
