package files

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob" // file://
	_ "gocloud.dev/blob/s3blob"   // s3://
)

// OpenBucket opens a files URL. A file:// URL gets two defaults unless it
// says otherwise: metadata=skip (no ".attrs" file next to each object) and
// create_dir=true (the folder is created if missing).
func OpenBucket(ctx context.Context, raw string) (*blob.Bucket, error) {
	if err := CheckURL(raw); err != nil {
		return nil, err
	}
	u, _ := url.Parse(raw)
	if u.Scheme == "file" {
		q := u.Query()
		if !q.Has("metadata") {
			q.Set("metadata", "skip")
		}
		if !q.Has("create_dir") {
			q.Set("create_dir", "true")
		}
		u.RawQuery = q.Encode()
	}
	b, err := blob.OpenBucket(ctx, u.String())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", Redact(raw), err)
	}
	return b, nil
}

// committed looks for an object of the partition that starts at seq,
// written before a crash; it returns the last sequence it holds.
func committed(ctx context.Context, b *blob.Bucket, partition string, seq uint64) (last uint64, key string, found bool, err error) {
	prefix := startPrefix(partition, seq)
	it := b.List(&blob.ListOptions{Prefix: prefix, Delimiter: "/"})
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return last, key, found, nil
		}
		if err != nil {
			return 0, "", false, fmt.Errorf("list %s*: %w", prefix, err)
		}
		if obj.IsDir {
			continue
		}
		first, l, _, ok := ParseName(strings.TrimPrefix(obj.Key, dir(partition)))
		if ok && first == seq && l >= last {
			last, key, found = l, obj.Key, true
		}
	}
}
