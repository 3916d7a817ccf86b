package paperpb

import (
	"strings"
	"testing"

	"go.einride.tech/aip/fieldbehavior"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	"github.com/papercatalog/papers/repository"
)

// fill sets every field of m to a value that is not the zero one.
func fill(m protoreflect.Message) {
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		switch {
		case fd.Name() == "nanos": // the store keeps milliseconds
		case fd.IsList() && fd.Message() != nil:
			e := m.Mutable(fd).List().AppendMutable()
			fill(e.Message())
		case fd.IsList():
			m.Mutable(fd).List().Append(protoreflect.ValueOfString("cs.LG"))
		case fd.Message() != nil:
			fill(m.Mutable(fd).Message())
		case fd.Kind() == protoreflect.StringKind:
			m.Set(fd, protoreflect.ValueOfString("v-"+string(fd.Name())))
		case fd.Kind() == protoreflect.Int32Kind:
			m.Set(fd, protoreflect.ValueOfInt32(3))
		case fd.Kind() == protoreflect.Int64Kind:
			m.Set(fd, protoreflect.ValueOfInt64(1_600_000_000))
		case fd.Kind() == protoreflect.BoolKind:
			m.Set(fd, protoreflect.ValueOfBool(true))
		case fd.Kind() == protoreflect.EnumKind:
			m.Set(fd, protoreflect.ValueOfEnum(1))
		default:
			panic("fill: no value for " + fd.FullName())
		}
	}
}

// TestEveryWritableFieldIsStored fails when a Paper field the proto lets callers
// set is lost on its way to the store and back: the converters are the one place
// that names the fields.
func TestEveryWritableFieldIsStored(t *testing.T) {
	t.Parallel()
	in := &catalogv1.Paper{}
	fill(in.ProtoReflect())
	fieldbehavior.ClearFields(in, annotations.FieldBehavior_OUTPUT_ONLY, annotations.FieldBehavior_IDENTIFIER)
	in.Etag = ""

	p := &repository.Paper{ID: "2111.13056"}
	SetWritable(p, in)
	out := From(p, catalogv1.PaperView_PAPER_VIEW_FULL)
	fieldbehavior.ClearFields(out, annotations.FieldBehavior_OUTPUT_ONLY, annotations.FieldBehavior_IDENTIFIER)
	out.Etag = ""
	if !proto.Equal(in, out) {
		t.Errorf("a writable field did not survive the store's conversion:\nsent %v\nread %v", in, out)
	}
	if proto.Equal(in, &catalogv1.Paper{}) {
		t.Error("fill set nothing")
	}
}

func TestMaskPathsByFieldBehaviour(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, path, want string
	}{
		{"a writable field may be set", "title", ""},
		{"the etag is a precondition and is dropped", "etag", ""},
		{"an output-only field cannot be set", "upvotes", "upvotes is output only and cannot be set"},
		{"the identifier cannot be set", "name", "name is output only and cannot be set"},
		{"a sub-field cannot be set alone", "organization.id",
			"organization.id: sub-fields cannot be set one by one; name the whole field (organization)"},
		{"an unknown field is refused", "stars", "stars is not a field of Paper"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := UpdateMask(&catalogv1.Paper{}, &fieldmaskpb.FieldMask{Paths: []string{tt.path}})
			got := ""
			if err != nil {
				got = err.Error()
			}
			if (tt.want == "") != (err == nil) || (tt.want != "" && !strings.Contains(got, tt.want)) {
				t.Errorf("UpdateMask(%q) = %v, want %q", tt.path, err, tt.want)
			}
		})
	}
}
