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
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// guard cleans up after this process if it dies without stopping the cluster (a
// panic in a test, SIGKILL): envtest starts kube-apiserver and etcd without a
// parent-death signal, so they would outlive it, and temporary directories would stay.
// The guard is a shell that gets SIGTERM when this process dies; it then kills the
// processes listed in its pids file and removes the paths listed in its paths file.
// (Pods need no guard: they have a parent-death signal of their own.) The guard may get
// SIGTERM more than once, since the kernel sends the parent-death signal each time the
// thread it was reparented to exits, so its handler first ignores any more.
type guard struct {
	cmd *exec.Cmd
	dir string
	mu  sync.Mutex
}

const guardScript = `d=$1
trap 'trap "" TERM; kill -KILL $(cat "$d/pids" 2>/dev/null) 2>/dev/null
while IFS= read -r p; do rm -rf "$p"; done < "$d/paths"
kill $! 2>/dev/null; exit 0' TERM
sleep 2147483647 & wait`

// startGuard starts a guard whose lists live in dir.
func startGuard(dir string) (*guard, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	for _, f := range []string{"pids", "paths"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			return nil, err
		}
	}
	cmd := exec.Command("/bin/sh", "-c", guardScript, "guard", dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := spawn(cmd); err != nil {
		return nil, err
	}
	go func() { _ = cmd.Wait() }()
	return &guard{cmd: cmd, dir: dir}, nil
}

// Kill adds processes for the guard to kill.
func (g *guard) Kill(pids ...string) error { return g.add("pids", pids) }

// Remove adds paths for the guard to remove.
func (g *guard) Remove(paths ...string) error { return g.add("paths", paths) }

func (g *guard) add(list string, items []string) error {
	if g == nil || len(items) == 0 {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	f, err := os.OpenFile(filepath.Join(g.dir, list), os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(f, strings.Join(items, "\n"))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Stop ends the guard without letting it do anything, and removes its lists.
func (g *guard) Stop() {
	if g != nil {
		_ = syscall.Kill(-g.cmd.Process.Pid, syscall.SIGKILL)
		_ = os.RemoveAll(g.dir)
	}
}

// childrenIn returns the PIDs of this process's children whose executable is in dir.
func childrenIn(dir string) []string {
	if resolved, err := filepath.EvalSymlinks(dir); err == nil {
		dir = resolved
	}
	self := strconv.Itoa(os.Getpid())
	entries, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(fields) < 2 || fields[1] != self {
			continue
		}
		if exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe")); err == nil && filepath.Dir(exe) == filepath.Clean(dir) {
			out = append(out, e.Name())
		}
	}
	return out
}
