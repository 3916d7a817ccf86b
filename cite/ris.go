package cite

import "strings"

// RIS is the work as an RIS record (TY UNPB, an unpublished preprint),
// lines ending in CRLF as the format asks; every value is on one line.
func (w Work) RIS() string {
	var b strings.Builder
	line := func(tag, value string) {
		if value = oneLine(value); value != "" {
			b.WriteString(tag + "  - " + value + "\r\n")
		}
	}
	line("TY", "UNPB")
	line("ID", w.Key())
	line("TI", w.Title)
	for _, n := range w.authors() {
		line("AU", risName(n))
	}
	if !w.Published.IsZero() {
		line("PY", w.Published.Format("2006"))
		line("DA", w.Published.Format("2006/01/02"))
	}
	line("AB", w.Abstract)
	for _, k := range w.Keywords {
		line("KW", k)
	}
	line("PB", "arXiv")
	line("M1", "arXiv:"+w.ArxivID)
	line("DO", w.DOI)
	line("UR", w.URL())
	line("L1", w.pdf())
	line("N1", w.JournalRef)
	b.WriteString("ER  - \r\n")
	return b.String()
}

// risName is a name as RIS writes it: "Family, Given, Suffix".
func risName(n name) string {
	if n.literal || n.family == "" {
		return n.full
	}
	out := n.family
	if n.given != "" || n.suffix != "" {
		out += ", " + n.given
	}
	if n.suffix != "" {
		out += ", " + n.suffix
	}
	return out
}
