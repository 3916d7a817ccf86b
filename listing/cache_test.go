package listing

import "testing"

func TestCacheParsesOnceAndKeepsErrors(t *testing.T) {
	t.Parallel()
	var c Cache
	a := c.Parse(`organization = "naver-ai"`, "upvotes desc")
	if a.FilterErr != nil || a.OrderErr != nil {
		t.Fatalf("errors: %v %v", a.FilterErr, a.OrderErr)
	}
	if b := c.Parse(`organization = "naver-ai"`, "upvotes desc"); b != a {
		t.Error("the same texts were parsed again")
	}
	if bad := c.Parse("stars > 3", "nonsense"); bad.FilterErr == nil || bad.OrderErr == nil {
		t.Errorf("a bad filter and order parsed without errors: %v %v", bad.FilterErr, bad.OrderErr)
	}
}
