package paperpb

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.einride.tech/aip/fieldbehavior"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	"github.com/papercatalog/papers/ingest"
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

// TestImportRecordKeepsEveryWritableField fails when a Paper field a caller may
// set is lost between a source's record and what ImportPapers makes of it (the
// conversion of service/import.go), or when ImportRecord sends a field that
// ImportPapers does not take.
func TestImportRecordKeepsEveryWritableField(t *testing.T) {
	t.Parallel()
	full := &catalogv1.Paper{}
	fill(full.ProtoReflect())
	var want repository.Paper
	SetWritable(&want, full)
	// What a source does not give: the record must not carry it.
	src := want
	src.ID, src.BaseUpvotes, src.Upvotes, src.Version, src.RequestID = "1234.56789", 5, 9, 42, "req"
	src.CreateTime, src.UpdateTime = time.Unix(1, 0), time.Unix(2, 0)
	upvotes := int64(17)

	rec := ImportRecord("2111.13056", 7, &src, &upvotes)
	if rec.GetPaperId() != "2111.13056" || rec.GetPosition() != 7 || rec.ImportedUpvotes == nil || rec.GetImportedUpvotes() != 17 {
		t.Errorf("record %v: want id 2111.13056, position 7, 17 upvotes", rec)
	}
	for _, name := range setNotWritable(rec.GetPaper().ProtoReflect()) {
		t.Errorf("the record sets %s, which ImportPapers does not take", name)
	}

	got := repository.Paper{ID: "2111.13056"}
	SetWritable(&got, rec.GetPaper())
	want.ID = "2111.13056"
	if !reflect.DeepEqual(got, want) {
		t.Errorf("a writable field did not survive the record:\nsent %+v\nread %+v", want, got)
	}
	v := reflect.ValueOf(want)
	for i := range v.NumField() {
		switch name := v.Type().Field(i).Name; name {
		case "ID", "BaseUpvotes", "Upvotes", "Version", "CreateTime", "UpdateTime", "RequestID":
		default:
			if v.Field(i).IsZero() {
				t.Errorf("fill left %s empty: the test does not cover it", name)
			}
		}
	}
}

// TestIngestedRecordsSurviveImport reads the sample inputs with package ingest
// and checks that each record, made an ImportRecord, sent over the wire and
// converted as ImportPapers converts it, is what the source said (times to the
// millisecond the store keeps).
func TestIngestedRecordsSurviveImport(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"../ingest/testdata/arxiv-api.atom", "../ingest/testdata/daily_papers.json",
		"../../shared/data/arxiv/arxiv-metadata-oai-snapshot.sample.jsonl"} {
		f, err := os.Open(path)
		if err != nil {
			t.Logf("%s: %v", path, err)
			continue
		}
		t.Cleanup(func() { _ = f.Close() })
		r, err := ingest.Open(f, "")
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		n := 0
		for it, ok := r.Next(); ok; it, ok = r.Next() {
			if it.Err != nil {
				continue
			}
			n++
			src := it.Record
			b, err := proto.Marshal(ImportRecord(src.ID, src.Position, &src.Paper, src.Upvotes))
			if err != nil {
				t.Fatalf("%s at %d: %v", path, src.Position, err)
			}
			rec := &catalogv1.ImportRecord{}
			if err := proto.Unmarshal(b, rec); err != nil {
				t.Fatal(err)
			}
			if rec.GetPaperId() != src.ID || rec.GetPosition() != src.Position || (rec.ImportedUpvotes == nil) != (src.Upvotes == nil) ||
				(src.Upvotes != nil && rec.GetImportedUpvotes() != *src.Upvotes) {
				t.Errorf("%s at %d: record %v, want id %s, upvotes %v", path, src.Position, rec, src.ID, src.Upvotes)
			}
			got := repository.Paper{ID: src.ID}
			SetWritable(&got, rec.GetPaper())
			want := src.Paper
			want.ID = src.ID
			for _, tm := range []*time.Time{&want.PublishedTime, &want.ArxivUpdateTime, &want.SubmitTime} {
				*tm = tm.Truncate(time.Millisecond)
			}
			for _, l := range []*[]string{&want.Categories, &want.Keywords} {
				if len(*l) == 0 {
					*l = nil
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s at %d: the record changed on its way:\nread   %+v\nstored %+v", path, src.Position, want, got)
			}
		}
		if r.Err() != nil || n == 0 {
			t.Errorf("%s: %d records, err %v", path, n, r.Err())
		}
	}
}

// setNotWritable lists the fields of m and of the messages in it that are set
// although callers cannot set them (by their field behaviour), and the etag.
func setNotWritable(m protoreflect.Message) []string {
	var out []string
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case outputOnly(fd) || fd.FullName() == "papers.catalog.v1.Paper.etag":
			out = append(out, string(fd.FullName()))
		case fd.IsList() && fd.Message() != nil:
			for i := range v.List().Len() {
				out = append(out, setNotWritable(v.List().Get(i).Message())...)
			}
		case fd.Message() != nil && !fd.IsMap():
			out = append(out, setNotWritable(v.Message())...)
		}
		return true
	})
	return out
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
