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
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"
)

const (
	// podIP is this machine's loopback address, where every program of the cluster
	// listens (PostgreSQL, Redis, the pods' ports behind their pod addresses).
	podIP = "127.0.0.1"
	// NodeName is the one node of the cluster, which the scheduler binds every pod to.
	NodeName = "localcluster"
	// AnnotationHostPorts records where a pod's container ports listen on this machine:
	// "http=127.0.0.1:41234,metrics=127.0.0.1:41235" (by name, or by number when
	// unnamed). The kubelet writes it before it starts the pod's containers.
	AnnotationHostPorts = "localcluster.storefront.dev/host-ports"
	// kubeletManager is the field manager of the kubelet stand-in's writes.
	kubeletManager = "kubelet"
	// plegRelistPeriod is how often the kubelet notices containers that started or
	// exited (genericPlegRelistPeriod in pkg/kubelet/kubelet.go).
	plegRelistPeriod = time.Second
	// syncRetryPeriod is how long the kubelet waits before it tries again to start a
	// pod whose sync failed (backOffPeriod in pkg/kubelet/kubelet.go): a missing Secret
	// of the environment, say.
	syncRetryPeriod = 10 * time.Second
)

// kubelet plays the kubelet of NodeName: it runs the containers of the pods the
// scheduler binds to the node as local processes (pod.go, container.go), with their
// probes (probe.go), volumes (volumes.go), security context and termination, and
// reports them in the Pod objects' status as the real kubelet does. It creates no pods
// of its own: the Deployment, ReplicaSet and Job controllers of kube-controller-manager
// do.
type kubelet struct {
	client   client.Client
	reader   client.Reader
	images   Images
	caFile   string
	dir      string
	net      *podNetwork
	recorder recorder.EventRecorder
	log      logr.Logger
	// restartBackoff is the CrashLoopBackOff's first delay (10 s) and maxBackoff its
	// cap (300 s); the kubelet's defaults, pkg/kubelet/kubelet.go.
	restartBackoff, maxBackoff time.Duration
	// uid and gid are this process's: containers run as them unless their security
	// context asks for others, which only root can grant.
	uid, gid int

	relist *ticker
	// finished carries the pods whose workers ended back to Reconcile.
	finished chan event.GenericEvent

	mu      sync.Mutex
	workers map[types.UID]*podWorker
	wg      sync.WaitGroup
	// stopping is set when the whole cluster stops: pods then write no status.
	stopping atomic.Bool
	// podIdentity, when set, changes the pods it admits as EKS Pod Identity does
	// (podidentity.go).
	podIdentity *podIdentity
}

func newKubelet(c client.Client, reader client.Reader, images Images, caFile, dir string, rec recorder.EventRecorder, log logr.Logger) *kubelet {
	return &kubelet{
		client: c, reader: reader, images: images, caFile: caFile, dir: dir, net: newPodNetwork(),
		recorder: rec, log: log, restartBackoff: 10 * time.Second, maxBackoff: 300 * time.Second,
		uid: os.Getuid(), gid: os.Getgid(), relist: newTicker(plegRelistPeriod), workers: map[types.UID]*podWorker{},
		finished: make(chan event.GenericEvent, 1024),
	}
}

// Reconcile is the kubelet's side of one Pod bound to the node: it starts a worker
// for a new pod, tells a running one of its deletion, and stops the processes of a pod
// whose object is gone.
func (k *kubelet) Reconcile(ctx context.Context, req reconcile.Request) (ctrl.Result, error) {
	pod := &corev1.Pod{}
	err := k.client.Get(ctx, req.NamespacedName, pod)
	if err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, err
	}
	gone := apierrors.IsNotFound(err)
	k.mu.Lock()
	var others []*podWorker
	var current *podWorker
	for _, w := range k.workers {
		if w.key != req.NamespacedName {
			continue
		}
		if !gone && w.uid == pod.UID {
			current = w
		} else {
			others = append(others, w)
		}
	}
	k.mu.Unlock()
	// A pod object deleted outright (or replaced by one of the same name): its
	// containers are killed without a status to write.
	for _, w := range others {
		w.forget()
	}
	if gone {
		return ctrl.Result{}, nil
	}
	if current != nil {
		current.observe(pod)
		return ctrl.Result{}, nil
	}
	switch {
	case pod.Spec.NodeName != NodeName:
		return ctrl.Result{}, nil
	case pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed:
		// A pod that finished before: nothing runs; a deletion only needs the object to go.
		if !pod.DeletionTimestamp.IsZero() {
			return ctrl.Result{}, k.deletePodObject(ctx, pod)
		}
		return ctrl.Result{}, nil
	}
	if k.stopping.Load() {
		return ctrl.Result{}, nil
	}
	mutate := k.podIdentity.mutator(pod)
	admitted := pod
	if mutate != nil {
		admitted = mutate(pod)
	}
	w := newPodWorker(k, admitted)
	w.mutate = mutate
	w.observe(pod)
	k.mu.Lock()
	k.workers[pod.UID] = w
	k.mu.Unlock()
	k.wg.Add(1)
	go func() {
		defer k.wg.Done()
		w.run()
		k.mu.Lock()
		delete(k.workers, w.uid)
		k.mu.Unlock()
		// A deletion that came while the pod finished is handled now.
		if !k.stopping.Load() {
			select {
			case k.finished <- event.GenericEvent{Object: pod}:
			default:
			}
		}
	}()
	return ctrl.Result{}, nil
}

// deletePodObject completes a graceful deletion once nothing of the pod runs: the
// status manager deletes with grace period 0 and the UID as precondition
// (pkg/kubelet/status/status_manager.go: syncPod).
func (k *kubelet) deletePodObject(ctx context.Context, pod *corev1.Pod) error {
	err := k.client.Delete(ctx, pod, client.GracePeriodSeconds(0), client.Preconditions{UID: &pod.UID})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return err
	}
	return nil
}

// allWorkers are the pods the kubelet runs.
func (k *kubelet) allWorkers() []*podWorker {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]*podWorker, 0, len(k.workers))
	for _, w := range k.workers {
		out = append(out, w)
	}
	return out
}

// StopAll kills every pod's containers (SIGTERM, then SIGKILL after grace) without
// writing their status, as when the node goes away, and waits for them.
func (k *kubelet) StopAll(grace time.Duration) {
	k.stopping.Store(true)
	k.mu.Lock()
	workers := make([]*podWorker, 0, len(k.workers))
	for _, w := range k.workers {
		workers = append(workers, w)
	}
	k.mu.Unlock()
	for _, w := range workers {
		w.shutdown(grace)
	}
	k.wg.Wait()
	k.relist.Stop()
}

// ticker is a periodic tick that many may wait for: Next is closed at the next one.
type ticker struct {
	mu   sync.Mutex
	next chan struct{}
	stop chan struct{}
}

func newTicker(period time.Duration) *ticker {
	t := &ticker{next: make(chan struct{}), stop: make(chan struct{})}
	go func() {
		tk := time.NewTicker(period)
		defer tk.Stop()
		for {
			select {
			case <-t.stop:
				return
			case <-tk.C:
			}
			t.mu.Lock()
			close(t.next)
			t.next = make(chan struct{})
			t.mu.Unlock()
		}
	}()
	return t
}

// Next is closed at the next tick.
func (t *ticker) Next() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.next
}

func (t *ticker) Stop() {
	select {
	case <-t.stop:
	default:
		close(t.stop)
	}
}
