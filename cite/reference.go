package cite

import "strings"

// Reference is the plain-text reference people read, in the manner of APA:
// up to three authors (the first three and "et al." when there are more), the year, the title, the arXiv
// identifier with its category, and the DOI's or arXiv's link.
//
//	Vaswani, A., Shazeer, N., Parmar, N., et al. (2017). Attention is all you need. arXiv:1706.03762 [cs.CL]. https://doi.org/10.48550/arXiv.1706.03762
func (w Work) Reference() string {
	var names []string
	all := w.authors()
	for _, n := range all[:min(len(all), 3)] {
		switch {
		case n.literal || n.family == "":
			names = append(names, n.full)
		case n.given == "":
			names = append(names, n.family)
		default:
			names = append(names, n.family+", "+initials(n.given))
		}
	}
	var b strings.Builder
	switch {
	case len(all) > 3 || w.MoreAuthors && len(names) > 0:
		b.WriteString(strings.Join(names, ", ") + ", et al.")
	case len(names) == 1:
		b.WriteString(names[0])
	case len(names) > 1:
		b.WriteString(strings.Join(names[:len(names)-1], ", ") + ", & " + names[len(names)-1])
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	if w.Published.IsZero() {
		b.WriteString("(n.d.). ")
	} else {
		b.WriteString("(" + w.Published.Format("2006") + "). ")
	}
	if t := strings.TrimRight(oneLine(w.Title), "."); t != "" {
		b.WriteString(t + ". ")
	}
	b.WriteString("arXiv:" + w.ArxivID)
	if c := oneLine(w.PrimaryCategory); c != "" {
		b.WriteString(" [" + c + "]")
	}
	b.WriteString(". ")
	if d := oneLine(w.DOI); d != "" {
		b.WriteString(DOIURL(d))
	} else {
		b.WriteString(w.URL())
	}
	return b.String()
}
