package paperpb

import (
	"slices"
	"strings"

	"go.einride.tech/aip/fieldmask"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/papercatalog/papers/apierror"
	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
)

// UpdateMask returns the update mask of an update of paper, checked against the Paper's fields and their
// behaviours, or an INVALID_ARGUMENT error. Without an update_mask, it is the
// writable fields the paper sets (AIP-134); the others it sets (name, etag,
// output-only fields) are not changes.
func UpdateMask(paper *catalogv1.Paper, mask *fieldmaskpb.FieldMask) (*fieldmaskpb.FieldMask, error) {
	var v apierror.Violations
	paths := mask.GetPaths()
	if len(paths) == 0 {
		paths = Populated(paper, func(f string) bool {
			fd := paperFields.ByName(protoreflect.Name(f))
			return f != "etag" && fd != nil && !outputOnly(fd)
		})
		if len(paths) == 0 {
			v.Add("update_mask", "is empty and the paper sets no writable field: name the fields to change, or * for all writable fields")
			return nil, v.Err()
		}
		return &fieldmaskpb.FieldMask{Paths: paths}, nil
	}
	if fieldmask.IsFullReplacement(mask) {
		return mask, nil
	}
	for _, p := range paths {
		fd := paperFields.ByName(protoreflect.Name(p))
		switch {
		case p == "etag":
			// The etag in the body is a precondition, not a change; listing it is harmless.
		case fd != nil && outputOnly(fd):
			v.Add("update_mask", "%s is output only and cannot be set", p)
		case fd != nil:
		case strings.Contains(p, "."):
			v.Add("update_mask", "%s: sub-fields cannot be set one by one; name the whole field (%s)", p, strings.SplitN(p, ".", 2)[0])
		default:
			v.Add("update_mask", "%s is not a field of Paper", p)
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return &fieldmaskpb.FieldMask{Paths: slices.DeleteFunc(slices.Clone(paths), func(p string) bool { return p == "etag" })}, nil
}

// Populated is the names of the fields m (any message) sets (proto3 presence: a scalar
// that is not zero, a message that is set, a list that is not empty) for which
// keep is true: the update_mask of an update that sends none.
func Populated(m proto.Message, keep func(string) bool) []string {
	var paths []string
	m.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		if name := string(fd.Name()); keep(name) {
			paths = append(paths, name)
		}
		return true
	})
	slices.Sort(paths)
	return paths
}
