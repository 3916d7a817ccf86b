package service

import "sync/atomic"

// Stats counts what a service did since it started, for metrics.
type Stats struct {
	// Import records by outcome.
	ImportCreated, ImportUpdated, ImportUnchanged, ImportRejected atomic.Int64
	// Digest deliveries by outcome (skipped: nothing matched, or another sender
	// had it).
	DigestsSent, DigestsSkipped, DigestsFailed atomic.Int64
	// Rounds of the digest scheduler: those this replica ran holding the
	// lease, and those it left to another replica (or could not ask for the
	// lease). Each is counted once the round is over.
	SchedulerLeading, SchedulerFollowing atomic.Int64
}
