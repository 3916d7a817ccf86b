package repository

import (
	"testing"
	"time"
)

func TestFindGithubRepo(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, text, want string }{
		{"trailing dot", "Code is at https://github.com/naver-ai/vidt.", "https://github.com/naver-ai/vidt"},
		{"in parentheses", "(see https://github.com/facebookresearch/detr)", "https://github.com/facebookresearch/detr"},
		{"deeper path", "https://github.com/openai/CLIP/tree/main/notebooks", "https://github.com/openai/CLIP"},
		{".git suffix", "git clone https://github.com/a/b.git", "https://github.com/a/b"},
		{"first of two", "https://github.com/x/one and https://github.com/y/two", "https://github.com/x/one"},
		{"user page only", "https://github.com/naver-ai", ""},
		{"other host", "https://gitlab.com/a/b", ""},
		{"none", "no code released", ""},
	}
	for _, tt := range tests {
		if got := FindGithubRepo(tt.text); got != tt.want {
			t.Errorf("%s: FindGithubRepo(%q) = %q, want %q", tt.name, tt.text, got, tt.want)
		}
	}
}

func TestNextVersion(t *testing.T) {
	t.Parallel()
	if got := NextVersion(time.Unix(0, 100), 500); got != 501 {
		t.Errorf("a clock behind the previous version: got %d, want 501", got)
	}
	if got := NextVersion(time.Unix(0, 900), 500); got != 900 {
		t.Errorf("a clock ahead of the previous version: got %d, want 900", got)
	}
}
