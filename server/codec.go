package server

import (
	"context"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/proto" // registers the proto codec this one wraps
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
)

// responseCodec is gRPC's proto codec, except that responses the catalog served
// from its response cache go out in the encoding cached with them instead of
// being marshalled again, and that requests which do not decode are answered
// INVALID_ARGUMENT rather than INTERNAL.
//
// gRPC turns any error of a codec into INTERNAL ("failed to unmarshal"), yet
// bytes that are not the message (a broken wire format, a string that is not
// UTF-8) are the caller's mistake. So Unmarshal notes why a message did not
// decode and reports success, and an interceptor of each chain
// (rejectUndecodedUnary, rejectUndecodedStream) answers the call with
// INVALID_ARGUMENT before anything reads the message. They must come before
// any interceptor that may answer without calling the next one, so that every
// noted message is looked at, and forgotten.
type responseCodec struct {
	base      encoding.CodecV2
	encoded   func(any) ([]byte, bool)
	undecoded *sync.Map // request message → the error decoding it
}

func newResponseCodec(encoded func(any) ([]byte, bool)) responseCodec {
	return responseCodec{base: encoding.GetCodecV2("proto"), encoded: encoded, undecoded: &sync.Map{}}
}

func (c responseCodec) Marshal(v any) (mem.BufferSlice, error) {
	if b, ok := c.encoded(v); ok {
		return mem.BufferSlice{mem.SliceBuffer(b)}, nil
	}
	return c.base.Marshal(v)
}

func (c responseCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if err := c.base.Unmarshal(data, v); err != nil {
		c.undecoded.Store(v, err)
	}
	return nil
}

func (c responseCodec) Name() string { return c.base.Name() }

// decodeError returns INVALID_ARGUMENT if the request message m did not
// decode, and forgets it.
func (c responseCodec) decodeError(m any) error {
	err, ok := c.undecoded.LoadAndDelete(m)
	if !ok {
		return nil
	}
	return status.Errorf(codes.InvalidArgument, "the request message cannot be decoded: %v", err)
}

// rejectUndecodedUnary answers a call whose request did not decode.
func (c responseCodec) rejectUndecodedUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	if err := c.decodeError(req); err != nil {
		return nil, err
	}
	return next(ctx, req)
}

// rejectUndecodedStream makes a stream's RecvMsg fail with INVALID_ARGUMENT
// for a message that did not decode.
func (c responseCodec) rejectUndecodedStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, next grpc.StreamHandler) error {
	return next(srv, decodedStream{ServerStream: ss, codec: c})
}

type decodedStream struct {
	grpc.ServerStream
	codec responseCodec
}

func (s decodedStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	return s.codec.decodeError(m)
}
