// Package uploads is Rekey's use of Amazon S3: the bucket of import files
// too large for a request body. Clients PUT them with a presigned URL; the
// import reads them once and deletes them (the bucket's lifecycle rule
// removes any left behind after a day).
package uploads

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/rekey/rekey/shared/rekey"
)

// Bucket reads, deletes and presigns uploads of one bucket.
type Bucket struct {
	client  *s3.Client
	presign *s3.PresignClient
	name    string
}

// New returns the bucket name on client.
func New(client *s3.Client, name string) *Bucket {
	return &Bucket{client: client, presign: s3.NewPresignClient(client), name: name}
}

// PresignPut returns a URL that accepts one PUT of key until expires.
func (b *Bucket) PresignPut(ctx context.Context, key string, expires time.Duration) (string, error) {
	req, err := b.presign.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b.name), Key: aws.String(key)},
		s3.WithPresignExpires(expires))
	if err != nil {
		return "", fmt.Errorf("uploads: presign %s: %w", key, err)
	}
	return req.URL, nil
}

// errTooLarge refuses an uploaded file above the import's limit.
var errTooLarge = &rekey.Error{Code: rekey.ECodeBodyTooLarge, Field: "importId", Message: "The uploaded file is too large to import."}

// Get reads the object key, at most max bytes (more is body_too_large); a
// missing object is rekey.ErrNotFound.
func (b *Bucket) Get(ctx context.Context, key string, max int64) ([]byte, error) {
	out, err := b.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b.name), Key: aws.String(key)})
	var missing *types.NoSuchKey
	if errors.As(err, &missing) {
		return nil, fmt.Errorf("uploads: get %s: %w", key, rekey.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("uploads: get %s: %w", key, err)
	}
	defer out.Body.Close()
	if out.ContentLength != nil && *out.ContentLength > max {
		return nil, errTooLarge
	}
	body, err := io.ReadAll(io.LimitReader(out.Body, max+1))
	if err != nil {
		return nil, fmt.Errorf("uploads: read %s: %w", key, err)
	}
	if int64(len(body)) > max {
		return nil, errTooLarge
	}
	return body, nil
}

// Delete removes key (a missing key is no error).
func (b *Bucket) Delete(ctx context.Context, key string) error {
	if _, err := b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b.name), Key: aws.String(key)}); err != nil {
		return fmt.Errorf("uploads: delete %s: %w", key, err)
	}
	return nil
}
