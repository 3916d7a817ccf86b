package mongo

import "github.com/golang/snappy"

// WriteSnappyPayloads makes RecordChange write payloads as paperd did before
// they were compressed with zstd, until the returned function is called.
func WriteSnappyPayloads() (restore func()) {
	was := compressPayload
	compressPayload = func(p *payloadDoc, raw []byte) { p.Content = snappy.Encode(nil, raw) }
	return func() { compressPayload = was }
}
