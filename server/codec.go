package server

import (
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/proto" // registers the proto codec this one wraps
	"google.golang.org/grpc/mem"
)

// responseCodec is gRPC's proto codec, except that responses the catalog served
// from its response cache go out in the encoding cached with them instead of
// being marshalled again.
type responseCodec struct {
	base    encoding.CodecV2
	encoded func(any) ([]byte, bool)
}

func newResponseCodec(encoded func(any) ([]byte, bool)) responseCodec {
	return responseCodec{base: encoding.GetCodecV2("proto"), encoded: encoded}
}

func (c responseCodec) Marshal(v any) (mem.BufferSlice, error) {
	if b, ok := c.encoded(v); ok {
		return mem.BufferSlice{mem.SliceBuffer(b)}, nil
	}
	return c.base.Marshal(v)
}

func (c responseCodec) Unmarshal(data mem.BufferSlice, v any) error { return c.base.Unmarshal(data, v) }

func (c responseCodec) Name() string { return c.base.Name() }
