package files

import (
	"path/filepath"
	"strings"
	"testing"
)

// file:relative/dir is a folder under the data directory.
func TestRelativeFileURL(t *testing.T) {
	for _, tc := range []struct{ url, err string }{
		{"file:files/page_images", ""},
		{"file:out?prefix=p/&no_tmp_dir=true", ""},
		{"file:../elsewhere", "a folder inside the data directory"},
		{"file:a/../../b", "a folder inside the data directory"},
		{"file:.", "a folder inside the data directory"},
		{"file://host/dir", "three slashes"},
	} {
		err := CheckURL(tc.url)
		if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: %v, want %q", tc.url, err, tc.err)
		}
	}
	data := t.TempDir()
	got, err := resolve("file:files/page_images?prefix=p/&no_tmp_dir=true", data)
	if want := "file://" + filepath.ToSlash(data) + "/files/page_images?prefix=p/&no_tmp_dir=true"; err != nil || got != want {
		t.Fatalf("%s %v, want %s", got, err, want)
	}
	if got, _ := resolve("file:///abs/dir", data); got != "file:///abs/dir" {
		t.Fatal(got)
	}
	if got, _ := resolve("s3://bucket?prefix=x", data); got != "s3://bucket?prefix=x" {
		t.Fatal(got)
	}
}
