package listing

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"

	"go.einride.tech/aip/filtering"
	expr "google.golang.org/genproto/googleapis/api/expr/v1alpha1"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/papercatalog/papers/repository"
)

// SubscriptionFilter parses an AIP-160 filter of ListSubscriptions (empty:
// every subscription). It may name the subscription's state, compared with =
// or != to one of the values of states (the API's enum, whose numbers are
// repository.SubscriptionState's, such as STATE_ACTIVE), in terms joined by
// AND, OR and NOT.
func SubscriptionFilter(text string, states protoreflect.EnumType) (func(*repository.Subscription) bool, error) {
	if text == "" {
		return func(*repository.Subscription) bool { return true }, nil
	}
	decls, err := subscriptionDeclarations(states)
	if err != nil {
		return nil, err
	}
	parsed, err := filtering.ParseFilterString(text, decls)
	if err != nil {
		return nil, fmt.Errorf("must be empty or compare state with STATE_PENDING, STATE_ACTIVE or STATE_UNSUBSCRIBED, such as state = STATE_ACTIVE: %w", err)
	}
	return compileSubscriptionFilter(parsed.CheckedExpr.GetExpr(), states.Descriptor().Values())
}

// stateDeclarations are the filter declarations made per enum of states (one in
// practice), so that a list call does not build them again.
var stateDeclarations sync.Map // protoreflect.FullName → *filtering.Declarations

func subscriptionDeclarations(states protoreflect.EnumType) (*filtering.Declarations, error) {
	name := states.Descriptor().FullName()
	if d, ok := stateDeclarations.Load(name); ok {
		return d.(*filtering.Declarations), nil
	}
	d, err := filtering.NewDeclarations(filtering.DeclareStandardFunctions(), filtering.DeclareEnumIdent("state", states))
	if err != nil {
		return nil, fmt.Errorf("subscription filter declarations: %w", err)
	}
	stateDeclarations.Store(name, d)
	return d, nil
}

func compileSubscriptionFilter(e *expr.Expr, states protoreflect.EnumValueDescriptors) (func(*repository.Subscription) bool, error) {
	call := e.GetCallExpr()
	if call == nil {
		return nil, fmt.Errorf("%v is not a comparison of state", e)
	}
	args := make([]func(*repository.Subscription) bool, 0, 2)
	switch fn := call.GetFunction(); fn {
	case filtering.FunctionEquals, filtering.FunctionNotEquals:
		if len(call.GetArgs()) != 2 || call.GetArgs()[0].GetIdentExpr().GetName() != "state" {
			return nil, fmt.Errorf("%s compares state with a state, such as state = STATE_ACTIVE", fn)
		}
		name := call.GetArgs()[1].GetIdentExpr().GetName()
		value := states.ByName(protoreflect.Name(name))
		if value == nil {
			return nil, fmt.Errorf("%s compares state with a state, such as state = STATE_ACTIVE", fn)
		}
		equal := fn == filtering.FunctionEquals
		want := int32(value.Number())
		return func(sub *repository.Subscription) bool { return (int32(sub.State) == want) == equal }, nil //nolint:gosec // 1 to 3
	case filtering.FunctionAnd, filtering.FunctionFuzzyAnd, filtering.FunctionOr, filtering.FunctionNot:
		for _, a := range call.GetArgs() {
			f, err := compileSubscriptionFilter(a, states)
			if err != nil {
				return nil, err
			}
			args = append(args, f)
		}
		switch {
		case fn == filtering.FunctionNot && len(args) == 1:
			return func(sub *repository.Subscription) bool { return !args[0](sub) }, nil
		case fn == filtering.FunctionOr && len(args) == 2:
			return func(sub *repository.Subscription) bool { return args[0](sub) || args[1](sub) }, nil
		case fn != filtering.FunctionNot && fn != filtering.FunctionOr && len(args) == 2:
			return func(sub *repository.Subscription) bool { return args[0](sub) && args[1](sub) }, nil
		}
	}
	return nil, fmt.Errorf("%s is not a comparison of state", call.GetFunction())
}

// SubscriptionKey is a subscription's position in ListSubscriptions: newest
// first, then by id.
func SubscriptionKey(sub *repository.Subscription) Key {
	return Key{{I: -sub.CreateTime.UnixNano()}, {S: sub.ID}}
}

func compareSubscriptionKeys(a, b Key) int {
	if c := cmp.Compare(a[0].I, b[0].I); c != 0 {
		return c
	}
	return strings.Compare(a[1].S, b[1].S)
}

// SubscriptionPage sorts all in the order of SubscriptionKey and returns the
// at most size subscriptions after the position after (nil: from the start),
// and more, whether any follow them.
func SubscriptionPage(all []*repository.Subscription, after Key, size int) (page []*repository.Subscription, more bool) {
	slices.SortFunc(all, func(a, b *repository.Subscription) int {
		return compareSubscriptionKeys(SubscriptionKey(a), SubscriptionKey(b))
	})
	start := 0
	if len(after) == 2 {
		start, _ = slices.BinarySearchFunc(all, after, func(sub *repository.Subscription, k Key) int {
			if compareSubscriptionKeys(SubscriptionKey(sub), k) <= 0 {
				return -1
			}
			return 1
		})
	}
	end := min(start+size, len(all))
	return all[start:end], end < len(all)
}
