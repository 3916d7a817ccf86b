package paperpb

import "testing"

// FuzzPaperNames checks paper ids and resource names: an accepted id is never
// empty, is canonical (it parses as itself), and its resource name parses back
// to it; an accepted name is the resource name of the id it parses to; refusals
// say what is wrong and return no id.
func FuzzPaperNames(f *testing.F) {
	for _, s := range []string{
		"2111.13056", "0704.0001", "hep-th/9901001", "hep-th-9901001", "math.GT/0309136", "math.GT-0309136",
		"cond-mat-0102536", "2111.13056v2", "hep-th/9901001v1", "", "21111.3056", "papers/2111.13056",
		"papers/hep-th-9901001", "papers/hep-th/9901001", "papers/", "papers/2111.13056v2", "HEP-TH/9901001",
		"hep-th/990100", "2111.13056\n", "a-b-c-1234567", "math.GT-0309136v12", "papers//", "v1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, problem := ParseID(s)
		if problem == "" {
			if id == "" {
				t.Fatalf("ParseID(%q) accepted an empty id", s)
			}
			if again, p := ParseID(id); again != id || p != "" {
				t.Fatalf("id %q (from %q) parses as %q, %q", id, s, again, p)
			}
			if back, p := ParseName(Name(id)); back != id || p != "" {
				t.Fatalf("name %q of id %q parses as %q, %q", Name(id), id, back, p)
			}
		} else if id != "" {
			t.Fatalf("ParseID(%q) = %q with the problem %q", s, id, problem)
		}

		id, problem = ParseName(s)
		if problem == "" {
			if id == "" || Name(id) != s {
				t.Fatalf("ParseName(%q) = %q, whose name is %q", s, id, Name(id))
			}
			if again, p := ParseID(id); again != id || p != "" {
				t.Fatalf("id %q of name %q parses as %q, %q", id, s, again, p)
			}
		} else if id != "" {
			t.Fatalf("ParseName(%q) = %q with the problem %q", s, id, problem)
		}
	})
}
