package images

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// CacheControl is the caching of a stored variant: its name is its content's hash, so
// it never changes and every cache may keep it for a year.
const CacheControl = "public, max-age=31536000, immutable"

// Store keeps the encoded variants under their keys. Put of a key that exists already
// is harmless: the same key always holds the same bytes.
type Store interface {
	Put(ctx context.Context, key, contentType string, body []byte) error
	// String names the store for logs (no credentials).
	String() string
}

// Open returns the store IMAGE_STORE names: s3://bucket/prefix (S3, through the AWS
// SDK's default credential chain) or an absolute directory (for hand use).
func Open(ctx context.Context, spec string) (Store, error) {
	switch {
	case strings.HasPrefix(spec, "s3://"):
		bucket, prefix, err := ParseS3(spec)
		if err != nil {
			return nil, err
		}
		return OpenS3(ctx, bucket, prefix)
	case filepath.IsAbs(spec):
		return NewLocalStore(spec)
	}
	return nil, fmt.Errorf("IMAGE_STORE: %q is neither s3://bucket/prefix nor an absolute directory", spec)
}

// ParseS3 splits s3://bucket/prefix; the prefix may be empty and never starts or ends
// with a slash.
func ParseS3(spec string) (bucket, prefix string, err error) {
	u, err := url.Parse(spec)
	if err != nil || u.Scheme != "s3" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", "", fmt.Errorf("IMAGE_STORE: %q is not s3://bucket/prefix", spec)
	}
	prefix = strings.Trim(u.Path, "/")
	if strings.Contains(prefix, "//") || strings.Contains("/"+prefix+"/", "/../") {
		return "", "", fmt.Errorf("IMAGE_STORE: the prefix of %q is not a clean key prefix", spec)
	}
	return u.Host, prefix, nil
}

// S3Store keeps the variants in an S3 bucket.
type S3Store struct {
	client         *s3.Client
	bucket, prefix string
}

// OpenS3 returns a store on bucket with the AWS SDK's default configuration: the
// region and credentials come from the environment, which in the cluster is the pod's
// identity (IRSA's web identity token or EKS Pod Identity's container credentials), so
// no access key is ever configured. AWS_ENDPOINT_URL_S3 (or AWS_ENDPOINT_URL), read by
// the SDK itself, points it at an S3-compatible server; such servers (the local stand-in,
// MinIO) are addressed path-style.
func OpenS3(ctx context.Context, bucket, prefix string) (*S3Store, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading the AWS configuration for the image store: %w", err)
	}
	pathStyle := os.Getenv("AWS_ENDPOINT_URL_S3") != "" || os.Getenv("AWS_ENDPOINT_URL") != ""
	client := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = pathStyle })
	return NewS3Store(client, bucket, prefix), nil
}

// NewS3Store returns a store on bucket through client; keys are put under prefix.
func NewS3Store(client *s3.Client, bucket, prefix string) *S3Store {
	return &S3Store{client: client, bucket: bucket, prefix: strings.Trim(prefix, "/")}
}

// ObjectKey is the S3 key of a variant's key.
func (s *S3Store) ObjectKey(key string) string {
	if s.prefix == "" {
		return key
	}
	return s.prefix + "/" + key
}

// Put implements Store. The object carries its Content-Type and the immutable
// Cache-Control, which S3 (and CloudFront in front of it) answer GETs with.
func (s *S3Store) Put(ctx context.Context, key, contentType string, body []byte) error {
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(s.ObjectKey(key)),
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
		ContentType:   aws.String(contentType),
		CacheControl:  aws.String(CacheControl),
	})
	if err != nil {
		return fmt.Errorf("storing image %s in s3://%s: %w", key, s.bucket, err)
	}
	return nil
}

func (s *S3Store) String() string { return "s3://" + path.Join(s.bucket, s.prefix) }

// LocalStore keeps the variants in a directory, which the shop serves itself (Handler).
type LocalStore struct {
	dir string
}

// NewLocalStore returns a store in dir, creating it.
func NewLocalStore(dir string) (*LocalStore, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("IMAGE_STORE: creating %s: %w", dir, err)
	}
	return &LocalStore{dir: dir}, nil
}

// Put implements Store: written to a temporary file and renamed, so a reader never sees
// half a picture.
func (s *LocalStore) Put(_ context.Context, key, _ string, body []byte) error {
	if !ValidKey(key) {
		return fmt.Errorf("image key %q is not content-addressed", key)
	}
	dst := filepath.Join(s.dir, key)
	if _, err := os.Stat(dst); err == nil {
		return nil
	}
	f, err := os.CreateTemp(s.dir, ".upload-*")
	if err != nil {
		return fmt.Errorf("storing image %s: %w", key, err)
	}
	_, werr := f.Write(body)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("storing image %s: %w", key, err)
	}
	if err := os.Chmod(f.Name(), 0o640); err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("storing image %s: %w", key, err)
	}
	if err := os.Rename(f.Name(), dst); err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("storing image %s: %w", key, err)
	}
	return nil
}

func (s *LocalStore) String() string { return s.dir }

// Dir is the store's directory.
func (s *LocalStore) Dir() string { return s.dir }

// ServeHTTP answers GET and HEAD /<prefix>/<key> with the stored variant, immutable. Only
// content-addressed names are looked up, so no path reaches outside the directory.
func (s *LocalStore) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := path.Base(r.URL.Path)
	if !ValidKey(key) {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	body, err := os.ReadFile(filepath.Join(s.dir, key))
	if err != nil {
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	h := w.Header()
	h.Set("Content-Type", ContentTypeOfKey(key))
	h.Set("Cache-Control", CacheControl)
	h.Set("ETag", `"`+strings.TrimSuffix(strings.TrimSuffix(key, ".png"), ".jpg")+`"`)
	h.Set("X-Content-Type-Options", "nosniff")
	// ServeContent answers HEAD, ranges and If-None-Match (against the ETag above).
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}
