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

// Command storefront-operator runs the Storefront controller: flags in, controllers.Setup,
// nothing else.
package main

import (
	"context"
	"flag"
	"net"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/otel"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
	"github.com/storefront-operator/storefront/controllers"
)

// version is set at build time (-ldflags -X main.version=...).
var version = "dev"

func main() {
	var (
		metricsAddr, probeAddr, watchNamespaces                string
		dbSubnets, dbSGs, cacheSubnets, cacheSGs, ingressCIDRs string
		dbCIDRs, cacheCIDRs, imagesCIDRs                       string
		leaderElect                                            bool
		opts                                                   controllers.Options
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8080", "Address the metrics endpoint binds to; 0 disables it.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Address the health and readiness probes bind to.")
	flag.BoolVar(&leaderElect, "leader-elect", false, "Elect a leader so that only one replica reconciles at a time.")
	flag.StringVar(&watchNamespaces, "watch-namespaces", "", "Comma-separated namespaces to watch; empty watches all.")
	flag.StringVar(&opts.AWSRegion, "aws-region", "", "AWS region written as the services.k8s.aws/region annotation on ACK objects.")
	flag.StringVar(&opts.ClusterName, "cluster-name", "", "Name of this Kubernetes cluster, tagged as storefront.dev/cluster on every AWS resource created through ACK (cost allocation).")
	flag.StringVar(&opts.ImagesRoleARN, "images-role-arn", "", "IAM role ARN put on the ServiceAccount of shops with spec.images.bucket (IRSA: eks.amazonaws.com/role-arn).")
	flag.StringVar(&imagesCIDRs, "images-cidrs", "", "Comma-separated CIDRs at which shops with spec.images.bucket reach S3 and STS over HTTPS (VPC endpoints, or AWS's ranges of the region): their only egress on 443 (empty: any address).")
	flag.StringVar(&dbSubnets, "db-subnet-ids", "", "Comma-separated default subnet IDs for Aurora DB subnet groups.")
	flag.StringVar(&dbSGs, "db-security-group-ids", "", "Comma-separated default security group IDs for Aurora clusters.")
	flag.StringVar(&cacheSubnets, "cache-subnet-ids", "", "Comma-separated default subnet IDs for ElastiCache Serverless.")
	flag.StringVar(&cacheSGs, "cache-security-group-ids", "", "Comma-separated default security group IDs for ElastiCache Serverless.")
	flag.StringVar(&opts.IngressNamespace, "ingress-namespace", "", "Namespace of the ingress controller allowed to reach the shop port.")
	flag.StringVar(&ingressCIDRs, "ingress-cidrs", "", "Comma-separated CIDRs allowed to reach the shop port (the public subnets, for an ALB in IP mode).")
	flag.StringVar(&dbCIDRs, "db-cidrs", "", "Comma-separated CIDRs of the database subnets: the only egress the shops get on the Aurora port (empty: any address).")
	flag.StringVar(&cacheCIDRs, "cache-cidrs", "", "Comma-separated CIDRs of the cache subnets: the only egress the shops get on the ElastiCache port (empty: any address).")
	flag.StringVar(&opts.MetricsNamespace, "metrics-namespace", "", "Namespace allowed to scrape the shop's metrics port.")
	flag.IntVar(&opts.MaxConcurrentReconciles, "max-concurrent-reconciles", 4, "Storefronts reconciled in parallel.")
	flag.StringVar(&opts.OTLP.Endpoint, "otlp-endpoint", "", "OpenTelemetry collector URL for the shops without spec.observability.otlp.endpoint, and for the operator's traces when OTEL_EXPORTER_OTLP_ENDPOINT is unset; empty: no traces.")
	flag.StringVar(&opts.OTLP.Protocol, "otlp-protocol", "http/protobuf", "OTLP protocol of --otlp-endpoint: http/protobuf or grpc.")
	flag.StringVar(&opts.OTLP.SamplingRatio, "otlp-sampling-ratio", "0.1", "Share of new traces kept (parentbased_traceidratio), from 0 to 1, for the shops and the operator.")
	flag.StringVar(&opts.OTLP.Namespace, "otlp-namespace", "", "Namespace of the OpenTelemetry collector: the shops' only egress on its port (empty: any address).")
	zapOpts := zap.Options{Development: false}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()

	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	setupLog := ctrl.Log.WithName("setup")

	opts.DBSubnetIDs = splitList(dbSubnets)
	opts.DBSecurityGroupIDs = splitList(dbSGs)
	opts.CacheSubnetIDs = splitList(cacheSubnets)
	opts.CacheSecurityGroupIDs = splitList(cacheSGs)
	opts.IngressCIDRs = splitList(ingressCIDRs)
	opts.DBCIDRs = splitList(dbCIDRs)
	opts.CacheCIDRs = splitList(cacheCIDRs)
	opts.ImagesCIDRs = splitList(imagesCIDRs)
	for flagName, cidrs := range map[string][]string{"ingress-cidrs": opts.IngressCIDRs, "db-cidrs": opts.DBCIDRs, "cache-cidrs": opts.CacheCIDRs, "images-cidrs": opts.ImagesCIDRs} {
		for _, c := range cidrs {
			// A NetworkPolicy with a bad ipBlock would be refused for every shop.
			if _, _, err := net.ParseCIDR(c); err != nil {
				setupLog.Error(err, "Invalid flag value", "flag", "--"+flagName, "value", c)
				os.Exit(2)
			}
		}
	}

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(shopv1alpha1.AddToScheme(scheme))

	// The cache holds only what the operator owns, in the watched namespaces.
	opts.WatchNamespaces = splitList(watchNamespaces)
	cacheOpts := controllers.CacheOptions(opts.WatchNamespaces)

	restCfg := ctrl.GetConfigOrDie()
	restCfg.QPS, restCfg.Burst = controllers.ClientQPS, controllers.ClientBurst
	mgr, err := ctrl.NewManager(restCfg, ctrl.Options{
		Scheme:                        scheme,
		Metrics:                       metricsserver.Options{BindAddress: metricsAddr},
		HealthProbeBindAddress:        probeAddr,
		LeaderElection:                leaderElect,
		LeaderElectionID:              "storefront-operator.shop.storefront.dev",
		LeaderElectionReleaseOnCancel: true,
		Cache:                         cacheOpts,
	})
	if err != nil {
		setupLog.Error(err, "Unable to create manager")
		os.Exit(1)
	}
	if err := controllers.Setup(mgr, opts); err != nil {
		setupLog.Error(err, "Unable to set up controllers")
		os.Exit(1)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		setupLog.Error(err, "Unable to set up health check")
		os.Exit(1)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		setupLog.Error(err, "Unable to set up ready check")
		os.Exit(1)
	}

	ctx := ctrl.SetupSignalHandler()
	tp, err := controllers.SetupTracing(ctx, os.Getenv, opts.OTLP, version)
	if err != nil {
		setupLog.Error(err, "Unable to set up tracing")
		os.Exit(2)
	}
	if tp != nil {
		otel.SetTracerProvider(tp)
	}
	setupLog.Info("Starting manager", "version", version, "tracing", tp != nil)
	err = mgr.Start(ctx)
	if tp != nil {
		// Flush the last reconciles' spans; a collector that does not answer costs at most this.
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if serr := tp.Shutdown(sctx); serr != nil {
			setupLog.Error(serr, "Flushing traces")
		}
		cancel()
	}
	if err != nil {
		setupLog.Error(err, "Manager exited")
		os.Exit(1)
	}
}

// splitList parses a comma-separated flag value, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
