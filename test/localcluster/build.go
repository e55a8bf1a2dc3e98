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
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/storefront-operator/storefront/test/testenv"
)

// BuildShop builds the shop and its badmigration variant into dir, as `make demo` builds
// them into bin/, and returns the mapping to them.
func BuildShop(ctx context.Context, dir string) (Images, error) {
	if _, err := exec.LookPath("go"); err != nil {
		return Images{}, fmt.Errorf("the go tool is not on $PATH: install Go 1.26 (https://go.dev/doc/install): %w", err)
	}
	// Pods may run as another user (runAsUser), who must reach the binaries.
	if err := os.Chmod(dir, 0o755); err != nil {
		return Images{}, err
	}
	imgs := Images{Shop: filepath.Join(dir, "shop"), ShopBadMigration: filepath.Join(dir, "shop-badmigration")}
	for _, b := range []struct {
		out  string
		tags string
	}{{imgs.Shop, ""}, {imgs.ShopBadMigration, "badmigration"}} {
		args := []string{"build", "-trimpath", "-o", b.out}
		if b.tags != "" {
			args = append(args, "-tags", b.tags)
		}
		cmd := exec.CommandContext(ctx, "go", append(args, "./shop/cmd/shop")...)
		cmd.Dir = testenv.RepoRoot()
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return Images{}, fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
		}
	}
	return imgs, nil
}
