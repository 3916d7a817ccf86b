package service

import (
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/papercatalog/papers/apierror"
	"github.com/papercatalog/papers/check"
	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	"github.com/papercatalog/papers/repository"
)

// Limits on request fields.
const (
	maxRequestID = 100
	maxBatch     = 1000
)

// checkTimestamps reports timestamps of src that are out of range.
func checkTimestamps(v *apierror.Violations, prefix string, src *catalogv1.Paper) {
	for name, t := range map[string]*timestamppb.Timestamp{
		"published_time": src.GetPublishedTime(), "arxiv_update_time": src.GetArxivUpdateTime(),
		"submit_time": src.GetSubmitTime(),
	} {
		if t == nil {
			continue
		}
		if err := t.CheckValid(); err != nil {
			v.Add(prefix+name, "is not a valid timestamp")
			continue
		}
		if y := t.AsTime().Year(); y < 1900 || y > 2200 {
			v.Add(prefix+name, "must be between the years 1900 and 2200")
		}
	}
}

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
