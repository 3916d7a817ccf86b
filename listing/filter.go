// Package listing turns the AIP-160 filters, AIP-132 orderings and page tokens of list
// requests into functions over repository.Paper that the read model runs.
package listing

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"go.einride.tech/aip/filtering"
	expr "google.golang.org/genproto/googleapis/api/expr/v1alpha1"

	"github.com/papercatalog/papers/repository"
)

// MaxFilterLength is the longest filter accepted, in bytes.
const MaxFilterLength = 2000

// Filter decides whether a paper matches a list request's filter.
type Filter struct {
	// Text is the filter as the caller wrote it.
	Text  string
	match func(*repository.Paper) value
	// from and to, when to is set, bound the submit times of the papers that
	// can match: [from, to).
	from, to time.Time
	terms    []Term
}

// Term is a test `field:"text"` of a list field (categories, authors): an
// element of the field contains the text, ignoring case.
type Term struct {
	Field, Text string
}

// Holds reports whether el, an element of the term's field, passes the test.
func (t Term) Holds(el string) bool { return containsFold(el, t.Text) }

// Terms returns tests that every paper f matches passes: the `field:"text"`
// tests of list fields that the filter ANDs at its top level. An index of a
// field's elements can then find every paper that may match, and Match decides.
func (f Filter) Terms() []Term { return f.terms }

// terms collects the top-level ANDed `field:"text"` tests of list fields in e.
func terms(e *expr.Expr) []Term {
	call := e.GetCallExpr()
	switch call.GetFunction() {
	case filtering.FunctionAnd, filtering.FunctionFuzzyAnd:
		var out []Term
		for _, a := range call.GetArgs() {
			out = append(out, terms(a)...)
		}
		return out
	case filtering.FunctionHas:
		if len(call.GetArgs()) != 2 {
			return nil
		}
		name := call.GetArgs()[0].GetIdentExpr().GetName()
		c := call.GetArgs()[1].GetConstExpr()
		f, ok := fields[name]
		if !ok || f.typ.GetListType() == nil || c == nil {
			return nil
		}
		if text, ok := c.GetConstantKind().(*expr.Constant_StringValue); ok && text.StringValue != "*" {
			return []Term{{Field: name, Text: text.StringValue}}
		}
	}
	return nil
}

// SubmittedIn returns a filter that also requires a submit time in [from, to).
// The bounds go into the filter's Text, and the read model uses them to look at
// the papers of that period only.
func (f Filter) SubmittedIn(from, to time.Time) Filter {
	return f.submitted(fmt.Sprintf("submitted in [%d, %d)", from.UnixNano(), to.UnixNano()), from, to)
}

// SubmittedFrom returns a filter that also requires a submit time at or after
// from, as SubmittedIn does.
func (f Filter) SubmittedFrom(from time.Time) Filter {
	return f.submitted(fmt.Sprintf("submitted from %d", from.UnixNano()), from, endOfTime)
}

// endOfTime is later than any submit time.
var endOfTime = time.Unix(1<<62, 0)

func (f Filter) submitted(desc string, from, to time.Time) Filter {
	g := f.And(desc, func(p *repository.Paper) bool {
		return !p.SubmitTime.Before(from) && p.SubmitTime.Before(to)
	})
	if !f.to.IsZero() { // the intersection
		from, to = latest(from, f.from), earliest(to, f.to)
	}
	g.from, g.to = from, to
	return g
}

// SubmitBounds returns the submit times [from, to) outside which no paper
// matches; ok is false when the filter has no such bounds.
func (f Filter) SubmitBounds() (from, to time.Time, ok bool) {
	return f.from, f.to, !f.to.IsZero()
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Match reports whether p matches. The empty filter matches every paper.
func (f Filter) Match(p *repository.Paper) bool {
	if f.match == nil {
		return true
	}
	return f.match(p).b
}

// kind is the type of a filter value.
type kind int

const (
	kindBool kind = iota
	kindInt
	kindFloat
	kindString
	kindTime
	kindList
)

type value struct {
	kind kind
	b    bool
	i    int64
	f    float64
	s    string
	t    time.Time
	list []string
}

type field struct {
	typ *expr.Type
	get func(*repository.Paper) value
}

var fields = map[string]field{
	"organization": {filtering.TypeString, func(p *repository.Paper) value {
		return value{kind: kindString, s: p.Organization.ID}
	}},
	"categories": {filtering.TypeList(filtering.TypeString), func(p *repository.Paper) value {
		return value{kind: kindList, list: p.Categories}
	}},
	"primary_category": {filtering.TypeString, func(p *repository.Paper) value {
		return value{kind: kindString, s: p.PrimaryCategory}
	}},
	"authors": {filtering.TypeList(filtering.TypeString), func(p *repository.Paper) value {
		names := make([]string, len(p.Authors))
		for i, a := range p.Authors {
			names[i] = a.Name
		}
		return value{kind: kindList, list: names}
	}},
	"submitter": {filtering.TypeString, func(p *repository.Paper) value {
		return value{kind: kindString, s: p.Submitter}
	}},
	"submit_time": {filtering.TypeTimestamp, func(p *repository.Paper) value {
		return value{kind: kindTime, t: p.SubmitTime}
	}},
	"published_time": {filtering.TypeTimestamp, func(p *repository.Paper) value {
		return value{kind: kindTime, t: p.PublishedTime}
	}},
	"upvotes": {filtering.TypeInt, func(p *repository.Paper) value {
		return value{kind: kindInt, i: p.Upvotes}
	}},
	"github_repo": {filtering.TypeString, func(p *repository.Paper) value {
		return value{kind: kindString, s: p.GithubRepo}
	}},
}

// filterFields are the names of fields, sorted.
var filterFields = slices.Sorted(maps.Keys(fields))

// FilterFields lists the fields a filter may name, sorted.
func FilterFields() []string { return slices.Clone(filterFields) }

var declarations = func() *filtering.Declarations {
	opts := []filtering.DeclarationOption{
		filtering.DeclareStandardFunctions(),
		// Terms separated by whitespace (`a b`) are ANDed, as AIP-160 says.
		filtering.DeclareFunction(filtering.FunctionFuzzyAnd,
			filtering.NewFunctionOverload(filtering.FunctionFuzzyAnd+"_bool", filtering.TypeBool, filtering.TypeBool, filtering.TypeBool)),
	}
	for name, f := range fields {
		opts = append(opts, filtering.DeclareIdent(name, f.typ))
	}
	d, err := filtering.NewDeclarations(opts...)
	if err != nil {
		panic(fmt.Sprintf("filter declarations: %v", err)) // a programming error, caught by every test
	}
	return d
}()

// ParseFilter parses and type-checks an AIP-160 filter. The error says what is
// wrong in words a caller can act on.
func ParseFilter(text string) (Filter, error) {
	if len(text) > MaxFilterLength {
		return Filter{}, fmt.Errorf("filter is longer than %d bytes", MaxFilterLength)
	}
	if !utf8.ValidString(text) {
		// The parser's error would quote the text, and an error message must be UTF-8.
		return Filter{}, errors.New("filter is not valid UTF-8")
	}
	if strings.TrimSpace(text) == "" {
		return Filter{Text: text}, nil
	}
	parsed, err := filtering.ParseFilterString(text, declarations)
	if err != nil {
		return Filter{}, filterError(text, err)
	}
	m, err := compile(parsed.CheckedExpr.GetExpr())
	if err != nil {
		return Filter{}, err
	}
	return Filter{Text: text, match: m, terms: terms(parsed.CheckedExpr.GetExpr())}, nil
}

// operand is the field that the first call of function fn in text applies
// to, or "".
func operand(text, fn string) string {
	var p filtering.Parser
	p.Init(text)
	parsed, err := p.Parse()
	if err != nil {
		return ""
	}
	var field string
	filtering.Walk(func(e, _ *expr.Expr) bool {
		if c := e.GetCallExpr(); field == "" && c.GetFunction() == fn && len(c.GetArgs()) > 0 {
			field = c.GetArgs()[0].GetIdentExpr().GetName()
		}
		return field == ""
	}, parsed.GetExpr())
	return field
}

// positioned is an error of the filter parser that knows where in the text it
// arose; the parser nests one for every rule it was in.
type positioned interface {
	Position() filtering.Position
	Message() string
}

// undeclared and overload are the texts of the filter checker's errors.
var (
	undeclared = regexp.MustCompile(`undeclared identifier '([^']*)'`)
	overload   = regexp.MustCompile(`no matching overload found for calling '([^']*)' with \[([^\]]*)\]`)
)

// filterError turns an error of the filter parser or checker into one short
// sentence: the parser's own text holds a trace of every grammar rule it was in,
// and the checker's names its internals.
func filterError(text string, err error) error {
	msg := err.Error()
	if m := undeclared.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("unknown field %q; fields: %s", m[1], strings.Join(FilterFields(), ", "))
	}
	if m := overload.FindStringSubmatch(msg); m != nil {
		types := strings.Fields(strings.ReplaceAll(strings.ToLower(m[2]), "primitive:", ""))
		if field := operand(text, m[1]); field != "" && len(types) == 2 {
			return fmt.Errorf("%s is %s; %q cannot compare it with %s", field, types[0], m[1], types[1])
		}
		return fmt.Errorf("%q cannot be applied to (%s)", m[1], strings.Join(types, ", "))
	}
	// The innermost positioned error is where the parser gave up.
	var at positioned
	for e := err; e != nil; e = errors.Unwrap(e) {
		if p, ok := e.(positioned); ok {
			at = p
		}
	}
	if at != nil {
		if errors.Is(at.(error), io.EOF) {
			return fmt.Errorf("the filter ends early (column %d)", at.Position().Column)
		}
		return fmt.Errorf("syntax error at column %d: %s", at.Position().Column, strings.Replace(at.Message(), "token WS", "space", 1))
	}
	msg = strings.TrimSpace(strings.ReplaceAll(msg, "check call expr: ", ""))
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return errors.New(msg)
}

type evaluator = func(*repository.Paper) value

func compile(e *expr.Expr) (evaluator, error) {
	switch k := e.GetExprKind().(type) {
	case *expr.Expr_ConstExpr:
		v, err := constant(k.ConstExpr)
		if err != nil {
			return nil, err
		}
		return func(*repository.Paper) value { return v }, nil
	case *expr.Expr_IdentExpr:
		f, ok := fields[k.IdentExpr.GetName()]
		if !ok {
			return nil, fmt.Errorf("unknown field %q", k.IdentExpr.GetName())
		}
		return f.get, nil
	case *expr.Expr_CallExpr:
		return compileCall(k.CallExpr)
	default:
		return nil, fmt.Errorf("unsupported expression %s", e.String())
	}
}

func constant(c *expr.Constant) (value, error) {
	switch k := c.GetConstantKind().(type) {
	case *expr.Constant_BoolValue:
		return value{kind: kindBool, b: k.BoolValue}, nil
	case *expr.Constant_Int64Value:
		return value{kind: kindInt, i: k.Int64Value}, nil
	case *expr.Constant_DoubleValue:
		return value{kind: kindFloat, f: k.DoubleValue}, nil
	case *expr.Constant_StringValue:
		return value{kind: kindString, s: k.StringValue}, nil
	default:
		return value{}, fmt.Errorf("unsupported constant %s", c.String())
	}
}

func compileCall(call *expr.Expr_Call) (evaluator, error) {
	fn := call.GetFunction()
	args := make([]evaluator, len(call.GetArgs()))
	for i, a := range call.GetArgs() {
		ev, err := compile(a)
		if err != nil {
			return nil, err
		}
		args[i] = ev
	}
	switch fn {
	case filtering.FunctionAnd, filtering.FunctionFuzzyAnd:
		return func(p *repository.Paper) value {
			for _, a := range args {
				if !a(p).b {
					return value{kind: kindBool}
				}
			}
			return value{kind: kindBool, b: true}
		}, nil
	case filtering.FunctionOr:
		return func(p *repository.Paper) value {
			for _, a := range args {
				if a(p).b {
					return value{kind: kindBool, b: true}
				}
			}
			return value{kind: kindBool}
		}, nil
	case filtering.FunctionNot:
		if len(args) != 1 {
			return nil, fmt.Errorf("NOT takes one operand")
		}
		return func(p *repository.Paper) value { return value{kind: kindBool, b: !args[0](p).b} }, nil
	case filtering.FunctionTimestamp:
		return timestampArg(call)
	case filtering.FunctionHas:
		if len(args) != 2 {
			return nil, fmt.Errorf("':' takes two operands")
		}
		l, r := args[0], args[1]
		return func(p *repository.Paper) value { return value{kind: kindBool, b: has(l(p), r(p))} }, nil
	case filtering.FunctionEquals, filtering.FunctionNotEquals, filtering.FunctionLessThan,
		filtering.FunctionLessEquals, filtering.FunctionGreaterThan, filtering.FunctionGreaterEquals:
		if len(args) != 2 {
			return nil, fmt.Errorf("%q takes two operands", fn)
		}
		l, r := args[0], args[1]
		// Constants compared with a time are parsed once, here.
		if rc := call.GetArgs()[1].GetConstExpr(); rc != nil && rc.GetStringValue() != "" && isTimeField(call.GetArgs()[0]) {
			t, err := time.Parse(time.RFC3339Nano, rc.GetStringValue())
			if err != nil {
				return nil, fmt.Errorf("%q is not an RFC 3339 time such as 2024-01-02T15:04:05Z", rc.GetStringValue())
			}
			tv := value{kind: kindTime, t: t}
			r = func(*repository.Paper) value { return tv }
		}
		return func(p *repository.Paper) value {
			c, ok := compare(l(p), r(p))
			return value{kind: kindBool, b: ok && holds(fn, c)}
		}, nil
	default:
		return nil, fmt.Errorf("unsupported function %q", fn)
	}
}

func isTimeField(e *expr.Expr) bool {
	id := e.GetIdentExpr()
	if id == nil {
		return false
	}
	return id.GetName() == "submit_time" || id.GetName() == "published_time"
}

func timestampArg(call *expr.Expr_Call) (evaluator, error) {
	if len(call.GetArgs()) != 1 || call.GetArgs()[0].GetConstExpr() == nil {
		return nil, fmt.Errorf("timestamp() takes one string constant")
	}
	s := call.GetArgs()[0].GetConstExpr().GetStringValue()
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return nil, fmt.Errorf("%q is not an RFC 3339 time such as 2024-01-02T15:04:05Z", s)
	}
	v := value{kind: kindTime, t: t}
	return func(*repository.Paper) value { return v }, nil
}

func holds(fn string, c int) bool {
	switch fn {
	case filtering.FunctionEquals:
		return c == 0
	case filtering.FunctionNotEquals:
		return c != 0
	case filtering.FunctionLessThan:
		return c < 0
	case filtering.FunctionLessEquals:
		return c <= 0
	case filtering.FunctionGreaterThan:
		return c > 0
	default: // >=
		return c >= 0
	}
}

// compare orders two values of compatible kinds; ok is false when they cannot be
// compared, and then no comparison holds.
func compare(a, b value) (c int, ok bool) {
	switch {
	case a.kind == kindInt && b.kind == kindInt:
		return cmpOrdered(a.i, b.i), true
	case (a.kind == kindInt || a.kind == kindFloat) && (b.kind == kindInt || b.kind == kindFloat):
		return cmpOrdered(asFloat(a), asFloat(b)), true
	case a.kind == kindString && b.kind == kindString:
		return strings.Compare(a.s, b.s), true
	case a.kind == kindTime && b.kind == kindTime:
		return a.t.Compare(b.t), true
	case a.kind == kindBool && b.kind == kindBool:
		if a.b == b.b {
			return 0, true
		}
		return 1, true
	}
	return 0, false
}

func asFloat(v value) float64 {
	if v.kind == kindInt {
		return float64(v.i)
	}
	return v.f
}

func cmpOrdered[T int64 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// has implements ':': `*` tests presence; on a list, an element equals the value
// (ignoring case) or contains it (ignoring case); on text, the text contains it.
func has(a, b value) bool {
	if b.kind != kindString {
		c, ok := compare(a, b)
		return ok && c == 0
	}
	switch a.kind {
	case kindList:
		if b.s == "*" {
			return len(a.list) > 0
		}
		for _, el := range a.list {
			if containsFold(el, b.s) {
				return true
			}
		}
		return false
	case kindString:
		if b.s == "*" {
			return a.s != ""
		}
		return containsFold(a.s, b.s)
	case kindTime:
		return b.s == "*" && !a.t.IsZero()
	}
	return false
}

// containsFold reports whether s contains sub, ignoring case as strings.ToLower
// does. Filters test it on every paper, so ASCII text, the usual case, is
// compared in place rather than lowered into new strings.
func containsFold(s, sub string) bool {
	if !isASCII(s) || !isASCII(sub) {
		return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
	}
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
