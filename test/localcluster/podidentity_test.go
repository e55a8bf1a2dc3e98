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

package localcluster_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/storefront-operator/storefront/test/localcluster"
)

// credentialsJob runs script as the ServiceAccount sa.
func credentialsJob(ns, name, sa, script string) *batchv1.Job {
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: batchv1.JobSpec{
			BackoffLimit: ptr.To[int32](0),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever, ServiceAccountName: sa,
				Containers: []corev1.Container{{Name: "main", Image: "docker.io/library/busybox:1.37",
					Command: []string{"sh", "-c", script + " || exit 9"}}},
			}},
		},
	}
}

// A pod whose ServiceAccount has a Pod Identity association gets what EKS gives it
// (https://docs.aws.amazon.com/eks/latest/userguide/pod-id-how-it-works.html): the token
// file and the agent's URL, and the agent answers the token with the role's
// credentials in the container credential provider's JSON; without the token it
// answers 400. A pod of another ServiceAccount gets neither variable. Both get the S3
// stand-in's endpoint and the region.
func TestPodIdentityGivesAnAssociatedPodItsRoleCredentials(t *testing.T) {
	g := NewWithT(t)
	ns := namespace(t)
	const role = "arn:aws:iam::123456789012:role/shop-images"
	create(t, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shop"}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "other"}})
	cluster.AssociatePodIdentity(ns, "shop", role)
	create(t, credentialsJob(ns, "creds", "shop", `set -e
test -s "$AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"
case "$AWS_CONTAINER_CREDENTIALS_FULL_URI" in http://127.0.0.1:*/v1/credentials) ;; *) exit 7;; esac
test "$(curl -s -o /dev/null -w '%{http_code}' "$AWS_CONTAINER_CREDENTIALS_FULL_URI")" = 400
echo "region=$AWS_REGION/$AWS_DEFAULT_REGION s3=$AWS_ENDPOINT_URL_S3"
echo "creds=$(curl -sf -H "Authorization: $(cat "$AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")" "$AWS_CONTAINER_CREDENTIALS_FULL_URI")"`),
		credentialsJob(ns, "none", "other", `set -e
test -z "$AWS_CONTAINER_CREDENTIALS_FULL_URI"
test -z "$AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"
test -n "$AWS_ENDPOINT_URL_S3"
echo no credentials`))
	for _, job := range []string{"creds", "none"} {
		g.Eventually(jobCondition(ns, job, batchv1.JobComplete), time.Minute, 50*time.Millisecond).Should(Equal("CompletionsReached"), job)
	}
	pods := jobPods(t, ns, "creds")
	g.Expect(pods).To(HaveLen(1))
	out := logOf(t, "pod "+ns+"/"+pods[0].Name)
	g.Expect(out).To(MatchRegexp(`region=eu-west-1/eu-west-1 s3=http://127\.0\.0\.1:\d+`))
	line := out[strings.Index(out, "creds=")+len("creds="):]
	line, _, _ = strings.Cut(line, "\n")
	var creds map[string]string
	g.Expect(json.Unmarshal([]byte(line), &creds)).To(Succeed(), line)
	g.Expect(creds).To(HaveKeyWithValue("AccountId", "123456789012"))
	g.Expect(creds["AccessKeyId"]).To(MatchRegexp(`^ASIA[0-9A-F]{16}$`))
	g.Expect(creds["SecretAccessKey"]).NotTo(BeEmpty())
	g.Expect(creds["Token"]).NotTo(BeEmpty())
	exp, err := time.Parse(time.RFC3339, creds["Expiration"])
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(exp).To(BeTemporally(">", time.Now()))
	g.Expect(cluster.IssuedCredentials()).To(ContainElement(localcluster.IssuedCredentials{
		AccessKeyID: creds["AccessKeyId"], RoleARN: role, Namespace: ns, ServiceAccount: "shop", Pod: pods[0].Name}))
	// The Pod object keeps its spec: the change is the kubelet's, at admission.
	g.Expect(pods[0].Spec.Containers[0].Env).To(BeEmpty())
}
