package cite

import (
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Key is the work's BibTeX key: the first author's family name, the year and
// the first word of the title that is not a stop word, in lower-case ASCII,
// then the arXiv identifier (`/` as `-`), which makes it unique and stable:
// `vaswani2017attention_1706.03762`. Parts that are missing are left out.
func (w Work) Key() string {
	var b strings.Builder
	for _, a := range w.Authors {
		if n := splitName(a.Name); n.full != "" {
			fam := n.family
			if n.literal {
				fam = n.full
			}
			b.WriteString(firstWord(fam, false))
			break
		}
	}
	if !w.Published.IsZero() {
		b.WriteString(strconv.Itoa(w.Published.Year()))
	}
	b.WriteString(firstWord(w.Title, true))
	if b.Len() > 0 {
		b.WriteByte('_')
	}
	b.WriteString(keyID(w.ArxivID))
	return b.String()
}

// keyID is an arXiv identifier in the characters of a key.
func keyID(id string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)), r == '.', r == '-':
			return r
		}
		return '-'
	}, id)
}

var stopWords = map[string]bool{"a": true, "an": true, "the": true, "on": true, "of": true, "in": true, "for": true, "to": true, "and": true, "with": true, "is": true, "are": true, "from": true, "by": true, "at": true, "towards": true, "toward": true}

// letters are the Latin letters that do not decompose into an ASCII letter
// and accents.
var letters = strings.NewReplacer("Œ", "Oe", "œ", "oe", "Æ", "Ae", "æ", "ae", "ß", "ss", "Ø", "O", "ø", "o", "Ł", "L", "ł", "l", "Đ", "D", "đ", "d", "Þ", "Th", "þ", "th")

// firstWord is the first word of s, folded to lower-case ASCII letters and
// digits (accents dropped, other scripts left out), skipping stop words if
// skipStop. At most 20 characters.
func firstWord(s string, skipStop bool) string {
	for _, w := range strings.FieldsFunc(norm.NFKD.String(letters.Replace(s)), func(r rune) bool {
		return unicode.IsSpace(r) || r == '-' || r == '/' || r == ':'
	}) {
		folded := strings.Map(func(r rune) rune {
			r = unicode.ToLower(r)
			if r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
				return r
			}
			return -1
		}, w)
		if folded == "" || skipStop && stopWords[folded] {
			continue
		}
		return folded[:min(len(folded), 20)]
	}
	return ""
}

// texSpecial are the characters BibTeX or LaTeX give a meaning, and how to
// write them as text. Braces are written as commands, not `\{`: BibTeX
// counts every brace, escaped or not, when it looks for a value's end.
var texSpecial = strings.NewReplacer(
	`\`, `\textbackslash{}`,
	`{`, `\textbraceleft{}`,
	`}`, `\textbraceright{}`,
	`$`, `\$`,
	`&`, `\&`,
	`%`, `\%`,
	`#`, `\#`,
	`_`, `\_`,
	`^`, `\textasciicircum{}`,
	`~`, `\textasciitilde{}`,
	`<`, `\textless{}`,
	`>`, `\textgreater{}`,
)

// ligatures are the pairs TeX fonts turn into other characters (`--` into a
// dash, two quotes into one); an empty group between the two keeps them as
// they are.
var ligatures = strings.NewReplacer("--", "-{}-", "``", "`{}`", "''", "'{}'", "!`", "!{}`", "?`", "?{}`")

// tex escapes text for a BibTeX value: one line, the specials as commands,
// other characters (UTF-8 included) as they are.
func tex(s string) string {
	s = texSpecial.Replace(oneLine(s))
	// Twice: a replacement does not see a pair that overlaps the last one
	// (`---`).
	return ligatures.Replace(ligatures.Replace(s))
}

// verbatimSpecial are the characters a verbatim field (doi, url, eprint)
// cannot hold: braces would end the value, a backslash starts a command in
// BibTeX. URLs and DOIs take them percent-encoded.
var verbatimSpecial = strings.NewReplacer(`{`, `%7B`, `}`, `%7D`, `\`, `%5C`, " ", `%20`)

func verbatim(s string) string { return verbatimSpecial.Replace(oneLine(s)) }

// hasAnd reports whether s holds the word BibTeX splits author lists at.
func hasAnd(s string) bool {
	for _, w := range strings.Fields(s) {
		if strings.EqualFold(w, "and") {
			return true
		}
	}
	return false
}

// bibName writes a name as BibTeX reads it: `Family, Given` (`Family,
// Suffix, Given`); a literal name goes in braces, which BibTeX takes as one
// unit.
func bibName(n name) string {
	if n.literal || n.family == "" {
		return "{" + tex(n.full) + "}"
	}
	out := tex(n.family)
	if n.suffix != "" {
		out += ", " + tex(n.suffix)
	}
	if n.given != "" {
		out += ", " + tex(n.given)
	} else if n.suffix != "" {
		out += ", "
	}
	return out
}

var months = [...]string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}

// BibTeX is the work as a BibTeX @misc entry, as arXiv exports it (eprint,
// archivePrefix, primaryClass) with the DOI when known. The title is in
// double braces, so styles keep its case. Special characters are escaped
// (see tex); non-ASCII characters are kept as UTF-8, which biber and BibTeX
// 0.99d with inputenc read.
func (w Work) BibTeX() string {
	var b strings.Builder
	b.WriteString("@misc{" + w.Key() + ",\n")
	field := func(name, value string) {
		if value != "" {
			b.WriteString("  " + name + " = {" + value + "},\n")
		}
	}
	if t := tex(w.Title); t != "" {
		field("title", "{"+t+"}")
	}
	var names []string
	for _, n := range w.authors() {
		names = append(names, bibName(n))
	}
	if w.MoreAuthors && len(names) > 0 {
		names = append(names, "others")
	}
	field("author", strings.Join(names, " and "))
	if !w.Published.IsZero() {
		field("year", strconv.Itoa(w.Published.Year()))
		b.WriteString("  month = " + months[w.Published.Month()-1] + ",\n")
	}
	field("eprint", verbatim(w.ArxivID))
	field("archivePrefix", "arXiv")
	field("primaryClass", tex(w.PrimaryCategory))
	field("doi", verbatim(w.DOI))
	field("url", verbatim(w.URL()))
	field("note", tex(w.JournalRef))
	b.WriteString("}\n")
	return b.String()
}
