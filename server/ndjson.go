package server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/papercatalog/papers/apierror"
	"github.com/papercatalog/papers/reason"
)

// importBody is the body of a REST import (newline-delimited JSON, one
// ImportPapersRequest a line), which importMarshaler reads a line at a time so
// that a line that cannot be imported is named by its number, and one over
// MaxRequestBytes is refused before it is buffered whole.
type importBody struct {
	io.ReadCloser
	br      *bufio.Reader
	line    int64 // lines read so far
	tooLong bool  // reading stopped at a line over MaxRequestBytes
}

// importLines gives the import's request an importBody.
func importLines(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = &importBody{ReadCloser: r.Body, br: bufio.NewReaderSize(r.Body, 64<<10)}
		next.ServeHTTP(w, r)
	})
}

// next returns the next line that is not blank, or io.EOF.
func (b *importBody) next() ([]byte, error) {
	for {
		var line []byte
		for {
			chunk, err := b.br.ReadSlice('\n')
			if len(line)+len(chunk) > MaxRequestBytes {
				b.line++
				b.tooLong = true
				return nil, fmt.Errorf("line %d is larger than 1 MiB; send fewer records a line", b.line)
			}
			line = append(line, chunk...)
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if err != nil && !errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("line %d: could not read the request body", b.line+1)
			}
			if len(line) == 0 && err != nil {
				return nil, io.EOF
			}
			break
		}
		b.line++
		if line = bytes.TrimSpace(line); len(line) > 0 {
			return line, nil
		}
	}
}

// importMarshaler is the gateway's JSON marshaler, except that it decodes an
// importBody a line at a time.
type importMarshaler struct {
	*runtime.JSONPb
}

// NewDecoder returns a decoder of r's lines when r is an importBody.
func (m importMarshaler) NewDecoder(r io.Reader) runtime.Decoder {
	b, ok := r.(*importBody)
	if !ok {
		return m.JSONPb.NewDecoder(r)
	}
	return runtime.DecoderFunc(func(v any) error {
		line, err := b.next()
		if err != nil {
			return err
		}
		if err := m.Unmarshal(line, v); err != nil {
			return fmt.Errorf("line %d is not an ImportPapersRequest in JSON: %w", b.line, err)
		}
		return nil
	})
}

// importError answers a failed REST import: 413 for a line over
// MaxRequestBytes (the gateway would say 400), otherwise as the gateway does.
func importError(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	if b, ok := r.Body.(*importBody); ok && b.tooLong {
		err = &runtime.HTTPStatusError{HTTPStatus: http.StatusRequestEntityTooLarge,
			Err: &apierror.Error{Code: codes.ResourceExhausted, Reason: reason.RequestTooLarge, Message: status.Convert(err).Message()}}
	}
	gatewayError(ctx, mux, m, w, r, err)
}

// gatewayError answers a failed REST call as the gateway does, with a
// google.rpc.ErrorInfo added to an error that has none (the gateway's own: an
// unknown route, a body that does not decode).
func gatewayError(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	var withStatus *runtime.HTTPStatusError
	if errors.As(err, &withStatus) {
		err = &runtime.HTTPStatusError{HTTPStatus: withStatus.HTTPStatus, Err: apierror.Explain(withStatus.Err)}
	} else {
		err = apierror.Explain(err)
	}
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, err)
}
