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
	"os"
	"os/exec"
	"path/filepath"

	"github.com/storefront-operator/storefront/test/testenv"
)

// PgDumpPath is the pg_dump of the PostgreSQL server binaries testenv runs (the same
// version, as pg_dump must not be older than the server), else the one on $PATH.
func PgDumpPath() (string, error) {
	if bin, err := testenv.FindPostgresBin(); err == nil {
		if real, err := filepath.EvalSymlinks(filepath.Join(bin, "postgres")); err == nil {
			p := filepath.Join(filepath.Dir(real), "pg_dump")
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
	}
	if p, err := exec.LookPath("pg_dump"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("pg_dump not found beside the PostgreSQL server binaries nor on $PATH: install it with `%s`", testenv.PostgresInstall)
}
