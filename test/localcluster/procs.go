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
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// process is one local program started for a pod: in a process group of its own, so
// that it and anything it starts are signalled together, and with a parent-death
// signal, so that nothing outlives a killed test binary or demo.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{}
	// state is valid once exited is closed.
	state *os.ProcessState
	// Started is when the program started.
	Started time.Time
	// Finished is when it exited; valid once exited is closed.
	Finished time.Time
}

// startProcess starts cmd with its output appended to logPath. The fork happens on one
// OS thread that never exits, because Linux sends the parent-death signal when the
// forking *thread* ends, not the process: a goroutine's thread may be retired by the Go
// runtime at any time (golang/go#27505).
func startProcess(cmd *exec.Cmd, logPath string) (*process, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	var cred *syscall.Credential
	if cmd.SysProcAttr != nil {
		cred = cmd.SysProcAttr.Credential // the container's user
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: cred}
	if err := spawn(cmd); err != nil {
		_ = logf.Close()
		return nil, err
	}
	p := &process{cmd: cmd, exited: make(chan struct{}), Started: time.Now()}
	go func() {
		_ = cmd.Wait()
		p.state = cmd.ProcessState
		p.Finished = time.Now()
		_ = logf.Close()
		close(p.exited)
	}()
	return p, nil
}

// Pid is the process ID, which is also its process group ID.
func (p *process) Pid() int { return p.cmd.Process.Pid }

// Exited is closed when the process has exited.
func (p *process) Exited() <-chan struct{} { return p.exited }

// ExitCode is the exit status once exited; a signal counts as 128 + its number, as a
// container runtime reports it.
func (p *process) ExitCode() int {
	<-p.exited
	if ws, ok := p.state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return p.state.ExitCode()
}

// Signal sends sig to the process group.
func (p *process) Signal(sig syscall.Signal) {
	_ = syscall.Kill(-p.Pid(), sig)
}

// Terminate sends SIGTERM to the group and SIGKILL after grace, as the kubelet does at
// the end of terminationGracePeriodSeconds, and returns once the process has exited.
func (p *process) Terminate(grace time.Duration) {
	select {
	case <-p.exited:
		// The leader is gone; anything it left in its group goes too.
		p.Signal(syscall.SIGKILL)
		return
	default:
	}
	p.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.exited:
	case <-t.C:
	}
	p.Signal(syscall.SIGKILL)
	<-p.exited
}

var (
	spawnOnce sync.Once
	spawnReqs chan spawnRequest
)

type spawnRequest struct {
	cmd  *exec.Cmd
	done chan error
}

// spawn starts cmd from the spawner thread.
func spawn(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnReqs = make(chan spawnRequest)
		go func() {
			// Never unlocked: the thread lives as long as the process.
			runtime.LockOSThread()
			for r := range spawnReqs {
				r.done <- r.cmd.Start()
			}
		}()
	})
	done := make(chan error, 1)
	spawnReqs <- spawnRequest{cmd: cmd, done: done}
	if err := <-done; err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return fmt.Errorf("starting %s: %w", cmd.Path, pe.Err)
		}
		return fmt.Errorf("starting %s: %w", cmd.Path, err)
	}
	return nil
}
