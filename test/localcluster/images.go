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
	"fmt"
	"os/exec"
	"strings"
)

// Images maps container images to programs on this machine (docs/architecture.md#the-whole-system-on-one-machine): an image whose
// repository's last path segment is "shop" runs Shop, whatever its tag; a tag ending in
// "-badmigration" runs ShopBadMigration, the shop built with -tags badmigration. An
// image it does not map runs its command as given, from this machine's $PATH: the
// machine is the image.
type Images struct {
	// Shop and ShopBadMigration are paths of the shop binaries.
	Shop, ShopBadMigration string
}

// shopEntrypoint is the shop image's program (shop/Dockerfile).
const shopEntrypoint = "/shop"

// ParseImage splits an image reference into its repository and tag ("" when it has
// none); a digest is dropped.
func ParseImage(image string) (repository, tag string) {
	ref, _, _ := strings.Cut(image, "@")
	slash := strings.LastIndex(ref, "/")
	if colon := strings.LastIndex(ref, ":"); colon > slash {
		return ref[:colon], ref[colon+1:]
	}
	return ref, ""
}

// Binary is the program that image maps to, or "" when it maps to none.
func (m Images) Binary(image string) string {
	repo, tag := ParseImage(image)
	if repo[strings.LastIndex(repo, "/")+1:] != "shop" {
		return ""
	}
	if strings.HasSuffix(tag, "-badmigration") {
		return m.ShopBadMigration
	}
	return m.Shop
}

// Command is the program and arguments a container runs here: for a mapped image, its
// entrypoint (an empty command, or the image's own path to it) becomes the mapped
// binary; anything else is looked up on $PATH.
func (m Images) Command(image string, command, args []string) ([]string, error) {
	argv := append(append([]string(nil), command...), args...)
	if bin := m.Binary(image); bin != "" {
		switch {
		case len(command) == 0:
			argv = append([]string{bin}, args...)
		case command[0] == shopEntrypoint:
			argv[0] = bin
		}
	}
	if len(argv) == 0 {
		return nil, fmt.Errorf("image %s: no command, and the image maps to no local program", image)
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		if m.Binary(image) != "" && argv[0] == m.Binary(image) {
			return nil, fmt.Errorf("image %s runs %s, which does not exist: build it (make demo builds bin/shop and bin/shop-badmigration)", image, argv[0])
		}
		return nil, fmt.Errorf("image %s: %w", image, err)
	}
	argv[0] = path
	return argv, nil
}
