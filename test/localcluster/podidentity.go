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
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// EKS Pod Identity (https://docs.aws.amazon.com/eks/latest/userguide/pod-id-how-it-works.html),
// the way the shop's pods get AWS credentials with no key in a Secret:
//
//   - An association names a ServiceAccount and an IAM role (EKS's
//     CreatePodIdentityAssociation; here Cluster.AssociatePodIdentity).
//   - EKS mutates a pod whose ServiceAccount has one: a projected ServiceAccount
//     token for the audience pods.eks.amazonaws.com, mounted read-only at
//     /var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token, and
//     in each container AWS_CONTAINER_CREDENTIALS_FULL_URI (the agent,
//     http://169.254.170.23/v1/credentials) and AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
//     (that token). Here the kubelet stand-in makes the same change when it admits the
//     pod (the Pod object in the API keeps its spec), with the agent on loopback, which
//     the AWS SDKs' container credential provider accepts over plain HTTP as it accepts
//     169.254.170.23 (https://docs.aws.amazon.com/sdkref/latest/guide/feature-container-credentials.html).
//   - The Pod Identity Agent on the node answers GET /v1/credentials: it sends the
//     token from the Authorization header to EKS Auth (AssumeRoleForPodIdentity), which
//     validates it and returns the associated role's temporary credentials. Here a
//     TokenReview against the real API server (audience pods.eks.amazonaws.com) checks
//     the token, the association gives the role, and the credentials are made up and
//     remembered, so the S3 stand-in accepts writes signed with them and only them
//     (fake.StandIns.SetS3AccessKeys).
//
// The kubelet also gives every container AWS_ENDPOINT_URL_S3, the S3 stand-in (where
// S3's names would resolve), and AWS_REGION and AWS_DEFAULT_REGION, the cluster's
// region, unless the container sets them.
//
// Not reproduced: IAM (the role's policy is not evaluated: any issued key may write to
// any bucket), the session tags EKS adds, credential expiry and refresh (one hour is
// announced, nothing expires), IPv6 (fd00:ec2::23) and IRSA's web identity path.

const (
	// podIdentityAudience is the audience of the projected token, which EKS Auth accepts.
	podIdentityAudience = "pods.eks.amazonaws.com"
	// podIdentityVolume is the projected volume's name and its token's file name.
	podIdentityVolume = "eks-pod-identity-token"
	// podIdentityMountPath is where EKS mounts the token.
	podIdentityMountPath = "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount"
	// podIdentityTokenExpiry is the token's expirationSeconds as EKS sets it (one day).
	podIdentityTokenExpiry = int64(86400)
)

// IssuedCredentials are temporary credentials the Pod Identity Agent stand-in handed
// out.
type IssuedCredentials struct {
	AccessKeyID string
	// RoleARN is the associated role; Namespace and ServiceAccount whose token asked.
	RoleARN, Namespace, ServiceAccount string
	// Pod is the pod the token was bound to.
	Pod string
}

// podIdentity is the associations, the pod mutation and the agent.
type podIdentity struct {
	client     client.Client
	region     string
	s3Endpoint string
	listener   net.Listener
	server     *http.Server

	mu     sync.Mutex
	assocs map[types.NamespacedName]string // ServiceAccount: role ARN
	issued map[string]IssuedCredentials    // access key ID
}

func startPodIdentity(c client.Client, region, s3Endpoint string) (*podIdentity, error) {
	l, err := net.Listen("tcp", podIP+":0")
	if err != nil {
		return nil, fmt.Errorf("starting the Pod Identity Agent stand-in: %w", err)
	}
	p := &podIdentity{client: c, region: region, s3Endpoint: s3Endpoint, listener: l,
		assocs: map[types.NamespacedName]string{}, issued: map[string]IssuedCredentials{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/credentials", p.credentials)
	p.server = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.server.Serve(l) }()
	return p, nil
}

// url is AWS_CONTAINER_CREDENTIALS_FULL_URI.
func (p *podIdentity) url() string { return "http://" + p.listener.Addr().String() + "/v1/credentials" }

func (p *podIdentity) close() {
	if p != nil {
		_ = p.server.Close()
	}
}

func (p *podIdentity) associate(namespace, serviceAccount, roleARN string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.assocs[types.NamespacedName{Namespace: namespace, Name: serviceAccount}] = roleARN
}

func (p *podIdentity) roleOf(namespace, serviceAccount string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.assocs[types.NamespacedName{Namespace: namespace, Name: serviceAccount}]
}

// known reports whether the agent issued the access key ID.
func (p *podIdentity) known(accessKeyID string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.issued[accessKeyID]
	return ok
}

func (p *podIdentity) issuedCredentials() []IssuedCredentials {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]IssuedCredentials, 0, len(p.issued))
	for _, c := range p.issued {
		out = append(out, c)
	}
	return out
}

// mutator is the change made to a pod when the kubelet admits it: fixed then, as EKS's
// admission fixes it when the pod is created, and applied again to every later version
// of the Pod object the kubelet sees.
func (p *podIdentity) mutator(pod *corev1.Pod) func(*corev1.Pod) *corev1.Pod {
	if p == nil {
		return nil
	}
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	role := p.roleOf(pod.Namespace, sa)
	return func(in *corev1.Pod) *corev1.Pod {
		return p.mutate(in, role != "")
	}
}

// mutate returns pod with the environment every container gets here and, when
// associated, the Pod Identity token volume, mount and variables. A variable a
// container sets itself is left alone, as the EKS webhook leaves it.
func (p *podIdentity) mutate(in *corev1.Pod, associated bool) *corev1.Pod {
	pod := in.DeepCopy()
	env := []corev1.EnvVar{
		{Name: "AWS_ENDPOINT_URL_S3", Value: p.s3Endpoint},
		{Name: "AWS_REGION", Value: p.region},
		{Name: "AWS_DEFAULT_REGION", Value: p.region},
	}
	if associated {
		env = append(env,
			corev1.EnvVar{Name: "AWS_CONTAINER_CREDENTIALS_FULL_URI", Value: p.url()},
			corev1.EnvVar{Name: "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", Value: podIdentityMountPath + "/" + podIdentityVolume},
		)
		hasVolume := false
		for _, v := range pod.Spec.Volumes {
			hasVolume = hasVolume || v.Name == podIdentityVolume
		}
		if !hasVolume {
			pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: podIdentityVolume, VolumeSource: corev1.VolumeSource{
				Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
					Audience: podIdentityAudience, ExpirationSeconds: ptr.To(podIdentityTokenExpiry), Path: podIdentityVolume,
				}}}},
			}})
		}
	}
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		for _, e := range env {
			if !hasEnv(c, e.Name) {
				c.Env = append(c.Env, e)
			}
		}
		if associated && !hasMount(c, podIdentityVolume) {
			c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: podIdentityVolume, MountPath: podIdentityMountPath, ReadOnly: true})
		}
	}
	return pod
}

func hasEnv(c *corev1.Container, name string) bool {
	for _, e := range c.Env {
		if e.Name == name {
			return true
		}
	}
	return false
}

func hasMount(c *corev1.Container, volume string) bool {
	for _, m := range c.VolumeMounts {
		if m.Name == volume {
			return true
		}
	}
	return false
}

// agentCredentials is the agent's answer, in the container credential provider's
// format (aws-sdk-go-v2 credentials/endpointcreds/internal/client: GetCredentialsOutput).
type agentCredentials struct {
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
	Token           string `json:"Token"`
	AccountID       string `json:"AccountId"`
	Expiration      string `json:"Expiration"`
}

// credentials is the agent's GET /v1/credentials.
func (p *podIdentity) credentials(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, code, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"code": code, "message": msg})
	}
	token := strings.TrimSpace(r.Header.Get("Authorization"))
	if token == "" {
		fail(http.StatusBadRequest, "InvalidParameterException", "the Authorization header with the pod's service account token is required")
		return
	}
	tr := &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token, Audiences: []string{podIdentityAudience}}}
	if err := p.client.Create(r.Context(), tr); err != nil {
		fail(http.StatusInternalServerError, "ServiceUnavailableException", "reviewing the token: "+err.Error())
		return
	}
	if !tr.Status.Authenticated {
		fail(http.StatusUnauthorized, "InvalidTokenException", "the token is not valid for "+podIdentityAudience+": "+tr.Status.Error)
		return
	}
	ns, sa, ok := serviceAccountOf(tr.Status.User.Username)
	if !ok {
		fail(http.StatusUnauthorized, "InvalidTokenException", "the token is not a service account's")
		return
	}
	role := p.roleOf(ns, sa)
	if role == "" {
		fail(http.StatusForbidden, "AccessDeniedException", fmt.Sprintf("no Pod Identity association for service account %s/%s", ns, sa))
		return
	}
	var pod string
	if names := tr.Status.User.Extra["authentication.kubernetes.io/pod-name"]; len(names) > 0 {
		pod = names[0]
	}
	creds := agentCredentials{
		AccessKeyID: "ASIA" + strings.ToUpper(randomHex(8)), SecretAccessKey: randomHex(20), Token: randomHex(32),
		AccountID: accountOf(role), Expiration: time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
	}
	p.mu.Lock()
	p.issued[creds.AccessKeyID] = IssuedCredentials{AccessKeyID: creds.AccessKeyID, RoleARN: role, Namespace: ns, ServiceAccount: sa, Pod: pod}
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(creds)
}

// serviceAccountOf splits system:serviceaccount:<namespace>:<name>.
func serviceAccountOf(username string) (namespace, name string, ok bool) {
	rest, ok := strings.CutPrefix(username, "system:serviceaccount:")
	if !ok {
		return "", "", false
	}
	return strings.Cut(rest, ":")
}

// accountOf is the account ID of an IAM role ARN (arn:aws:iam::<account>:role/...).
func accountOf(roleARN string) string {
	parts := strings.Split(roleARN, ":")
	if len(parts) < 5 {
		return ""
	}
	return parts[4]
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// AssociatePodIdentity associates the ServiceAccount namespace/serviceAccount with an
// IAM role, as EKS's CreatePodIdentityAssociation does: pods started from then on get
// the role's credentials from the Pod Identity Agent stand-in. Associate before the
// pods start (EKS, too, changes only pods created after the association).
func (c *Cluster) AssociatePodIdentity(namespace, serviceAccount, roleARN string) {
	c.podIdentity.associate(namespace, serviceAccount, roleARN)
}

// IssuedCredentials are the credentials the Pod Identity Agent stand-in handed out.
func (c *Cluster) IssuedCredentials() []IssuedCredentials {
	return c.podIdentity.issuedCredentials()
}
