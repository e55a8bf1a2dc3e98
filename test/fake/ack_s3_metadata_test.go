/*
Copyright 2026 The Storefront Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package fake

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// An object uploaded through the S3 REST API with the AWS SDK for Go v2 (as the shop's
// images.S3Store puts one) is answered with the Cache-Control, Content-Type,
// Content-Language and Expires it was stored with, on GET and HEAD, as S3 answers with
// an object's system-defined metadata
// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingMetadata.html); gofakes3
// alone drops Cache-Control (gofakes3.go: metadataHeaders).
func TestS3KeepsSystemMetadata(t *testing.T) {
	s := &StandIns{}
	t.Cleanup(s.closeCDN)
	endpoint, backend := s.S3()
	if err := backend.CreateBucket("sf-shops-acme-1a2b3c4d-5e6f7a8b"); err != nil {
		t.Fatal(err)
	}
	s.SetS3AccessKeys(func(id string) bool { return id == "ASIASTANDIN" })
	clientFor := func(key string) *s3.Client {
		return s3.New(s3.Options{
			Region: "eu-central-1", BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
			Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{AccessKeyID: key, SecretAccessKey: "standin-secret", SessionToken: "t"}, nil
			}),
		})
	}
	// A key AWS did not issue is refused, as is an unsigned write.
	_, err := clientFor("AKIAUNKNOWN").PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String("sf-shops-acme-1a2b3c4d-5e6f7a8b"), Key: aws.String("images/x.jpg"), Body: strings.NewReader("x")})
	if err == nil || !strings.Contains(err.Error(), "InvalidAccessKeyId") {
		t.Errorf("PUT with an unknown key: %v, want InvalidAccessKeyId", err)
	}
	req, _ := http.NewRequest(http.MethodPut, endpoint+"/sf-shops-acme-1a2b3c4d-5e6f7a8b/images/y.jpg", strings.NewReader("y"))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("an unsigned PUT: %v %v, want 403", resp, err)
	} else {
		_ = resp.Body.Close()
	}
	if got := SigV4AccessKeyID("AWS4-HMAC-SHA256 Credential=ASIAX/20261204/eu-central-1/s3/aws4_request, SignedHeaders=host, Signature=ab"); got != "ASIAX" {
		t.Errorf("SigV4AccessKeyID = %q", got)
	}
	client := clientFor("ASIASTANDIN")
	const body = "\xff\xd8\xff\xe0 a JPEG's first bytes"
	if _, err := client.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String("sf-shops-acme-1a2b3c4d-5e6f7a8b"), Key: aws.String("images/0f3a-640.jpg"),
		Body: strings.NewReader(body), ContentType: aws.String("image/jpeg"),
		CacheControl: aws.String("public, max-age=31536000, immutable"), ContentLanguage: aws.String("en"),
		Expires: aws.Time(mustTime(t, "Thu, 31 Dec 2037 23:55:55 GMT")),
	}); err != nil {
		t.Fatal(err)
	}
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		req, _ := http.NewRequest(method, endpoint+"/sf-shops-acme-1a2b3c4d-5e6f7a8b/images/0f3a-640.jpg", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		got := []string{resp.Header.Get("Cache-Control"), resp.Header.Get("Content-Type"), resp.Header.Get("Content-Language"), resp.Header.Get("Expires")}
		want := []string{"public, max-age=31536000, immutable", "image/jpeg", "en", "Thu, 31 Dec 2037 23:55:55 GMT"}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s: headers %q, want %q", method, got, want)
				break
			}
		}
		if resp.StatusCode != http.StatusOK || (method == http.MethodGet && string(b) != body) {
			t.Errorf("%s: %d %q", method, resp.StatusCode, b)
		}
		for k := range resp.Header {
			if strings.HasPrefix(k, carriedPrefix) {
				t.Errorf("%s: the carrier header %s leaks", method, k)
			}
		}
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := http.ParseTime(s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}
