package listing

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"go.einride.tech/aip/ordering"

	"github.com/papercatalog/papers/repository"
)

// DefaultOrder is the order of a list request without order_by.
const DefaultOrder = "submit_time desc"

// KeyPart is one component of a paper's sort key: a number (times as Unix
// nanoseconds) or a text.
type KeyPart struct {
	I int64  `json:"i,omitempty"`
	S string `json:"s,omitempty"`
}

// Key is a paper's position in an order: one part per ordered field, then the paper
// ID, which breaks ties.
type Key []KeyPart

type orderField struct {
	text bool
	get  func(*repository.Paper) KeyPart
}

var orderFields = map[string]orderField{
	"submit_time":    {false, func(p *repository.Paper) KeyPart { return KeyPart{I: p.SubmitTime.UnixNano()} }},
	"published_time": {false, func(p *repository.Paper) KeyPart { return KeyPart{I: unixNano(p.PublishedTime)} }},
	"create_time":    {false, func(p *repository.Paper) KeyPart { return KeyPart{I: p.CreateTime.UnixNano()} }},
	"update_time":    {false, func(p *repository.Paper) KeyPart { return KeyPart{I: p.UpdateTime.UnixNano()} }},
	"upvotes":        {false, func(p *repository.Paper) KeyPart { return KeyPart{I: p.Upvotes} }},
	"title":          {true, func(p *repository.Paper) KeyPart { return KeyPart{S: p.Title} }},
	"name":           {true, func(p *repository.Paper) KeyPart { return KeyPart{S: p.ID} }},
}

// orderNames are the names of orderFields, sorted.
var orderNames = slices.Sorted(maps.Keys(orderFields))

// OrderFields lists the fields an order_by may name, sorted.
func OrderFields() []string { return slices.Clone(orderNames) }

// Order is a parsed order_by.
type Order struct {
	// Text is the canonical form of the order, e.g. "upvotes desc, submit_time desc".
	Text   string
	fields []orderField
	desc   []bool
}

// ParseOrder parses an AIP-132 order_by. The empty string means DefaultOrder.
func ParseOrder(text string) (Order, error) {
	if strings.TrimSpace(text) == "" {
		text = DefaultOrder
	}
	if len(text) > 500 {
		return Order{}, fmt.Errorf("order_by is longer than 500 bytes")
	}
	if !utf8.ValidString(text) {
		// The parser's error would quote the text, and an error message must be UTF-8.
		return Order{}, errors.New("order_by is not valid UTF-8")
	}
	var ob ordering.OrderBy
	if err := ob.UnmarshalString(text); err != nil {
		return Order{}, fmt.Errorf("invalid order_by: %w", err)
	}
	if err := ob.ValidateForPaths(OrderFields()...); err != nil {
		return Order{}, fmt.Errorf("invalid order_by (fields: %s): %w", strings.Join(OrderFields(), ", "), err)
	}
	var o Order
	seen := map[string]bool{}
	parts := make([]string, 0, len(ob.Fields))
	for _, f := range ob.Fields {
		if seen[f.Path] {
			return Order{}, fmt.Errorf("invalid order_by: %q appears twice", f.Path)
		}
		seen[f.Path] = true
		o.fields = append(o.fields, orderFields[f.Path])
		o.desc = append(o.desc, f.Desc)
		if f.Desc {
			parts = append(parts, f.Path+" desc")
		} else {
			parts = append(parts, f.Path)
		}
	}
	o.Text = strings.Join(parts, ", ")
	return o, nil
}

// KeyOf returns p's sort key in this order.
func (o Order) KeyOf(p *repository.Paper) Key {
	return o.AppendKey(make(Key, 0, o.KeyLen()), p)
}

// KeyLen is the length of this order's keys.
func (o Order) KeyLen() int { return len(o.fields) + 1 }

// AppendKey appends p's sort key in this order to k: the keys of many papers
// can share one allocation.
func (o Order) AppendKey(k Key, p *repository.Paper) Key {
	for _, f := range o.fields {
		k = append(k, f.get(p))
	}
	return append(k, KeyPart{S: p.ID})
}

// Compare orders two keys of this order: negative if a comes first.
func (o Order) Compare(a, b Key) int {
	for i := range a {
		if i >= len(b) {
			return 1
		}
		c := cmp.Compare(a[i].I, b[i].I)
		if c == 0 {
			c = strings.Compare(a[i].S, b[i].S)
		}
		if c != 0 {
			if i < len(o.desc) && o.desc[i] {
				return -c
			}
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}

// Valid reports whether k has the shape of a key of this order.
func (o Order) Valid(k Key) bool {
	if len(k) != len(o.fields)+1 || k[len(k)-1].S == "" {
		return false
	}
	for i, f := range o.fields {
		if (f.text && k[i].I != 0) || (!f.text && k[i].S != "") {
			return false
		}
	}
	return true
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}
