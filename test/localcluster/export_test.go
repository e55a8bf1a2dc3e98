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

import "k8s.io/apimachinery/pkg/types"

// ControlPlanePIDs are the kube-apiserver and etcd processes of the cluster, for tests
// that check none outlives it.
func (c *Cluster) ControlPlanePIDs() []string {
	return childrenIn(c.env.BinaryAssetsDirectory)
}

// TempDirs are the directories the cluster removes when it stops: its own and envtest's.
func (c *Cluster) TempDirs() []string {
	return []string{c.dir, c.guard.dir, c.env.ControlPlane.APIServer.CertDir, c.env.ControlPlane.Etcd.DataDir}
}

// HealthyTargets is how many targets of the Ingress namespace/name's load balancer are
// healthy, over all its target groups.
func (c *Cluster) HealthyTargets(namespace, name string) int {
	c.alb.mu.Lock()
	lb := c.alb.lbs[types.NamespacedName{Namespace: namespace, Name: name}]
	c.alb.mu.Unlock()
	if lb == nil {
		return 0
	}
	lb.mu.RLock()
	defer lb.mu.RUnlock()
	n := 0
	for _, tg := range lb.targetGroups {
		for _, s := range tg.States() {
			if s == targetHealthy {
				n++
			}
		}
	}
	return n
}
