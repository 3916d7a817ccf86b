// Package inproc calls gRPC services in the same process: a Channel is a
// grpc.ClientConnInterface, for generated clients and the REST gateway's
// Register…HandlerClient, that runs each unary call through the same unary
// server interceptors a gRPC server would, then the registered handler, without
// encoding the messages or crossing a network.
//
// A call sees what a call through a gRPC server sees, except the network: the
// caller's outgoing metadata arrives as incoming metadata, headers and
// trailers the handler sets go back through grpc.Header and grpc.Trailer, and
// errors arrive as statuses. The caller's context is the handler's, so its
// values (a request id, a trace span, a peer) come along and its deadline
// counts. Messages are not copied deeply: the handler gets a new request whose
// fields share the caller's, and the caller a response whose fields share the
// handler's. Neither may change a message after handing it over, which holds for
// generated code and the gateway.
//
// Streaming calls are not supported.
package inproc

import (
	"context"
	"fmt"
	"reflect"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Channel calls the services registered on it in-process. Register every
// service before the first call.
type Channel struct {
	intercept grpc.UnaryServerInterceptor // nil: none
	methods   map[string]method           // by full method name, /package.Service/Method
}

type method struct {
	impl    any
	handler grpc.MethodHandler
}

var (
	_ grpc.ClientConnInterface = (*Channel)(nil)
	_ grpc.ServiceRegistrar    = (*Channel)(nil)
)

// New returns a channel whose calls go through interceptors, the first
// outermost, as grpc.ChainUnaryInterceptor orders them.
func New(interceptors ...grpc.UnaryServerInterceptor) *Channel {
	return &Channel{intercept: chain(interceptors), methods: map[string]method{}}
}

// RegisterService registers impl as the implementation of desc's unary
// methods, as grpc.Server.RegisterService does. It panics if impl does not
// implement desc.HandlerType or a method is registered twice, as gRPC does.
func (c *Channel) RegisterService(desc *grpc.ServiceDesc, impl any) {
	if ht := reflect.TypeOf(desc.HandlerType).Elem(); !reflect.TypeOf(impl).Implements(ht) {
		panic(fmt.Sprintf("inproc: %T does not implement %v", impl, ht))
	}
	for _, m := range desc.Methods {
		name := "/" + desc.ServiceName + "/" + m.MethodName
		if _, dup := c.methods[name]; dup {
			panic("inproc: " + name + " registered twice")
		}
		c.methods[name] = method{impl: impl, handler: m.Handler}
	}
}

// Invoke calls the unary method (/package.Service/Method) with args and fills
// in reply. It honours the grpc.Header and grpc.Trailer call options and
// ignores the others. Its error is a status, as a gRPC client's is: UNIMPLEMENTED
// for a method not registered, UNKNOWN for a handler's error that is not a
// status.
func (c *Channel) Invoke(ctx context.Context, fullMethod string, args, reply any, opts ...grpc.CallOption) error {
	m, ok := c.methods[fullMethod]
	if !ok {
		return status.Errorf(codes.Unimplemented, "unknown method %s", fullMethod)
	}
	in, ok := args.(proto.Message)
	if !ok {
		return status.Errorf(codes.Internal, "inproc: request %T is not a protocol buffer message", args)
	}
	out, ok := reply.(proto.Message)
	if !ok {
		return status.Errorf(codes.Internal, "inproc: response %T is not a protocol buffer message", reply)
	}
	md, _ := metadata.FromOutgoingContext(ctx)
	ctx = metadata.NewOutgoingContext(metadata.NewIncomingContext(ctx, md), nil)
	stream := &transportStream{method: fullMethod}
	ctx = grpc.NewContextWithServerTransportStream(ctx, stream)
	resp, err := m.handler(m.impl, ctx, func(req any) error { return share(req, in) }, c.intercept)
	for _, o := range opts {
		switch o := o.(type) {
		case grpc.HeaderCallOption:
			*o.HeaderAddr = stream.header()
		case grpc.TrailerCallOption:
			*o.TrailerAddr = stream.trailer()
		}
	}
	if err != nil {
		if _, ok := status.FromError(err); !ok {
			err = status.Error(codes.Unknown, err.Error())
		}
		return err
	}
	msg, ok := resp.(proto.Message)
	if !ok {
		return status.Errorf(codes.Internal, "inproc: %s answered %T, not a protocol buffer message", fullMethod, resp)
	}
	if err := share(out, msg); err != nil {
		return status.Error(codes.Internal, err.Error())
	}
	return nil
}

// NewStream refuses every call: streaming calls are not supported.
func (c *Channel) NewStream(_ context.Context, _ *grpc.StreamDesc, fullMethod string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, status.Errorf(codes.Unimplemented, "inproc: %s streams, and in-process calls cannot", fullMethod)
}

// share sets every field of src on dst, a new (empty) message of the same
// type, sharing the values rather than copying them. It sets the generated
// struct's exported fields that are not zero (the message's fields, oneofs
// included), as code that builds a message does, and its unknown fields: about
// a microsecond for a Paper, where protoreflect's Range and Set take eight.
func share(dst any, src proto.Message) error {
	dv, sv := reflect.ValueOf(dst), reflect.ValueOf(src)
	if dv.Type() != sv.Type() || dv.Kind() != reflect.Pointer || dv.IsNil() || sv.IsNil() {
		return fmt.Errorf("inproc: a %T cannot be passed as a %T", src, dst)
	}
	d, s := dv.Elem(), sv.Elem()
	for _, i := range exportedFields(d.Type()) {
		if f := s.Field(i); !f.IsZero() {
			d.Field(i).Set(f)
		}
	}
	if u := src.ProtoReflect().GetUnknown(); len(u) > 0 {
		dst.(proto.Message).ProtoReflect().SetUnknown(u)
	}
	return nil
}

var fieldsByType sync.Map // reflect.Type of a generated struct → []int, its exported fields

// exportedFields returns the indexes of the exported fields of the struct type t.
func exportedFields(t reflect.Type) []int {
	if f, ok := fieldsByType.Load(t); ok {
		return f.([]int)
	}
	var out []int
	for i := range t.NumField() {
		if t.Field(i).IsExported() {
			out = append(out, i)
		}
	}
	fieldsByType.Store(t, out)
	return out
}

// chain makes one interceptor of several, the first outermost.
func chain(interceptors []grpc.UnaryServerInterceptor) grpc.UnaryServerInterceptor {
	if len(interceptors) == 0 {
		return nil
	}
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		return interceptors[0](ctx, req, info, chained(interceptors[1:], info, handler))
	}
}

// chained is the handler that runs interceptors, then handler.
func chained(interceptors []grpc.UnaryServerInterceptor, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) grpc.UnaryHandler {
	if len(interceptors) == 0 {
		return handler
	}
	return func(ctx context.Context, req any) (any, error) {
		return interceptors[0](ctx, req, info, chained(interceptors[1:], info, handler))
	}
}

// transportStream collects the headers and trailers a handler sets, as the
// server's transport stream of a call does.
type transportStream struct {
	method string

	mu     sync.Mutex
	hdr    metadata.MD
	trl    metadata.MD
	sentMD bool
}

func (s *transportStream) Method() string { return s.method }

func (s *transportStream) SetHeader(md metadata.MD) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sentMD {
		return status.Error(codes.Internal, "transport: the headers were already sent")
	}
	s.hdr = metadata.Join(s.hdr, md)
	return nil
}

func (s *transportStream) SendHeader(md metadata.MD) error {
	if err := s.SetHeader(md); err != nil {
		return err
	}
	s.mu.Lock()
	s.sentMD = true
	s.mu.Unlock()
	return nil
}

func (s *transportStream) SetTrailer(md metadata.MD) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.trl = metadata.Join(s.trl, md)
	return nil
}

func (s *transportStream) header() metadata.MD {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hdr
}

func (s *transportStream) trailer() metadata.MD {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.trl
}
