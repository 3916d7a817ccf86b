package server_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	catalogv1 "github.com/papercatalog/papers/gen/papers/catalog/v1"
	"github.com/papercatalog/papers/repository"
	"github.com/papercatalog/papers/repository/mongo"
)

func createAt(t *testing.T, ts *testServer, id string, submit time.Time) {
	t.Helper()
	p := newPaper(0)
	p.Title = "Paper " + id
	p.SubmitTime = timestamppb.New(submit)
	if _, err := ts.client.CreatePaper(admin(testCtx(t)), &catalogv1.CreatePaperRequest{PaperId: id, Paper: p}); err != nil {
		t.Fatalf("create %s: %v", id, err)
	}
}

func ids(papers []*catalogv1.Paper) []string {
	out := make([]string, len(papers))
	for i, p := range papers {
		out[i] = p.GetArxivId()
	}
	return out
}

func TestDailyPapersByDateWeekAndMonth(t *testing.T) {
	t.Parallel()
	ts := startServer(t, testConfig(t))
	ctx := testCtx(t)
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// Around midnight of 2024-03-05 in UTC and in Tokyo (UTC+9), and the edges of
	// ISO week 2024-W10 (Mon 2024-03-04 to Sun 2024-03-10) and of March.
	for id, at := range map[string]string{
		"2403.00001": "2024-03-04T23:59:59Z", // 5 March 08:59 in Tokyo
		"2403.00002": "2024-03-05T00:00:00Z",
		"2403.00003": "2024-03-05T14:59:59Z", // last second of 5 March in Tokyo
		"2403.00004": "2024-03-05T15:00:00Z", // 6 March in Tokyo
		"2403.00005": "2024-03-03T23:59:59Z", // Sunday before W10
		"2403.00006": "2024-03-10T23:59:59Z", // last second of W10
		"2403.00007": "2024-03-11T00:00:00Z", // W11
		"2402.00008": "2024-02-29T23:59:59Z", // February
		"2403.00009": "2024-03-31T23:59:59Z", // last second of March
		"2404.00010": "2024-04-01T00:00:00Z", // April
	} {
		createAt(t, ts, id, utc(at))
	}
	tests := []struct {
		name string
		req  *catalogv1.ListDailyPapersRequest
		want []string // in submit_time desc order
	}{
		{"a day in UTC", &catalogv1.ListDailyPapersRequest{Date: "2024-03-05"}, []string{"2403.00004", "2403.00003", "2403.00002"}},
		{"the same day in Tokyo", &catalogv1.ListDailyPapersRequest{Date: "2024-03-05", TimeZone: "Asia/Tokyo"}, []string{"2403.00003", "2403.00002", "2403.00001"}},
		{"an ISO week", &catalogv1.ListDailyPapersRequest{Week: "2024-W10"}, []string{"2403.00006", "2403.00004", "2403.00003", "2403.00002", "2403.00001"}},
		{"a month", &catalogv1.ListDailyPapersRequest{Month: "2024-03"}, []string{"2403.00009", "2403.00007", "2403.00006", "2403.00004", "2403.00003", "2403.00002", "2403.00001", "2403.00005"}},
		{"a leap day", &catalogv1.ListDailyPapersRequest{Date: "2024-02-29"}, []string{"2402.00008"}},
		{"a day with no papers", &catalogv1.ListDailyPapersRequest{Date: "2024-03-06"}, nil},
		{"with a filter", &catalogv1.ListDailyPapersRequest{Week: "2024-W10", Filter: `submit_time >= "2024-03-05T15:00:00Z"`}, []string{"2403.00006", "2403.00004"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.OrderBy = "submit_time desc"
			resp, err := ts.client.ListDailyPapers(ctx, tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(resp.GetPapers()); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			if int(resp.GetTotalSize()) != len(tt.want) {
				t.Errorf("total_size %d, want %d", resp.GetTotalSize(), len(tt.want))
			}
		})
	}
	resp, err := ts.client.ListDailyPapers(ctx, &catalogv1.ListDailyPapersRequest{Week: "2024-W10", TimeZone: "Europe/Paris"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := resp.GetPeriodStart().AsTime(), utc("2024-03-03T23:00:00Z"); !got.Equal(want) {
		t.Errorf("period_start %v, want %v", got, want)
	}
	if got, want := resp.GetPeriodEnd().AsTime(), utc("2024-03-10T23:00:00Z"); !got.Equal(want) {
		t.Errorf("period_end %v, want %v", got, want)
	}
	if resp.GetTimeZone() != "Europe/Paris" {
		t.Errorf("time_zone %q", resp.GetTimeZone())
	}
	// Across the switch to summer time (31 March 2024 in Paris) a day has 23 hours.
	resp, err = ts.client.ListDailyPapers(ctx, &catalogv1.ListDailyPapersRequest{Date: "2024-03-31", TimeZone: "Europe/Paris"})
	if err != nil {
		t.Fatal(err)
	}
	if d := resp.GetPeriodEnd().AsTime().Sub(resp.GetPeriodStart().AsTime()); d != 23*time.Hour {
		t.Errorf("31 March 2024 in Paris lasts %v, want 23h", d)
	}

	// Paging through a month, two at a time, in the default order.
	seen, token := map[string]bool{}, ""
	for {
		resp, err := ts.client.ListDailyPapers(ctx, &catalogv1.ListDailyPapersRequest{Month: "2024-03", PageSize: 2, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range resp.GetPapers() {
			if seen[p.GetName()] {
				t.Fatalf("repeat %s", p.GetName())
			}
			seen[p.GetName()] = true
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	if len(seen) != 8 {
		t.Errorf("paged %d papers of March, want 8", len(seen))
	}

	r := ts.rest(t, "GET", "/v1/dailyPapers?date=2024-03-05&time_zone=Asia/Tokyo&order_by=submit_time%20desc", "", nil)
	if r.Status != 200 || len(r.Body["papers"].([]any)) != 3 || r.Body["period_start"] != "2024-03-04T15:00:00Z" {
		t.Errorf("REST: %d %s", r.Status, r.Raw)
	}
}

func TestDailyPapersRejectsBadPeriods(t *testing.T) {
	t.Parallel()
	ts := startServer(t, testConfig(t))
	tests := []struct {
		name, query, field string
	}{
		{"no period", "", "date"},
		{"two periods", "date=2024-03-05&week=2024-W10", "date"},
		{"malformed date", "date=2024-3-5", "date"},
		{"impossible date", "date=2024-02-30", "date"},
		{"week 53 of a 52-week year", "week=2023-W53", "week"},
		{"week 0", "week=2024-W00", "week"},
		{"malformed week", "week=2024-10", "week"},
		{"malformed month", "month=2024-13", "month"},
		{"unknown time zone", "date=2024-03-05&time_zone=Mars/Olympus", "time_zone"},
		{"unknown order", "date=2024-03-05&order_by=title", "order_by"},
		{"bad filter", "date=2024-03-05&filter=colour%3D1", "filter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.rest(t, "GET", "/v1/dailyPapers?"+tt.query, "", nil)
			if r.Status != 400 {
				t.Fatalf("status %d, want 400: %s", r.Status, r.Raw)
			}
			found := false
			for _, d := range r.Body["details"].([]any) {
				violations, _ := d.(map[string]any)["field_violations"].([]any) // the BadRequest's
				for _, v := range violations {
					found = found || v.(map[string]any)["field"] == tt.field
				}
			}
			if !found {
				t.Errorf("no violation on %s: %s", tt.field, r.Raw)
			}
		})
	}
	if r := ts.rest(t, "GET", "/v1/dailyPapers?week=2020-W53", "", nil); r.Status != 200 {
		t.Errorf("2020 has 53 ISO weeks: %d %s", r.Status, r.Raw)
	}
}

// TestTrendingScoresCanBeRecomputed seeds papers with upvote counts directly in the
// database (as an import would bring them), starts a server on it, and checks the
// trending order and scores against the documented formula.
func TestTrendingScoresCanBeRecomputed(t *testing.T) {
	t.Parallel()
	first := startServer(t, testConfig(t))
	ctx := testCtx(t)
	db, err := mongo.Open(first.DatabaseURI(), "papers")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close(context.Background()) }()
	clk := testClock(t)
	now := clk.Now().UTC().Truncate(time.Millisecond)
	seeds := []struct {
		id      string
		age     time.Duration
		upvotes int64
	}{
		{"2411.00001", 1 * time.Hour, 10},
		{"2411.00002", 30 * time.Hour, 80},
		{"2411.00003", 5 * 24 * time.Hour, 400},
		{"2411.00004", 3 * time.Hour, 0},
		{"2411.00005", 8 * 24 * time.Hour, 5000}, // outside the default 7-day window
		{"2411.00006", 2 * time.Hour, 10},
	}
	var papers []*repository.Paper
	for _, s := range seeds {
		at := now.Add(-s.age)
		papers = append(papers, &repository.Paper{ID: s.id, Title: "Paper " + s.id, SubmitTime: at, CreateTime: at, UpdateTime: at,
			BaseUpvotes: s.upvotes, Version: at.UnixNano()})
	}
	if _, err := mongo.NewPapers(db).InsertMany(ctx, papers); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	cfg.MongoURI = first.DatabaseURI()
	ts := startServer(t, cfg)

	resp, err := ts.client.ListTrendingPapers(ctx, &catalogv1.ListTrendingPapersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	ref := resp.GetReferenceTime().AsTime()
	if resp.GetWindow().AsDuration() != 7*24*time.Hour || resp.GetGravity() != 1.8 || resp.GetAgeOffsetHours() != 2 {
		t.Errorf("parameters: window %v gravity %v offset %v", resp.GetWindow().AsDuration(), resp.GetGravity(), resp.GetAgeOffsetHours())
	}
	if want := clk.Now().UTC().Truncate(time.Minute); !ref.Equal(want) {
		t.Errorf("reference_time %v is not the current minute %v", ref, want)
	}
	var got []string
	prev := math.Inf(1)
	for _, tp := range resp.GetPapers() {
		p := tp.GetPaper()
		age := ref.Sub(p.GetSubmitTime().AsTime()).Hours()
		want := float64(p.GetUpvotes()) / math.Pow(age+resp.GetAgeOffsetHours(), resp.GetGravity())
		if math.Abs(tp.GetTrendingScore()-want) > 1e-12*math.Max(1, want) {
			t.Errorf("%s: score %v, recomputed %v", p.GetArxivId(), tp.GetTrendingScore(), want)
		}
		if tp.GetTrendingScore() > prev {
			t.Errorf("%s: score %v after a lower one %v", p.GetArxivId(), tp.GetTrendingScore(), prev)
		}
		prev = tp.GetTrendingScore()
		got = append(got, p.GetArxivId())
	}
	// 2411.00001: 10/3^1.8 = 1.38; 2411.00006: 10/4^1.8 = 0.82; 2411.00002: 80/32^1.8 = 0.16;
	// 2411.00003: 400/122^1.8 = 0.07; 2411.00004 scores 0.
	want := []string{"2411.00001", "2411.00006", "2411.00002", "2411.00003", "2411.00004"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("order %v, want %v", got, want)
	}

	wide, err := ts.client.ListTrendingPapers(ctx, &catalogv1.ListTrendingPapersRequest{Window: durationpb.New(10 * 24 * time.Hour)})
	if err != nil || len(wide.GetPapers()) != 6 {
		t.Errorf("a 10-day window has %d papers (%v), want 6", len(wide.GetPapers()), err)
	}

	// Pages keep the first page's reference time.
	page1, err := ts.client.ListTrendingPapers(ctx, &catalogv1.ListTrendingPapersRequest{PageSize: 2})
	if err != nil || page1.GetNextPageToken() == "" {
		t.Fatalf("page 1: %v", err)
	}
	page2, err := ts.client.ListTrendingPapers(ctx, &catalogv1.ListTrendingPapersRequest{PageSize: 2, PageToken: page1.GetNextPageToken()})
	if err != nil {
		t.Fatal(err)
	}
	if !page2.GetReferenceTime().AsTime().Equal(page1.GetReferenceTime().AsTime()) {
		t.Errorf("page 2 reference time %v, page 1 %v", page2.GetReferenceTime().AsTime(), page1.GetReferenceTime().AsTime())
	}
	if g := append(ids2(page1), ids2(page2)...); fmt.Sprint(g) != fmt.Sprint(want[:4]) {
		t.Errorf("two pages: %v, want %v", g, want[:4])
	}

	// The daily listing ordered by trending follows the same scores, in the
	// month of the youngest paper (the month before, in the first hour of a
	// month).
	daily, err := ts.client.ListDailyPapers(ctx, &catalogv1.ListDailyPapersRequest{Month: now.Add(-time.Hour).Format("2006-01"), OrderBy: "trending"})
	if err != nil {
		t.Fatal(err)
	}
	inDaily := map[string]bool{}
	for _, id := range ids(daily.GetPapers()) {
		inDaily[id] = true
	}
	var wantDaily []string
	for _, id := range ids2(wide) {
		if inDaily[id] {
			wantDaily = append(wantDaily, id)
		}
	}
	if len(inDaily) == 0 || fmt.Sprint(ids(daily.GetPapers())) != fmt.Sprint(wantDaily) {
		t.Errorf("daily by trending: %v, want %v", ids(daily.GetPapers()), wantDaily)
	}

	for _, w := range []*durationpb.Duration{durationpb.New(0), durationpb.New(-time.Hour), durationpb.New(400 * 24 * time.Hour)} {
		_, err := ts.client.ListTrendingPapers(ctx, &catalogv1.ListTrendingPapersRequest{Window: w})
		wantCode(t, err, 3)
	}
	// A paper created a moment ago is trending at once (age 0), not after a minute.
	createAt(t, ts, "2411.00007", clk.Now())
	fresh, err := ts.client.ListTrendingPapers(ctx, &catalogv1.ListTrendingPapersRequest{})
	if err != nil || fresh.GetTotalSize() != resp.GetTotalSize()+1 {
		t.Errorf("after creating a paper, trending has %d papers (%v), want %d", fresh.GetTotalSize(), err, resp.GetTotalSize()+1)
	}
	r := ts.rest(t, "GET", "/v1/papers:trending?window=36h", "", nil)
	if r.Status != 200 || len(r.Body["papers"].([]any)) != 5 {
		t.Errorf("REST trending with a 36h window: %d %s", r.Status, r.Raw)
	}
}

func ids2(r *catalogv1.ListTrendingPapersResponse) []string {
	var out []string
	for _, p := range r.GetPapers() {
		out = append(out, p.GetPaper().GetArxivId())
	}
	return out
}

// TestRepeatedListingsFollowWrites checks the response cache: a listing asked for
// again answers the same as the first time until the catalog changes, and then
// shows the change at once, over gRPC (which sends cached encodings) and REST.
func TestRepeatedListingsFollowWrites(t *testing.T) {
	t.Parallel()
	ts := startServer(t, testConfig(t))
	ctx := testCtx(t)
	now := testClock(t).Now().UTC()
	for i := range 3 {
		createAt(t, ts, paperID(i), now.Add(-time.Duration(i+1)*time.Hour))
	}
	// The week is asked for in a zone where it is about noon now, so that the
	// papers of the last hours are in it at any time of day (in UTC, the three
	// hours after Monday 00:00 fall in another week than the papers).
	zone := "UTC"
	switch off := 12 - now.Hour(); {
	case off > 0:
		zone = fmt.Sprintf("Etc/GMT-%d", off)
	case off < 0:
		zone = fmt.Sprintf("Etc/GMT+%d", -off)
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	y, w := now.In(loc).ISOWeek()
	week := fmt.Sprintf("%d-W%02d", y, w)
	titles := func() (list, daily, trending, rest []string) {
		l, err := ts.client.ListPapers(ctx, &catalogv1.ListPapersRequest{OrderBy: "submit_time desc"})
		if err != nil {
			t.Fatal(err)
		}
		d, err := ts.client.ListDailyPapers(ctx, &catalogv1.ListDailyPapersRequest{Week: week, TimeZone: zone, OrderBy: "submit_time desc"})
		if err != nil {
			t.Fatal(err)
		}
		tr, err := ts.client.ListTrendingPapers(ctx, &catalogv1.ListTrendingPapersRequest{})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range l.GetPapers() {
			list = append(list, p.GetTitle())
		}
		for _, p := range d.GetPapers() {
			daily = append(daily, p.GetTitle())
		}
		for _, p := range tr.GetPapers() {
			trending = append(trending, p.GetPaper().GetTitle())
		}
		r := ts.rest(t, "GET", "/v1/papers?order_by=submit_time%20desc", "", nil)
		for _, p := range r.Body["papers"].([]any) {
			rest = append(rest, p.(map[string]any)["title"].(string))
		}
		return
	}
	l1, d1, t1, r1 := titles()
	l2, d2, t2, r2 := titles()
	if fmt.Sprint(l1, d1, t1, r1) != fmt.Sprint(l2, d2, t2, r2) || len(l1) != 3 || len(d1) != 3 || len(t1) != 3 {
		t.Fatalf("repeated listings differ or are short: %v %v %v %v / %v %v %v %v", l1, d1, t1, r1, l2, d2, t2, r2)
	}
	if _, err := ts.client.UpdatePaper(admin(ctx), &catalogv1.UpdatePaperRequest{
		Paper: &catalogv1.Paper{Name: "papers/" + paperID(0), Title: "Renamed"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}},
	}); err != nil {
		t.Fatal(err)
	}
	l3, d3, t3, r3 := titles()
	for name, got := range map[string][]string{"list": l3, "daily": d3, "rest": r3} {
		if len(got) != 3 || got[0] != "Renamed" {
			t.Errorf("%s after the update: %v", name, got)
		}
	}
	if !slices.Contains(t3, "Renamed") {
		t.Errorf("trending after the update: %v", t3)
	}
}

// TestCustomMethodRoutesAndTheirAliases: the AIP-136 routes of the list
// methods answer, and so do their first routes, kept as aliases, with the
// same papers.
func TestCustomMethodRoutesAndTheirAliases(t *testing.T) {
	t.Parallel()
	ts := startServer(t, testConfig(t))
	p := create(t, ts, 1)
	for route, alias := range map[string]string{
		"/v1/papers:listDaily?month=2024-01":   "/v1/dailyPapers?month=2024-01",
		"/v1/papers:listTrending?window=8760h": "/v1/papers:trending?window=8760h",
		"/v1/" + p.GetName() + ":listSimilar":  "/v1/" + p.GetName() + ":similar",
	} {
		var r, a restResponse
		eventually(t, route+" and "+alias+" answer alike", func() bool {
			r, a = ts.rest(t, "GET", route, "", nil), ts.rest(t, "GET", alias, "", nil)
			return r.Status == 200 && a.Status == 200
		})
		if fmt.Sprint(r.Body["papers"]) != fmt.Sprint(a.Body["papers"]) {
			t.Errorf("%s: %s\n%s: %s", route, r.Raw, alias, a.Raw)
		}
	}
}
