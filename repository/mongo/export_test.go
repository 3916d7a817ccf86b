package mongo

import (
	"context"
	"time"

	"github.com/golang/snappy"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// WriteSnappyPayloads makes RecordChange write payloads as paperd did before
// they were compressed with zstd, until the returned function is called.
func WriteSnappyPayloads() (restore func()) {
	was := compressPayload
	compressPayload = func(p *payloadDoc, raw []byte) { p.Content = snappy.Encode(nil, raw) }
	return func() { compressPayload = was }
}

// WriteLegacyHeaders makes RecordChange write the headers of changes into one
// collection, as paperd did before they had periods, until the returned
// function is called.
func WriteLegacyHeaders() (restore func()) {
	legacyHeaders = true
	return func() { legacyHeaders = false }
}

// CollectionNames returns the names of the collections of p's database.
func CollectionNames(ctx context.Context, p *Papers) ([]string, error) {
	return p.db.ListCollectionNames(ctx, bson.D{})
}

// Period is the number of the change-log period of t.
func Period(t time.Time) int64 { return period(t) }

// PruneRecords returns how many records of prunes p's database holds.
func PruneRecords(ctx context.Context, p *Papers) (int64, error) {
	return p.db.Collection(prunesCollection).CountDocuments(ctx, bson.D{})
}
