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

// Command kubectl-storefront is the `kubectl storefront` plugin: it explains a
// Storefront's state and asks the operator for the operations the Storefront API
// offers. It is a thin client: every command reads objects or sets a spec field or an
// annotation, and the operator does the work.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	if err := newRootCommand(streams).Execute(); err != nil {
		// cobra printed nothing (SilenceErrors): the error goes out once, here.
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// plugin is what every command shares: the kubeconfig flags, the output format and the
// streams.
type plugin struct {
	flags   *genericclioptions.ConfigFlags
	streams genericiooptions.IOStreams
	output  string
}

const rootLong = `Explain and operate Storefronts (shop.storefront.dev/v1alpha1).

Every command is a thin client of the Storefront API: it reads objects, or sets a spec
field or an annotation the operator acts on.`

// newRootCommand builds `kubectl storefront` and its subcommands.
func newRootCommand(streams genericiooptions.IOStreams) *cobra.Command {
	p := &plugin{flags: genericclioptions.NewConfigFlags(true), streams: streams}
	root := &cobra.Command{
		Use:           "kubectl-storefront",
		Short:         "Explain and operate Storefronts",
		Long:          rootLong,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
		// kubectl shows plugins as "kubectl storefront".
		Annotations: map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl storefront"},
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	p.flags.AddFlags(root.PersistentFlags())
	root.PersistentFlags().StringVarP(&p.output, "output", "o", "", "output format: empty for text, or json")
	root.AddCommand(
		p.statusCommand(),
		p.retryMigrationCommand(),
		p.logsCommand(),
		p.rotatePasswordCommand(),
		p.hibernateCommand(true),
		p.hibernateCommand(false),
		p.snapshotCommand(),
		p.restoreCommand(),
	)
	return root
}

// clients returns a client for Storefronts and the core kinds, a clientset for pod
// logs, and the namespace of -n or the kubeconfig's context.
func (p *plugin) clients() (client.Client, kubernetes.Interface, string, error) {
	if p.output != "" && p.output != "json" {
		return nil, nil, "", fmt.Errorf("unknown output format %q: use -o json, or no -o for text", p.output)
	}
	cfg, err := p.flags.ToRESTConfig()
	if err != nil {
		return nil, nil, "", fmt.Errorf("reading kubeconfig: %w", err)
	}
	ns, _, err := p.flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil, nil, "", fmt.Errorf("reading the namespace from the kubeconfig: %w", err)
	}
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(shopv1alpha1.AddToScheme(scheme))
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, nil, "", fmt.Errorf("creating a client: %w", err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, "", fmt.Errorf("creating a clientset: %w", err)
	}
	return c, cs, ns, nil
}
