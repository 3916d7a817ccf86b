package memo

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func TestResponses(t *testing.T) {
	t.Parallel()
	var c Responses
	builds := 0
	build := func() (*wrapperspb.StringValue, error) {
		builds++
		return wrapperspb.String("answer"), nil
	}
	key := Key("list", wrapperspb.String("request"))
	first, _ := Do(&c, key, 1, build)
	second, _ := Do(&c, key, 1, build)
	if builds != 1 || first != second {
		t.Errorf("the same request in the same generation built %d times, want once", builds)
	}
	if b, ok := c.Encoded(first); !ok || !proto.Equal(mustUnmarshal(t, b), first) {
		t.Error("the cached response has no wire encoding, or a wrong one")
	}
	if _, _ = Do(&c, key, 2, build); builds != 2 {
		t.Error("a newer generation served a stale response")
	}
	c.Put("old", 1, wrapperspb.String("stale"))
	if _, ok := c.Get("old", 1); ok {
		t.Error("a response of an older generation was kept")
	}
	if Key("list", wrapperspb.String("a")) == Key("list", wrapperspb.String("b")) ||
		Key("list", wrapperspb.String("a")) == Key("list", wrapperspb.String("a"), "minute") {
		t.Error("different requests share a key")
	}
}

func mustUnmarshal(t *testing.T, b []byte) *wrapperspb.StringValue {
	t.Helper()
	var m wrapperspb.StringValue
	if err := proto.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return &m
}
