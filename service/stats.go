package service

import "sync/atomic"

// Stats counts what a service did since it started, for metrics.
type Stats struct {
	// Import records by outcome.
	ImportCreated, ImportUpdated, ImportUnchanged, ImportRejected atomic.Int64
}
