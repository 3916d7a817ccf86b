package server

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestQuietLoggerKeepsWarningsWithTheirAttributes(t *testing.T) {
	var buf bytes.Buffer
	log := quiet(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), "ferretdb")
	l := log.With("conn", "c1").WithGroup("sql").With("query", "INSERT …")
	l.Info("statement done")
	l.Debug("statement started")
	l.Warn("Response header", "op", "endSessions") // FerretDB's dump of a failed wire message
	if buf.Len() != 0 {
		t.Fatalf("quiet logger passed on: %s", buf.String())
	}
	l.Warn("statement failed", "err", "disk full")
	got := buf.String()
	for _, want := range []string{"level=WARN", "component=ferretdb", "conn=c1", `sql.query="INSERT …"`, `sql.err="disk full"`, `msg="statement failed"`} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
}
