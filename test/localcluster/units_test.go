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

package localcluster

import (
	"os"
	"path/filepath"
	"testing"
)

func TestImageMapping(t *testing.T) {
	dir := t.TempDir()
	imgs := Images{Shop: filepath.Join(dir, "shop"), ShopBadMigration: filepath.Join(dir, "shop-badmigration")}
	for _, p := range []string{imgs.Shop, imgs.ShopBadMigration} {
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, tc := range map[string]struct {
		image         string
		command, args []string
		want          []string
		wantErr       bool
	}{
		"a shop image with the image's entrypoint runs bin/shop": {
			image: "registry.example.com/storefront/shop:1.4.0", command: []string{"/shop"}, args: []string{"serve"},
			want: []string{imgs.Shop, "serve"},
		},
		"any tag of a shop image runs bin/shop": {
			image: "ghcr.io/acme/shop:latest", command: []string{"/shop"}, args: []string{"migrate", "--seed=demo"},
			want: []string{imgs.Shop, "migrate", "--seed=demo"},
		},
		"a shop image by digest runs bin/shop": {
			image: "localhost:5000/shop@sha256:0123", args: []string{"serve"},
			want: []string{imgs.Shop, "serve"},
		},
		"a -badmigration tag runs the badmigration build": {
			image: "registry.example.com/storefront/shop:1.5.1-badmigration", command: []string{"/shop"}, args: []string{"migrate"},
			want: []string{imgs.ShopBadMigration, "migrate"},
		},
		"an image named otherwise runs its command from $PATH": {
			image: "docker.io/library/busybox:1.37", command: []string{"sh", "-c", "true"},
			want: []string{mustLookPath(t, "sh"), "-c", "true"},
		},
		"a repository that only ends in shop is not the shop": {
			image: "registry.example.com/workshop:1", command: []string{"sh"},
			want: []string{mustLookPath(t, "sh")},
		},
		"an unmapped image without a command cannot run": {
			image: "docker.io/library/nginx:1", wantErr: true,
		},
		"a command missing from $PATH cannot run": {
			image: "busybox", command: []string{"no-such-program-here"}, wantErr: true,
		},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := imgs.Command(tc.image, tc.command, tc.args)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("got %q, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("got %q, want %q", got, tc.want)
				}
			}
		})
	}
}

func mustLookPath(t *testing.T, name string) string {
	t.Helper()
	imgs := Images{}
	argv, err := imgs.Command("busybox", []string{name}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return argv[0]
}

func TestExpand(t *testing.T) {
	vars := map[string]string{"HOST": "db", "PORT": "5432"}
	for name, tc := range map[string]struct{ in, want string }{
		"a defined variable is replaced":             {"postgres://$(HOST):$(PORT)/shop", "postgres://db:5432/shop"},
		"an undefined variable is left as written":   {"$(NOPE)-$(HOST)", "$(NOPE)-db"},
		"$$ escapes a reference":                     {"$$(HOST)", "$(HOST)"},
		"a lone dollar stays":                        {"cost: 5$ and $", "cost: 5$ and $"},
		"an unterminated reference is left as it is": {"$(HOST", "$(HOST"},
		"no reference is untouched":                  {"plain", "plain"},
	} {
		t.Run(name, func(t *testing.T) {
			if got := expand(tc.in, vars); got != tc.want {
				t.Errorf("expand(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestLogTailIsTheAttemptsOwnEnd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	if err := os.WriteFile(path, []byte("first attempt\nfailed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	offset := int64(len("first attempt\nfailed\n"))
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		_, _ = f.WriteString("line " + string(rune('a'+i%26)) + "\n")
	}
	_, _ = f.WriteString("the cause\n")
	_ = f.Close()
	got := logTail(path, offset)
	lines := len(splitLines(got))
	if lines != terminationMessageLines {
		t.Errorf("tail has %d lines, want %d", lines, terminationMessageLines)
	}
	if want := "the cause"; got[len(got)-len(want):] != want {
		t.Errorf("tail ends %q, want %q", got[max(0, len(got)-20):], want)
	}
	if tail := logTail(path, 0); len(tail) > terminationMessageBytes {
		t.Errorf("tail is %d bytes, want at most %d", len(tail), terminationMessageBytes)
	}
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}
