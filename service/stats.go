package service

import "sync/atomic"

// Stats counts what a service did since it started, for metrics.
type Stats struct {
	// Import records by outcome.
	ImportCreated, ImportUpdated, ImportUnchanged, ImportRejected atomic.Int64
	// Digest deliveries by outcome (skipped: nothing matched, or another sender
	// had it).
	DigestsSent, DigestsSkipped, DigestsFailed atomic.Int64
}
