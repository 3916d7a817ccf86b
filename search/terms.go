package search

import "strings"

// stopWords are English words that say nothing about a paper's content, plus the
// boilerplate of abstracts.
var stopWords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`a about above after again against all also am an and any are as at be
because been before being below between both but by can could did do does doing down during each
few for from further had has have having he her here hers herself him himself his how i if in into is
it its itself just me more most my myself no nor not now of off on once only or other our ours
ourselves out over own same she should so some such than that the their theirs them themselves then
there these they this those through to too under until up very was we were what when where which
while who whom why will with would you your yours yourself yourselves paper propose proposed method
methods approach approaches show shows shown results result using based new novel however thus
use used via well work present presents study two one first second different given many much well
et al`) {
		stopWords[w] = true
	}
}
