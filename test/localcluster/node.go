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
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

const (
	// nodeLeaseNamespace holds the nodes' heartbeat Leases.
	nodeLeaseNamespace = "kube-node-lease"
	// nodeLeaseDurationSeconds and nodeLeaseRenewInterval are the kubelet's defaults
	// (nodeLeaseDurationSeconds 40; renewed every quarter of it, pkg/kubelet/nodelease).
	nodeLeaseDurationSeconds = 40
	nodeLeaseRenewInterval   = 10 * time.Second
	// nodeStatusReportFrequency is how often the kubelet writes an unchanged node
	// status (nodeStatusReportFrequency, 5m).
	nodeStatusReportFrequency = 5 * time.Minute
	// maxPods is the kubelet's default maxPods.
	maxPods = 110
)

// desiredNode is the Node the kubelet registers: this machine's CPUs and memory as
// capacity and allocatable (the stand-in reserves nothing and enforces no limit), the
// node's pod CIDR, and the labels the kubelet sets on itself.
func desiredNode() *corev1.Node {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:              *resource.NewQuantity(int64(runtime.NumCPU()), resource.DecimalSI),
		corev1.ResourceMemory:           *resource.NewQuantity(memTotal(), resource.BinarySI),
		corev1.ResourcePods:             *resource.NewQuantity(maxPods, resource.DecimalSI),
		corev1.ResourceEphemeralStorage: *resource.NewQuantity(diskTotal(), resource.BinarySI),
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: NodeName,
			Labels: map[string]string{
				corev1.LabelHostname:   NodeName,
				corev1.LabelOSStable:   runtime.GOOS,
				corev1.LabelArchStable: runtime.GOARCH,
				// The lone node's zone, so that zone spreading has a domain to count.
				corev1.LabelTopologyZone:   "local-1a",
				corev1.LabelTopologyRegion: "local-1",
			},
		},
		Spec: corev1.NodeSpec{PodCIDR: PodCIDR, PodCIDRs: []string{PodCIDR}},
		Status: corev1.NodeStatus{
			Capacity:    capacity,
			Allocatable: capacity.DeepCopy(),
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeInternalIP, Address: podIP},
				{Type: corev1.NodeHostName, Address: NodeName},
			},
			NodeInfo: corev1.NodeSystemInfo{
				KubeletVersion:          "v1.37.2",
				ContainerRuntimeVersion: "localcluster://1",
				OperatingSystem:         runtime.GOOS,
				Architecture:            runtime.GOARCH,
				KernelVersion:           kernelRelease(),
				OSImage:                 "localcluster (processes on this machine)",
			},
		},
	}
}

// nodeConditions are the kubelet's conditions of a healthy node, with its reasons and
// messages (pkg/kubelet/nodestatus/setters.go: ReadyCondition, MemoryPressureCondition,
// DiskPressureCondition, PIDPressureCondition).
func nodeConditions(now metav1.Time) []corev1.NodeCondition {
	c := func(t corev1.NodeConditionType, s corev1.ConditionStatus, reason, msg string) corev1.NodeCondition {
		return corev1.NodeCondition{Type: t, Status: s, Reason: reason, Message: msg, LastHeartbeatTime: now, LastTransitionTime: now}
	}
	return []corev1.NodeCondition{
		c(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
		c(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
		c(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
		c(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady", "kubelet is posting ready status"),
	}
}

// registerNode creates (or takes over) the Node and its Lease, as the kubelet
// registers itself with the API server.
func registerNode(ctx context.Context, c client.Client) error {
	node := desiredNode()
	status := node.Status
	if err := c.Create(ctx, node); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("registering node %s: %w", NodeName, err)
	}
	if err := c.Get(ctx, client.ObjectKey{Name: NodeName}, node); err != nil {
		return err
	}
	node.Status = status
	node.Status.Conditions = nodeConditions(metav1.Now())
	if err := c.Status().Update(ctx, node); err != nil {
		return fmt.Errorf("writing the status of node %s: %w", NodeName, err)
	}
	return renewLease(ctx, c, node)
}

// renewLease creates or renews the node's heartbeat Lease, owned by the Node as the
// kubelet's is (pkg/kubelet/nodelease: newLease).
func renewLease(ctx context.Context, c client.Client, node *corev1.Node) error {
	now := metav1.NewMicroTime(time.Now())
	lease := &coordinationv1.Lease{}
	err := c.Get(ctx, client.ObjectKey{Namespace: nodeLeaseNamespace, Name: NodeName}, lease)
	if apierrors.IsNotFound(err) {
		lease = &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{
				Namespace: nodeLeaseNamespace, Name: NodeName,
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID}},
			},
			Spec: coordinationv1.LeaseSpec{
				HolderIdentity: ptr.To(NodeName), LeaseDurationSeconds: ptr.To[int32](nodeLeaseDurationSeconds), RenewTime: &now,
			},
		}
		return c.Create(ctx, lease)
	}
	if err != nil {
		return err
	}
	lease.Spec.RenewTime = &now
	return c.Update(ctx, lease)
}

// heartbeat renews the Lease every 10 s and rewrites the node's conditions every 5
// minutes, until ctx ends.
func heartbeat(ctx context.Context, c client.Client, onError func(error)) {
	renew := time.NewTicker(nodeLeaseRenewInterval)
	defer renew.Stop()
	lastReport := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-renew.C:
		}
		node := &corev1.Node{}
		if err := c.Get(ctx, client.ObjectKey{Name: NodeName}, node); err != nil {
			if ctx.Err() == nil {
				onError(err)
			}
			continue
		}
		if err := renewLease(ctx, c, node); err != nil && ctx.Err() == nil {
			onError(fmt.Errorf("renewing the node lease: %w", err))
		}
		if time.Since(lastReport) >= nodeStatusReportFrequency {
			now := metav1.Now()
			for i := range node.Status.Conditions {
				node.Status.Conditions[i].LastHeartbeatTime = now
			}
			if err := c.Status().Update(ctx, node); err != nil && ctx.Err() == nil {
				onError(fmt.Errorf("reporting the node status: %w", err))
			}
			lastReport = time.Now()
		}
	}
}

// memTotal is this machine's memory in bytes (MemTotal of /proc/meminfo).
func memTotal() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 4 << 30
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 4 << 30
}

// diskTotal is the size of the filesystem holding the temporary directory.
func diskTotal() int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(os.TempDir(), &st); err != nil {
		return 10 << 30
	}
	return int64(st.Blocks) * st.Bsize
}

func kernelRelease() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
