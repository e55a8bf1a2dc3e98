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
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
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
	// DeploymentDelay is how long each step of a rollout or a scale takes before the
	// Deployment stand-in reports it (the controller's reaction, pods created, pods
	// ready); 0 means DefaultDeploymentDelay, a negative value no delay at all.
	DeploymentDelay time.Duration
	// HPAReplicas is the replica count the HPA stand-in recommends, clamped to each
	// HPA's bounds; 0 means minReplicas.
	HPAReplicas int32
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// ACKDelay is how long the stand-in's AWS takes to create, modify and delete a
	// resource (minutes, in AWS). A DB subnet group changes at once.
	ACKDelay time.Duration
	// ACKRetry stands for requeue.DefaultRequeueAfterDuration, the 30 seconds after
	// which the ACK runtime looks again at a resource that is not synced; the
	// controllers' other requeue durations (5s, 10s) are scaled alike, and
	// controller-runtime's backoff after errors is capped at it. Zero: 1s.
	ACKRetry time.Duration
	// ACKResync is the runtime's resync period of a synced resource (10 hours by
	// default, which the stand-in keeps when this is zero).
	ACKResync time.Duration
	// AWSAccount is the account and default region of the ACK stand-in;
	// DefaultAWSAccount when empty.
	AWSAccount AWSAccount
	// Provisioner puts real servers behind the stand-in's AWS (test/localcluster);
	// nil: status only, with made-up endpoints.
	Provisioner Provisioner
}

// DefaultDeploymentDelay is the Deployment stand-in's delay per step when Options leave
// it zero.
const DefaultDeploymentDelay = 100 * time.Millisecond

// StandIns are running stand-ins for the Job, Deployment and HPA controllers and
// ACK's controllers, with the AWS behind them.
type StandIns struct {
	client client.Client
	// apiReader reads past the cache, as ACK reads its objects and the Secrets it is
	// given.
	apiReader       client.Reader
	now             func() time.Time
	acct            AWSAccount
	ackRetry        time.Duration
	ackResync       time.Duration
	deploymentDelay time.Duration
	aws             *AWS

	mu            sync.Mutex
	defaultJob    JobOutcome
	jobByImage    map[string]JobOutcome
	rolloutsStuck bool
	rolloutsHeld  bool
	hpaReplicas   int32
	deletions     []ACKDeletion

	jobEvents, deploymentEvents, hpaEvents chan event.GenericEvent
	done                                   chan error
}

// ACKDeletion records one ACK object the ACK stand-in let go of, in the order it did.
type ACKDeletion struct {
	Kind, Namespace, Name string
	// Resource is the AWS resource the object stood for.
	Resource AWSKey
	// Policy is the deletion policy it followed: delete or retain (any value of the
	// annotation but delete retains).
	Policy string
	// FinalSnapshot is the final snapshot a DB cluster's deletion asked for, "" when none.
	FinalSnapshot string
	// Requested is when the stand-in first saw the object deleted; Released when it
	// removed its finalizer (for delete: once AWS accepted the call; AWS goes on
	// deleting, see AWS.Deletions).
	Requested, Released time.Time
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
// (test/localcluster runs it next to its own controllers), for the ACK kinds the API
// server serves. Of opts it uses Now, ACKDelay, ACKRetry, ACKResync, AWSAccount and
// Provisioner. Of the result only the ACK methods apply; the caller runs mgr.
func SetupACK(mgr manager.Manager, opts Options) (*StandIns, error) {
	s := newStandIns(opts)
	s.client = mgr.GetClient()
	s.apiReader = mgr.GetAPIReader()
	return s, s.setupACK(mgr)
}

func newStandIns(opts Options) *StandIns {
	s := &StandIns{
		now:             opts.Now,
		defaultJob:      opts.JobOutcome,
		jobByImage:      map[string]JobOutcome{},
		rolloutsStuck:   opts.RolloutsStuck,
		rolloutsHeld:    opts.RolloutsHeld,
		hpaReplicas:     opts.HPAReplicas,
		done:            make(chan error, 1),
		acct:            opts.AWSAccount,
		ackRetry:        opts.ACKRetry,
		ackResync:       opts.ACKResync,
		deploymentDelay: opts.DeploymentDelay,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.acct == (AWSAccount{}) {
		s.acct = DefaultAWSAccount
	}
	if s.ackRetry == 0 {
		s.ackRetry = time.Second
	}
	if s.ackResync == 0 {
		s.ackResync = defaultResyncPeriod
	}
	switch {
	case s.deploymentDelay == 0:
		s.deploymentDelay = DefaultDeploymentDelay
	case s.deploymentDelay < 0:
		s.deploymentDelay = 0
	}
	s.aws = NewAWS(s.now, opts.ACKDelay, opts.Provisioner)
	return s
}

// AWS is the stand-in's AWS, for tests to look into and to make refuse calls.
func (s *StandIns) AWS() *AWS { return s.aws }

// scaled is a requeue duration of the real controllers in the stand-in's time:
// requeue.DefaultRequeueAfterDuration (30s) becomes Options.ACKRetry, others in
// proportion.
func (s *StandIns) scaled(d time.Duration) time.Duration {
	return time.Duration(float64(s.ackRetry) * float64(d) / float64(defaultRequeueAfter))
}

// HoldACKDeletions makes the stand-in's AWS refuse (true) or accept again (false)
// every delete call, as AWS refuses to delete a resource in a state that does not
// allow it: ACK keeps the finalizer of an object deleted meanwhile and retries.
func (s *StandIns) HoldACKDeletions(hold bool) {
	s.aws.holdDeletes(hold)
}

// ACKDeletions lists the ACK objects the stand-in let go of, in order.
func (s *StandIns) ACKDeletions() []ACKDeletion {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ACKDeletion(nil), s.deletions...)
}

// Wait blocks until the stand-ins stopped after their context was cancelled.
func (s *StandIns) Wait() error {
	err := <-s.done
	s.done <- err
	s.closeCDN() // the S3 server and the distributions' proxies (ack_s3.go)
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
		Complete(&deploymentController{s: s, steps: map[types.UID]*deploymentChange{}}); err != nil {
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

// setupACK registers a reconciler per ACK kind the API server serves, as the
// runtime's BindControllerManager does: For the kind, with the generation-changed
// predicate (so a change of labels, annotations or status alone does not reconcile),
// and a runnable that gives the AWS its context.
func (s *StandIns) setupACK(mgr manager.Manager) error {
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		s.aws.run(ctx)
		<-ctx.Done()
		return nil
	})); err != nil {
		return err
	}
	for _, k := range ackManagers {
		gvk := k.gvk
		if _, err := mgr.GetRESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
			continue // no CRD, nothing to play
		}
		c := &ackController{s: s, gvk: gvk, rm: k.rm, manager: k.manager,
			failures: map[types.UID]int{}, requested: map[types.UID]time.Time{}}
		err := ctrl.NewControllerManagedBy(mgr).Named("fake-ack-" + gvk.Kind).
			For(newUnstructured(gvk)).
			WithEventFilter(predicate.GenerationChangedPredicate{}).
			// The controllers' default is one at a time (--reconcile-default-max-concurrent-syncs);
			// a fleet of objects goes faster with a few, and each object is still
			// reconciled by one worker at a time.
			WithOptions(controller.Options{MaxConcurrentReconciles: 4}).
			Complete(c)
		if err != nil {
			return fmt.Errorf("setting up the %s stand-in: %w", gvk.Kind, err)
		}
	}
	return nil
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
