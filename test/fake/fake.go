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
	"errors"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/source"
)

// JobOutcome is what the Job stand-in makes of a Job.
type JobOutcome int

const (
	// JobSucceeds: the Job runs, then completes.
	JobSucceeds JobOutcome = iota
	// JobFails: the Job runs, then fails with BackoffLimitExceeded.
	JobFails
	// JobRuns: the Job runs and stays running until the outcome of its image changes.
	JobRuns
)

// Options configure the stand-ins. Knobs can also be changed while they run, through
// the StandIns methods.
type Options struct {
	// Namespaces limits the stand-ins to these namespaces; empty means all.
	Namespaces []string
	// JobOutcome is the outcome of Jobs whose image has none set with SetJobOutcome.
	JobOutcome JobOutcome
	// RolloutsStuck makes every new Deployment generation exceed its progress deadline.
	RolloutsStuck bool
	// RolloutsHeld makes the Deployment stand-in write no status at all, as a
	// Deployment controller that has not caught up yet: status.observedGeneration stays
	// behind metadata.generation.
	RolloutsHeld bool
	// HPAReplicas is the replica count the HPA stand-in recommends, clamped to each
	// HPA's bounds; 0 means minReplicas.
	HPAReplicas int32
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// ACKDelay is how long the ACK stand-in's resources stay creating, modifying or
	// deleting before they are available or gone (AWS takes minutes). Zero: one pass.
	ACKDelay time.Duration
	// ACKRetry is how soon the ACK stand-in retries what AWS refused (a missing subnet
	// group, a cluster that still has instances); zero: 1s.
	ACKRetry time.Duration
	// AWSAccount is the account and default region of the ACK stand-in;
	// DefaultAWSAccount when empty.
	AWSAccount AWSAccount
	// Provisioner puts real resources behind the ACK objects (test/localcluster's
	// servers); nil: status only, with made-up endpoints.
	Provisioner Provisioner
}

// StandIns are running stand-ins for the Job, Deployment and HPA controllers.
type StandIns struct {
	client client.Client
	// apiReader reads past the cache, as ACK reads the Secrets it is given.
	apiReader client.Reader
	now       func() time.Time
	acct      AWSAccount
	ackDelay  time.Duration
	ackRetry  time.Duration
	prov      Provisioner

	mu            sync.Mutex
	defaultJob    JobOutcome
	jobByImage    map[string]JobOutcome
	rolloutsStuck bool
	rolloutsHeld  bool
	hpaReplicas   int32
	ack           ackMemory

	jobEvents, deploymentEvents, hpaEvents chan event.GenericEvent
	done                                   chan error
}

// Start runs the stand-ins against the API server of cfg in a manager of their own, so
// that the operator under test can be stopped and started independently. It returns once
// their caches are synced; they stop when ctx is cancelled (Wait waits for that).
func Start(ctx context.Context, cfg *rest.Config, opts Options) (*StandIns, error) {
	s := newStandIns(opts)
	s.jobEvents = make(chan event.GenericEvent, 1024)
	s.deploymentEvents = make(chan event.GenericEvent, 1024)
	s.hpaEvents = make(chan event.GenericEvent, 1024)
	cacheOpts := cache.Options{}
	if len(opts.Namespaces) > 0 {
		cacheOpts.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range opts.Namespaces {
			cacheOpts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 newScheme(),
		Cache:                  cacheOpts,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// Several suites, and several stand-ins in one suite, register the same names.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return nil, fmt.Errorf("creating the stand-ins' manager: %w", err)
	}
	s.client = mgr.GetClient()
	s.apiReader = mgr.GetAPIReader()
	if err := s.setup(mgr); err != nil {
		return nil, err
	}
	go func() { s.done <- mgr.Start(ctx) }()
	syncCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if !mgr.GetCache().WaitForCacheSync(syncCtx) {
		return nil, errors.New("the stand-ins' cache did not sync")
	}
	return s, nil
}

// SetupACK registers the ACK stand-in alone with mgr, a manager of the caller's
// (test/localcluster runs it next to its own Job and Deployment controllers), for the
// ACK kinds the API server serves. Of opts it uses Now, ACKDelay, ACKRetry, AWSAccount
// and Provisioner. Of the result only the ACK methods apply; the caller runs mgr.
func SetupACK(mgr manager.Manager, opts Options) (*StandIns, error) {
	s := newStandIns(opts)
	s.client = mgr.GetClient()
	s.apiReader = mgr.GetAPIReader()
	return s, s.setupACK(mgr)
}

func newStandIns(opts Options) *StandIns {
	s := &StandIns{
		now:           opts.Now,
		defaultJob:    opts.JobOutcome,
		jobByImage:    map[string]JobOutcome{},
		rolloutsStuck: opts.RolloutsStuck,
		rolloutsHeld:  opts.RolloutsHeld,
		hpaReplicas:   opts.HPAReplicas,
		done:          make(chan error, 1),
		acct:          opts.AWSAccount,
		ackDelay:      opts.ACKDelay,
		ackRetry:      opts.ACKRetry,
		prov:          opts.Provisioner,
		ack:           newACKMemory(),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.acct == (AWSAccount{}) {
		s.acct = DefaultAWSAccount
	}
	if s.ackRetry == 0 {
		s.ackRetry = retryAfter
	}
	return s
}

// Wait blocks until the stand-ins stopped after their context was cancelled.
func (s *StandIns) Wait() error {
	err := <-s.done
	s.done <- err
	return err
}

func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	_ = scheme.AddToScheme(s)
	return s
}

func (s *StandIns) setup(mgr manager.Manager) error {
	if err := ctrl.NewControllerManagedBy(mgr).Named("fake-job").
		For(&batchv1.Job{}).
		WatchesRawSource(source.Channel(s.jobEvents, &handler.EnqueueRequestForObject{})).
		Complete(&jobController{s}); err != nil {
		return fmt.Errorf("setting up the Job stand-in: %w", err)
	}
	if err := ctrl.NewControllerManagedBy(mgr).Named("fake-deployment").
		For(&appsv1.Deployment{}).
		WatchesRawSource(source.Channel(s.deploymentEvents, &handler.EnqueueRequestForObject{})).
		Complete(&deploymentController{s}); err != nil {
		return fmt.Errorf("setting up the Deployment stand-in: %w", err)
	}
	if err := ctrl.NewControllerManagedBy(mgr).Named("fake-hpa").
		For(&autoscalingv2.HorizontalPodAutoscaler{}).
		Watches(&appsv1.Deployment{}, handler.EnqueueRequestsFromMapFunc(s.hpasTargeting)).
		WatchesRawSource(source.Channel(s.hpaEvents, &handler.EnqueueRequestForObject{})).
		Complete(&hpaController{s}); err != nil {
		return fmt.Errorf("setting up the HPA stand-in: %w", err)
	}
	return s.setupACK(mgr)
}

// SetJobOutcome sets the outcome of the Jobs of image; Jobs still running are
// reconsidered at once.
func (s *StandIns) SetJobOutcome(image string, o JobOutcome) {
	s.mu.Lock()
	s.jobByImage[image] = o
	s.mu.Unlock()
	s.requeueAll(context.Background(), &batchv1.JobList{}, s.jobEvents)
}

// SetDefaultJobOutcome sets the outcome of Jobs whose image has none of its own.
func (s *StandIns) SetDefaultJobOutcome(o JobOutcome) {
	s.mu.Lock()
	s.defaultJob = o
	s.mu.Unlock()
	s.requeueAll(context.Background(), &batchv1.JobList{}, s.jobEvents)
}

// SetRolloutsStuck makes new Deployment generations exceed their progress deadline (or
// roll out again, when false); Deployments are reconsidered at once.
func (s *StandIns) SetRolloutsStuck(stuck bool) {
	s.mu.Lock()
	s.rolloutsStuck = stuck
	s.mu.Unlock()
	s.requeueAll(context.Background(), &appsv1.DeploymentList{}, s.deploymentEvents)
}

// SetRolloutsHeld stops (true) or resumes (false) the Deployment stand-in's status
// writes; Deployments are reconsidered at once.
func (s *StandIns) SetRolloutsHeld(held bool) {
	s.mu.Lock()
	s.rolloutsHeld = held
	s.mu.Unlock()
	s.requeueAll(context.Background(), &appsv1.DeploymentList{}, s.deploymentEvents)
}

// SetHPAReplicas sets the replica count the HPA stand-in recommends (0: minReplicas).
func (s *StandIns) SetHPAReplicas(n int32) {
	s.mu.Lock()
	s.hpaReplicas = n
	s.mu.Unlock()
	s.requeueAll(context.Background(), &autoscalingv2.HorizontalPodAutoscalerList{}, s.hpaEvents)
}

func (s *StandIns) jobOutcome(image string) JobOutcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o, ok := s.jobByImage[image]; ok {
		return o
	}
	return s.defaultJob
}

func (s *StandIns) rollouts() (stuck, held bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rolloutsStuck, s.rolloutsHeld
}

func (s *StandIns) recommendedReplicas() int32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hpaReplicas
}

// requeueAll sends every cached object of list's kind to a controller's channel.
func (s *StandIns) requeueAll(ctx context.Context, list client.ObjectList, ch chan<- event.GenericEvent) {
	if ch == nil {
		return // SetupACK's stand-ins have no such controller
	}
	if err := s.client.List(ctx, list); err != nil {
		return
	}
	items, err := apimeta.ExtractList(list)
	if err != nil {
		return
	}
	for _, item := range items {
		if obj, ok := item.(client.Object); ok {
			ch <- event.GenericEvent{Object: obj}
		}
	}
}
