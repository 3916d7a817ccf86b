// parse.mjs: reads BibTeX on standard input, parses it with
// @retorquere/bibtex-parser (the parser of Better BibTeX for Zotero) and
// writes the library as JSON: {errors, entries: [{type, key, fields}]}, with
// LaTeX turned into text and no case changes. cite/citetest runs it.
import { parse } from '@retorquere/bibtex-parser'
import { readFileSync } from 'node:fs'

const lib = parse(readFileSync(0, 'utf8'), { english: false, sentenceCase: false })
process.stdout.write(JSON.stringify({
  errors: lib.errors,
  entries: lib.entries.map(e => ({ type: e.type, key: e.key, fields: e.fields })),
}))
