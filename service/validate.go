package service

import (
	"github.com/papercatalog/papers/apierror"
	"github.com/papercatalog/papers/check"
	"github.com/papercatalog/papers/repository"
)

// Limits on request fields.
const (
	maxRequestID = 100
	maxBatch     = 1000
)

// textLimit is check.Text, adding to v.
func textLimit(v *apierror.Violations, field, s string, limit int) {
	var found check.Violations
	check.Text(&found, field, s, limit)
	v.Merge(found)
}

// validatePaper is check.Paper, adding to v.
func validatePaper(v *apierror.Violations, prefix string, p *repository.Paper) {
	var found check.Violations
	check.Paper(&found, prefix, p)
	v.Merge(found)
}
