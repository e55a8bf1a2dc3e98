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
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/storefront-operator/storefront/test/testenv"
)

// PodCIDR is the node's pod network: every pod gets an address of it, as a CNI plugin
// would hand out. The API server refuses loopback addresses in EndpointSlices
// (ValidateEndpointIP in pkg/apis/core/validation), so pods cannot simply be 127.0.0.1.
const PodCIDR = "10.244.0.0/16"

// unreachableDialTimeout bounds a dial to a pod address nobody holds when the caller
// set no deadline (Linux gives up on a SYN after about two minutes).
const unreachableDialTimeout = 2 * time.Minute

// podNetwork stands in for the pod network of a CNI plugin: it gives each pod an
// address of PodCIDR and each of the pod's declared container ports a free port on
// 127.0.0.1, where the container's program is told to listen (see pod.go). Nothing on
// this machine routes PodCIDR: the cluster's own clients (probes, the ALB stand-in)
// reach a pod address through Dial, which maps it onto the loopback port. A port that
// no container declares is not reachable, and neither is a pod address after the pod
// is gone (no route to host).
type podNetwork struct {
	prefix netip.Prefix

	mu   sync.Mutex
	next netip.Addr
	used map[netip.Addr]types.UID
	// ports maps podIP:containerPort to 127.0.0.1:hostPort.
	ports map[netip.AddrPort]netip.AddrPort
}

func newPodNetwork() *podNetwork {
	p := netip.MustParsePrefix(PodCIDR)
	return &podNetwork{prefix: p, next: p.Addr().Next(), used: map[netip.Addr]types.UID{}, ports: map[netip.AddrPort]netip.AddrPort{}}
}

// Allocate gives the pod uid an address and maps each of ports (the container ports
// the pod declares) to a free loopback port, which it returns by container port.
func (n *podNetwork) Allocate(uid types.UID, ports []int32) (netip.Addr, map[int32]int32, error) {
	host := map[int32]int32{}
	for _, p := range ports {
		if _, dup := host[p]; dup {
			continue
		}
		free, err := testenv.FreePort()
		if err != nil {
			return netip.Addr{}, nil, err
		}
		host[p] = int32(free)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	// Like host-local IPAM: the next free address after the last one handed out, so
	// that an address is not reused at once.
	start := n.next
	for {
		ip := n.next
		n.next = ip.Next()
		if !n.prefix.Contains(n.next) || n.next == lastAddr(n.prefix) {
			n.next = n.prefix.Addr().Next()
		}
		if _, taken := n.used[ip]; !taken {
			n.used[ip] = uid
			for cp, hp := range host {
				n.ports[netip.AddrPortFrom(ip, uint16(cp))] = netip.AddrPortFrom(netip.MustParseAddr(podIP), uint16(hp))
			}
			return ip, host, nil
		}
		if n.next == start {
			return netip.Addr{}, nil, fmt.Errorf("the pod network %s is exhausted", n.prefix)
		}
	}
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	bits := 32 - p.Bits()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= 1<<bits - 1
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// Release frees the pod's address and its ports.
func (n *podNetwork) Release(ip netip.Addr) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.used, ip)
	for k := range n.ports {
		if k.Addr() == ip {
			delete(n.ports, k)
		}
	}
}

// Resolve maps a pod address "ip:port" to where it listens here; ok is false for an
// address outside the pod network, which is dialled as it is.
func (n *podNetwork) Resolve(addr string) (target string, ok bool, err error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", false, err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !n.prefix.Contains(ip) {
		return addr, false, nil
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return "", true, fmt.Errorf("port %q: %w", port, err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, live := n.used[ip]; !live {
		return "", true, &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: ip.AsSlice(), Port: int(p)}, Err: syscall.EHOSTUNREACH}
	}
	hp, declared := n.ports[netip.AddrPortFrom(ip, uint16(p))]
	if !declared {
		return "", true, &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: ip.AsSlice(), Port: int(p)}, Err: syscall.ECONNREFUSED}
	}
	return hp.String(), true, nil
}

// DialContext dials addr, a pod address through its loopback port. An address no
// pod holds answers nothing: the dial waits for ctx to end and times out, as a SYN to
// a torn-down pod sandbox does.
func (n *podNetwork) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	target, _, err := n.Resolve(addr)
	if errors.Is(err, syscall.EHOSTUNREACH) {
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, unreachableDialTimeout)
			defer cancel()
		}
		<-ctx.Done()
		return nil, &net.OpError{Op: "dial", Net: network, Err: os.ErrDeadlineExceeded}
	}
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	return d.DialContext(ctx, network, target)
}
