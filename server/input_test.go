package server_test

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
)

// TestControlCharactersAreRefused: text with control characters (NUL, ESC and
// the like) is refused with a field violation, by create, update and import
// alike; tab and line feed are text, and an abstract may hold CRLF line ends.
func TestControlCharactersAreRefused(t *testing.T) {
	t.Parallel()
	ts := startServer(t, testConfig(t))
	ctx := testCtx(t)
	tests := []struct {
		name  string
		edit  func(p *catalogv1.Paper)
		field string // "" when the paper is accepted
	}{
		{"NUL in the title", func(p *catalogv1.Paper) { p.Title = "A\x00title" }, "paper.title"},
		{"ESC in the title", func(p *catalogv1.Paper) { p.Title = "\x1b[2JA title" }, "paper.title"},
		{"C1 control in the title", func(p *catalogv1.Paper) { p.Title = "A\u0085title" }, "paper.title"},
		{"DEL in an author's name", func(p *catalogv1.Paper) { p.Authors[0].Name = "Ada\x7f" }, "paper.authors"},
		{"BEL in an affiliation", func(p *catalogv1.Paper) { p.Authors[1].Affiliation = "Bletchley\a" }, "paper.authors"},
		{"ESC in the organization's name", func(p *catalogv1.Paper) {
			p.Organization = &catalogv1.Organization{Id: "naver-ai", DisplayName: "NAVER\x1b]0;owned\a"}
		}, "paper.organization.display_name"},
		{"NUL in the submitter", func(p *catalogv1.Paper) { p.Submitter = "Ada\x00" }, "paper.submitter"},
		{"ESC in a keyword", func(p *catalogv1.Paper) { p.Keywords = []string{"ok", "bad\x1b"} }, "paper.keywords"},
		{"NUL in the abstract", func(p *catalogv1.Paper) { p.Abstract = "An\x00abstract" }, "paper.abstract"},
		{"carriage return in the title", func(p *catalogv1.Paper) { p.Title = "A\rtitle" }, "paper.title"},
		{"tab in the title", func(p *catalogv1.Paper) { p.Title = "A\ttitle" }, ""},
		{"CRLF and tabs in the abstract", func(p *catalogv1.Paper) { p.Abstract = "One.\r\n\tTwo." }, ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPaper(i)
			tt.edit(p)
			_, err := ts.client.CreatePaper(admin(ctx), &catalogv1.CreatePaperRequest{PaperId: paperID(100 + i), Paper: p})
			if tt.field == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			st := wantCode(t, err, codes.InvalidArgument)
			if f := violationFields(st); len(f) != 1 || f[0] != tt.field || !strings.Contains(st.Message(), "control characters") {
				t.Errorf("violations %v, message %q; want one on %s about control characters", f, st.Message(), tt.field)
			}
			if _, err := ts.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: "papers/" + paperID(100+i)}); status.Code(err) != codes.NotFound {
				t.Errorf("the refused paper was stored: %v", err)
			}
		})
	}

	// An update that brings one in is refused, and the paper keeps its title.
	p := create(t, ts, 1)
	_, err := ts.client.UpdatePaper(admin(ctx), &catalogv1.UpdatePaperRequest{
		Paper:      &catalogv1.Paper{Name: p.GetName(), Title: "New\x1b[31m title"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}},
	})
	if f := violationFields(wantCode(t, err, codes.InvalidArgument)); len(f) != 1 || f[0] != "paper.title" {
		t.Errorf("update: violations %v", f)
	}
	if got, err := ts.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: p.GetName()}); err != nil || got.GetTitle() != p.GetTitle() {
		t.Errorf("after the refused update: %q (%v)", got.GetTitle(), err)
	}

	// An import rejects such records alone, saying why, and stores the rest.
	resp := importRecords(t, ts, []*catalogv1.ImportRecord{
		{PaperId: "2402.00001", Paper: &catalogv1.Paper{Title: "Fine"}},
		{PaperId: "2402.00002", Paper: &catalogv1.Paper{Title: "Bad\x00title"}},
		{PaperId: "2402.00003", Paper: &catalogv1.Paper{Title: "Fine", Authors: []*catalogv1.Author{{Name: "\x1b[8mHidden"}}}},
	})
	if got := counts(resp); got != [4]int64{1, 0, 0, 2} {
		t.Fatalf("import: created, updated, unchanged, rejected = %v", got)
	}
	for i, want := range []struct {
		id, field string
	}{{"2402.00002", "paper.title"}, {"2402.00003", "paper.authors"}} {
		r := resp.GetRejections()[i]
		if r.GetPaperId() != want.id || r.GetPosition() != int64(i+2) || !strings.HasPrefix(r.GetReason(), want.field+": must not contain control characters") {
			t.Errorf("rejection %d: %v", i, r)
		}
		if _, err := ts.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: "papers/" + want.id}); status.Code(err) != codes.NotFound {
			t.Errorf("%s was stored: %v", want.id, err)
		}
	}
}

// rawCodec sends and receives messages as the bytes given, to send what a
// generated client never would.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	b, ok := v.([]byte)
	if !ok {
		return nil, fmt.Errorf("rawCodec: %T", v)
	}
	return mem.BufferSlice{mem.SliceBuffer(b)}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*(v.(*[]byte)) = data.Materialize()
	return nil
}

func (rawCodec) Name() string { return "proto" }

// TestUndecodableMessagesAreInvalidArgument: bytes that are not the request
// message (a broken wire format, a string field that is not UTF-8) are the
// caller's mistake: INVALID_ARGUMENT, not INTERNAL, on unary and streaming
// calls alike; the server goes on serving.
func TestUndecodableMessagesAreInvalidArgument(t *testing.T) {
	t.Parallel()
	ts := startServer(t, testConfig(t))
	ctx := testCtx(t)
	p := create(t, ts, 1)
	const service = "/papers.catalog.v1.CatalogService/"
	messages := map[string][]byte{
		"a truncated varint":         {0x08, 0xff},
		"a length past the end":      {0x0a, 0x7f, 'a'},
		"field number 0":             {0x00, 0x01},
		"a name that is not UTF-8":   {0x0a, 0x03, 'a', 0xff, 0xfe},
		"an end group with no start": {0x0c},
	}
	for name, msg := range messages {
		t.Run("unary: "+name, func(t *testing.T) {
			var out []byte
			err := ts.conn.Invoke(ctx, service+"GetPaper", msg, &out, grpc.ForceCodecV2(rawCodec{}))
			if st := wantCode(t, err, codes.InvalidArgument); !strings.Contains(st.Message(), "cannot be decoded") {
				t.Errorf("message %q", st.Message())
			}
		})
		t.Run("stream: "+name, func(t *testing.T) {
			desc := &grpc.StreamDesc{StreamName: "ImportPapers", ClientStreams: true}
			stream, err := ts.conn.NewStream(admin(ctx), desc, service+"ImportPapers", grpc.ForceCodecV2(rawCodec{}))
			if err != nil {
				t.Fatal(err)
			}
			// A message that is not an ImportPapersRequest: a record list
			// whose paper id is not UTF-8, or the broken bytes as they are.
			body := msg
			if name == "a name that is not UTF-8" {
				body = []byte{0x0a, 0x05, 0x0a, 0x03, 'a', 0xff, 0xfe}
			}
			_ = stream.SendMsg(body)
			_ = stream.CloseSend()
			var out []byte
			wantCode(t, stream.RecvMsg(&out), codes.InvalidArgument)
		})
	}
	if got, err := ts.client.GetPaper(ctx, &catalogv1.GetPaperRequest{Name: p.GetName()}); err != nil || got.GetTitle() != p.GetTitle() {
		t.Errorf("a good call afterwards: %v", err)
	}
}

// TestRESTImportNamesTheLine: a REST import line that is not an
// ImportPapersRequest in JSON ends the import with 400 naming the line; a line
// over 1 MiB with 413 (it was 429, as if rate limited).
func TestRESTImportNamesTheLine(t *testing.T) {
	t.Parallel()
	ts := startServer(t, testConfig(t))
	good := `{"records":[{"paper_id":"2401.00001","paper":{"title":"T"}}]}`
	tests := []struct {
		name   string
		body   string
		status int
		want   string
	}{
		{"malformed JSON on line 3 (after a blank line)", good + "\n\n" + `{"records": [` + "\n" + good + "\n", 400, "line 3 is not an ImportPapersRequest"},
		{"an unknown field on line 2", good + "\n" + `{"papers": []}` + "\n", 400, "line 2 is not an ImportPapersRequest"},
		{"a line over 1 MiB", good + "\n" + `{"records":[{"paper_id":"2401.00002","paper":{"title":"` + strings.Repeat("x", 2<<20) + `"}}]}` + "\n", 413, "line 2 is larger than 1 MiB"},
		{"a last line over 1 MiB without a line end", `{"records":[{"paper_id":"2401.00002","paper":{"title":"` + strings.Repeat("x", 1<<20) + `"}}]}`, 413, "line 1 is larger than 1 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.rest(t, "POST", "/v1/papers:import", adminToken, tt.body)
			msg, _ := r.Body["message"].(string)
			if r.Status != tt.status || !strings.Contains(msg, tt.want) {
				t.Errorf("%d %.300s; want %d saying %q", r.Status, r.Raw, tt.status, tt.want)
			}
		})
	}
	// Lines of up to 1 MiB, blank lines and a last line without its end pass.
	body := `{"records":[{"paper_id":"2401.00010","paper":{"title":"T"}}]}` + "\n\n" + `{"records":[{"paper_id":"2401.00003","paper":{"title":"` + strings.Repeat("x", 900) + `","abstract":"` +
		strings.Repeat("y", 20000) + `"}}]}` + "\n  \n" + `{"records":[{"paper_id":"2401.00004","paper":{"title":"T"}}]}`
	if r := ts.rest(t, "POST", "/v1/papers:import", adminToken, body); r.Status != 200 || r.Body["created"] != "3" {
		t.Errorf("a good import: %d %s", r.Status, r.Raw)
	}
}
