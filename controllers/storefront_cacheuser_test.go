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

package controllers

import (
	"context"
	"net/url"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
	"github.com/storefront-operator/storefront/test/fake"
)

func TestCacheUserNames(t *testing.T) {
	sf := storefrontNamed("acme")
	sf.Namespace = "shops"
	id := awsIdentifier("shops", "acme")
	cases := map[string]struct{ got, want string }{
		"the shop's user ID, also its user name": {cacheUserID(sf, 3), id + "-v3"},
		"the default user's ID":                  {cacheDefaultUserID(sf), id + "-default"},
		"the user group's ID":                    {cacheUserGroupID(sf), id},
		"the User object":                        {cacheUserObjectName(sf, 3), "acme-cache-user-v3"},
		"the password Secret":                    {cachePasswordSecretName(sf, 3), "acme-cache-password-v3"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
}

func TestDesiredCacheUserAndGroup(t *testing.T) {
	g := NewWithT(t)
	sf := storefrontNamed("acme")
	sf.Namespace = "shops"
	user := desiredCacheUser(sf, testScheme, "eu-west-1", "acme-cache-user-v1", roleCacheUser, "u-v1", "u-v1", CacheUserAccessString, "acme-cache-password-v1")
	g.Expect(user.Object["spec"]).To(Equal(map[string]any{
		"userID": "u-v1", "userName": "u-v1", "engine": "redis", "accessString": CacheUserAccessString,
		"passwords": []any{map[string]any{"namespace": "shops", "name": "acme-cache-password-v1", "key": "password"}},
	}))
	g.Expect(user.GetAnnotations()).To(HaveKeyWithValue(ackAnnotationDeletionPolicy, "delete"))
	group := desiredCacheUserGroup(sf, testScheme, "eu-west-1", []string{"d", "u-v1"})
	g.Expect(group.Object["spec"]).To(Equal(map[string]any{"userGroupID": awsIdentifier("shops", "acme"), "engine": "redis", "userIDs": []any{"d", "u-v1"}}))
	g.Expect(group.GetName()).To(Equal("acme-cache"))

	// Under Retain the database stays, but the cache and its users go.
	sf.Spec.Database.Aurora = &shopv1alpha1.AuroraDatabase{DeletionPolicy: shopv1alpha1.DeletionPolicyRetain}
	for _, gvk := range []schema.GroupVersionKind{gvkServerlessCache, gvkCacheUser, gvkCacheUserGroup} {
		g.Expect(ackDeletionPolicy(sf, gvk)).To(Equal("delete"), gvk.Kind)
	}
	g.Expect(ackDeletionPolicy(sf, gvkDBCluster)).To(Equal("retain"))
}

// redisUserOf reads the shop's cache user from the connection Secret: the user name and
// password REDIS_URL carries.
func redisUserOf(g Gomega, ns string) (user, password string) {
	conn := get(g, ns, "acme-connection", &corev1.Secret{})
	u, err := url.Parse(string(conn.Data[keyRedisURL]))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(u.User).NotTo(BeNil(), "REDIS_URL carries credentials")
	password, _ = u.User.Password()
	return u.User.Username(), password
}

// Cache users 1: a serverless cache gets the shop's User, a default User with no
// access and a UserGroup of both, each field as the real CRDs name it, and REDIS_URL
// logs in as the shop's user.
func TestServerlessCacheGetsItsUsers(t *testing.T) {
	ns := newNamespace(t)
	standIns := startStandIns(t, ns, fake.Options{})
	startOperator(t, ns, ackOptions)
	g := NewWithT(t)
	createStorefront(t, newStorefront(ns, withAurora(), withServerlessCache()))
	sf := waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	id := awsIdentifier(ns, "acme")

	shopPassword := get(g, ns, "acme-cache-password-v1", &corev1.Secret{})
	defaultPassword := get(g, ns, "acme-cache-default", &corev1.Secret{})
	for _, s := range []*corev1.Secret{shopPassword, defaultPassword} {
		g.Expect(string(s.Data[keyDBPassword])).To(MatchRegexp(`^[A-Za-z0-9]{32}$`), s.Name)
		g.Expect(s.Type).To(Equal(corev1.SecretTypeOpaque), s.Name)
		g.Expect(metav1.IsControlledBy(s, sf)).To(BeTrue(), "%s goes with the Storefront", s.Name)
	}
	cases := map[string]struct {
		gvk  schema.GroupVersionKind
		name string
		spec map[string]any
	}{
		"the shop's user": {gvkCacheUser, "acme-cache-user-v1", map[string]any{
			"userID": id + "-v1", "userName": id + "-v1", "engine": "redis", "accessString": CacheUserAccessString,
			"passwords": []any{map[string]any{"namespace": ns, "name": "acme-cache-password-v1", "key": "password"}}}},
		"the default user": {gvkCacheUser, "acme-cache-default", map[string]any{
			"userID": id + "-default", "userName": "default", "engine": "redis", "accessString": "off -@all",
			"passwords": []any{map[string]any{"namespace": ns, "name": "acme-cache-default", "key": "password"}}}},
		"the user group": {gvkCacheUserGroup, "acme-cache", map[string]any{
			"userGroupID": id, "engine": "redis", "userIDs": []any{id + "-default", id + "-v1"}}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			gvk := tc.gvk
			u := ackObject(g, ns, gvk, tc.name)
			got := specSubset(u, keysOf(tc.spec))
			if ids, ok := got["userIDs"].([]any); ok { // ACK writes them back in AWS's order
				sorted := slices.Clone(ids)
				sort.Slice(sorted, func(i, j int) bool { return sorted[i].(string) < sorted[j].(string) })
				got["userIDs"] = sorted
			}
			g.Expect(asJSON(g, got)).To(MatchJSON(asJSON(g, tc.spec)))
			g.Expect(u.GetAnnotations()).To(HaveKeyWithValue(ackAnnotationDeletionPolicy, "delete"))
			g.Expect(metav1.IsControlledBy(u, sf)).To(BeTrue())
			g.Expect(u.GetFinalizers()).To(ContainElement(ackFinalizer(gvk)), "ACK manages it")
			status, _, _ := unstructured.NestedString(u.Object, "status", "status")
			g.Expect(status).To(Equal("active"))
		})
	}
	g.Expect(specField(ackObject(g, ns, gvkServerlessCache, "acme-cache"), "userGroupID")).To(Equal(id))

	user, password := redisUserOf(g, ns)
	g.Expect(user).To(Equal(id + "-v1"))
	g.Expect(password).To(Equal(string(shopPassword.Data[keyDBPassword])))
	g.Expect(sf.Status.CacheUser).To(Equal(&shopv1alpha1.CacheUserStatus{Active: id + "-v1"}))
	g.Expect(condition(sf, shopv1alpha1.ConditionCacheReady).Message).To(HaveSuffix("as user " + id + "-v1"))

	// What AWS holds: the passwords ACK read from the Secrets, never in a spec.
	res, ok := standIns.AWS().Get(fake.AWSKey{Account: fake.DefaultAWSAccount.ID, Region: "eu-central-1", Kind: "User", ID: id + "-v1"})
	g.Expect(ok).To(BeTrue())
	g.Expect(res.PasswordCount).To(Equal(1))
	g.Expect(res.Spec).NotTo(HaveKey("passwords"))
}

// Cache users 2: a Terminal on the shop's User or on the UserGroup reaches CacheReady
// with ACK's message, and the Storefront heals once the cause is gone.
func TestCacheUserTerminalReachesCacheReady(t *testing.T) {
	cases := map[string]struct {
		kind, object string
		err          *fake.APIError
		message      string
	}{
		"the shop's user": {"User", "acme-cache-user-v1", fake.NewAPIError("InvalidParameterValue", "Access string is not valid."),
			"User acme-cache-user-v1: ACK: api error InvalidParameterValue: Access string is not valid."},
		"the user group": {"UserGroup", "acme-cache", fake.NewAPIError("DefaultUserRequired", "User group needs to contain a user with the user name default."),
			"UserGroup acme-cache: ACK: api error DefaultUserRequired: User group needs to contain a user with the user name default."},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ns := newNamespace(t)
			standIns := startStandIns(t, ns, fake.Options{})
			startOperator(t, ns, ackOptions)
			g := NewWithT(t)
			refused := awsIdentifier(ns, "acme")
			if tc.kind == "User" {
				refused += "-v1"
			}
			standIns.AWS().Refuse(tc.kind, fake.OpCreate, refused, tc.err)
			createStorefront(t, newStorefront(ns, withAurora(), withServerlessCache()))
			g.Eventually(func(g Gomega) {
				sf := getStorefront(g, ns)
				c := condition(sf, shopv1alpha1.ConditionCacheReady)
				g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
				g.Expect(c.Reason).To(Equal(shopv1alpha1.ReasonProvisioningFailed))
				g.Expect(c.Message).To(Equal(tc.message))
				g.Expect(sf.Status.Phase).To(Equal(shopv1alpha1.PhaseDegraded))
			}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
			g.Expect(ackAbsent(ns, gvkServerlessCache, "acme-cache")).To(BeTrue(), "no cache before its users")
			g.Eventually(func(g Gomega) {
				g.Expect(eventReasons(g, ns)).To(ContainElement(shopv1alpha1.ReasonProvisioningFailed))
			}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
		})
	}
}

// cacheRotationSample is what the rotation test sees at one instant, read in this
// order: REDIS_URL's user, then AWS's group, then the pods' template.
type cacheRotationSample struct {
	urlUser          string
	groupMembers     []string
	groupPendingAdds []string
	v1InAWS          bool
	podsOnV2         bool
}

// Cache users 3: a rotation makes user v2 with a new Secret; REDIS_URL moves to it only
// once ElastiCache reports it in the active group; user v1 leaves the group only once
// the pods run with v2, and is deleted after, then its Secret.
func TestCacheUserRotation(t *testing.T) {
	ns := newNamespace(t)
	standIns := startStandIns(t, ns, fake.Options{ACKDelay: 300 * time.Millisecond})
	startOperator(t, ns, ackOptions)
	g := NewWithT(t)
	createStorefront(t, newStorefront(ns, withAurora(), withServerlessCache()))
	waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	id := awsIdentifier(ns, "acme")
	awsKey := func(kind, id string) fake.AWSKey {
		return fake.AWSKey{Account: fake.DefaultAWSAccount.ID, Region: "eu-central-1", Kind: kind, ID: id}
	}

	// Sample the states the ordering is about until the rotation is over.
	var mu sync.Mutex
	var samples []cacheRotationSample
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond): // sampling, not synchronising
			}
			var s cacheRotationSample
			conn := &corev1.Secret{}
			if k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "acme-connection"}, conn) == nil {
				if u, err := url.Parse(string(conn.Data[keyRedisURL])); err == nil && u.User != nil {
					s.urlUser = u.User.Username()
				}
			}
			if grp, ok := standIns.AWS().Get(awsKey("UserGroup", id)); ok {
				for _, m := range grp.Spec["userIDs"].([]any) {
					s.groupMembers = append(s.groupMembers, m.(string))
				}
				s.groupPendingAdds = grp.PendingAdd
			}
			_, s.v1InAWS = standIns.AWS().Get(awsKey("User", id+"-v1"))
			if s.v1InAWS {
				if u, ok := standIns.AWS().Get(awsKey("User", id+"-v1")); ok && u.Status == "deleting" {
					s.v1InAWS = false
				}
			}
			s.podsOnV2 = s.urlUser == id+"-v2" && podsRun(ns, conn)
			mu.Lock()
			samples = append(samples, s)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		<-done
	})

	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) {
		metav1.SetMetaDataAnnotation(&sf.ObjectMeta, shopv1alpha1.AnnotationRotateCachePassword, "1")
	})
	g.Eventually(func(g Gomega) {
		sf := getStorefront(g, ns)
		g.Expect(sf.Status.CacheUser).To(Equal(&shopv1alpha1.CacheUserStatus{Active: id + "-v2", Rotation: "1"}))
		g.Expect(ackAbsent(ns, gvkCacheUser, "acme-cache-user-v1")).To(BeTrue(), "user v1 deleted")
		g.Expect(absent(ns, "acme-cache-password-v1", &corev1.Secret{})).To(BeTrue(), "password v1 deleted")
		g.Expect(sf.Status.Phase).To(Equal(shopv1alpha1.PhaseReady))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	close(stop)
	<-done

	user, password := redisUserOf(g, ns)
	g.Expect(user).To(Equal(id + "-v2"))
	g.Expect(password).To(Equal(string(get(g, ns, "acme-cache-password-v2", &corev1.Secret{}).Data[keyDBPassword])))
	members := groupMembers(ackObject(g, ns, gvkCacheUserGroup, "acme-cache"))
	g.Expect(members).To(ConsistOf(id+"-default", id+"-v2"))

	// The order, from the samples.
	mu.Lock()
	defer mu.Unlock()
	sawV2, sawV1Gone := false, false
	for i, s := range samples {
		if s.urlUser == id+"-v2" {
			sawV2 = true
			g.Expect(s.groupMembers).To(ContainElement(id+"-v2"), "sample %d: REDIS_URL moved to v2 before ElastiCache had it in the group", i)
			g.Expect(s.groupPendingAdds).NotTo(ContainElement(id+"-v2"), "sample %d", i)
		}
		if !s.v1InAWS {
			sawV1Gone = true
			g.Expect(s.podsOnV2).To(BeTrue(), "sample %d: user v1 deleted before the pods ran with v2", i)
		}
	}
	g.Expect(sawV2).To(BeTrue())
	g.Expect(sawV1Gone).To(BeTrue())

	// Each step has its Event, in order.
	g.Eventually(func(g Gomega) {
		g.Expect(cacheUserEvents(g, ns)).To(Equal([]string{eventReasonCacheUserCreating, eventReasonCacheUserInUse,
			eventReasonCacheUserRetiring, eventReasonCacheUserDeleting}))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
}

// podsRun reports whether the shop's Deployment has rolled out the pod template of the
// connection Secret conn.
func podsRun(ns string, conn *corev1.Secret) bool {
	ctx := context.Background()
	dep, app := &appsv1.Deployment{}, &corev1.Secret{}
	if k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acme-shop"}, dep) != nil ||
		k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acme-app"}, app) != nil {
		return false
	}
	return dep.Spec.Template.Annotations[annotationConfigChecksum] == configChecksum(conn.Data, app.Data) &&
		dep.Status.ObservedGeneration == dep.Generation && dep.Spec.Replicas != nil &&
		dep.Status.UpdatedReplicas == *dep.Spec.Replicas && dep.Status.AvailableReplicas >= 1
}

// cacheUserEvents are the reasons of the rotation's Events, oldest first.
func cacheUserEvents(g Gomega, ns string) []string {
	list := &eventsv1.EventList{}
	g.Expect(k8sClient.List(context.Background(), list, client.InNamespace(ns))).To(Succeed())
	items := slices.DeleteFunc(list.Items, func(e eventsv1.Event) bool {
		return !slices.Contains([]string{eventReasonCacheUserCreating, eventReasonCacheUserInUse, eventReasonCacheUserRetiring, eventReasonCacheUserDeleting}, e.Reason)
	})
	sort.SliceStable(items, func(i, j int) bool { return items[i].EventTime.Before(&items[j].EventTime) })
	var out []string
	for _, e := range items {
		out = append(out, e.Reason)
	}
	return out
}

// A user counts as in the group only as ElastiCache reports it: listed, not a pending
// addition, the group active or modifying; and a changed group counts only once ACK has
// synced it since the operator's change.
func TestCacheUserGroupMembership(t *testing.T) {
	at := func(s string) string { return "2026-12-03T08:00:" + s + "Z" }
	group := func(status string, members, adding []string, applied, synced string) *unstructured.Unstructured {
		u := newACKObject(gvkCacheUserGroup)
		u.Object["spec"] = map[string]any{"userIDs": stringsToAny(members)}
		st := map[string]any{"status": status}
		if adding != nil {
			st["pendingChanges"] = map[string]any{"userIDsToAdd": stringsToAny(adding)}
		}
		if synced != "" {
			st["conditions"] = []any{map[string]any{"type": ackConditionSynced, "status": "True", "lastTransitionTime": at(synced)}}
		}
		u.Object["status"] = st
		ts, _ := time.Parse(time.RFC3339, at(applied))
		u.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: fieldOwner, Operation: metav1.ManagedFieldsOperationApply, Time: &metav1.Time{Time: ts}}})
		return u
	}
	cases := map[string]struct {
		group            *unstructured.Unstructured
		inGroup, settled bool
	}{
		"active, listed, synced after the change": {group("active", []string{"d", "u"}, nil, "10", "12"), true, true},
		"synced in the second of the change":      {group("active", []string{"d", "u"}, nil, "10", "10"), true, true},
		"the operator's change, not synced since": {group("active", []string{"d", "u"}, nil, "10", "09"), true, false},
		"a pending addition":                      {group("modifying", []string{"d", "u"}, []string{"u"}, "10", "11"), false, false},
		"modifying for another change, listed":    {group("modifying", []string{"d", "u"}, []string{"x"}, "10", "11"), true, false},
		"creating":                                {group("creating", []string{"d", "u"}, nil, "10", ""), false, false},
		"not listed":                              {group("active", []string{"d"}, nil, "10", "12"), false, true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := inGroup(tc.group, "u"); got != tc.inGroup {
				t.Errorf("inGroup = %v, want %v", got, tc.inGroup)
			}
			if got := groupSettled(tc.group); got != tc.settled {
				t.Errorf("groupSettled = %v, want %v", got, tc.settled)
			}
		})
	}
}

// A retired user that ElastiCache is modifying is deleted only once it is active again:
// DeleteUser refuses it with InvalidUserState, which ACK takes as terminal and never
// retries (test/fake TestGoldenUserDeletedWhileModifying), so deleting it at once left
// the User, its finalizer and its password Secret for good.
func TestRetiredCacheUserWaitsWhileModifying(t *testing.T) {
	ns := newNamespace(t)
	standIns := startStandIns(t, ns, fake.Options{ACKResync: 300 * time.Millisecond})
	startOperator(t, ns, ackOptions)
	g := NewWithT(t)
	createStorefront(t, newStorefront(ns, withAurora(), withServerlessCache()))
	waitForPhase(t, ns, shopv1alpha1.PhaseReady)
	id := awsIdentifier(ns, "acme")
	standIns.AWS().SetStatus("User", id+"-v1", "modifying")
	g.Eventually(func(g Gomega) {
		g.Expect(nested(ackObject(g, ns, gvkCacheUser, "acme-cache-user-v1"), "status", "status")).To(Equal("modifying"))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())

	updateStorefront(t, ns, func(sf *shopv1alpha1.Storefront) {
		metav1.SetMetaDataAnnotation(&sf.ObjectMeta, shopv1alpha1.AnnotationRotateCachePassword, "1")
	})
	// v1 leaves the group, the pods run v2; v1 waits.
	g.Eventually(func(g Gomega) {
		sf := getStorefront(g, ns)
		g.Expect(sf.Status.CacheUser).To(Equal(&shopv1alpha1.CacheUserStatus{Active: id + "-v2", Retiring: []string{id + "-v1"}, Rotation: "1"}))
		g.Expect(groupMembers(ackObject(g, ns, gvkCacheUserGroup, "acme-cache"))).To(ConsistOf(id+"-default", id+"-v2"))
		g.Expect(cacheUserEvents(g, ns)).To(ContainElement(eventReasonCacheUserRetiring))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	user := ackObject(g, ns, gvkCacheUser, "acme-cache-user-v1")
	g.Expect(user.GetDeletionTimestamp()).To(BeNil(), "a modifying user was deleted")

	standIns.AWS().SetStatus("User", id+"-v1", "")
	g.Eventually(func(g Gomega) {
		g.Expect(ackAbsent(ns, gvkCacheUser, "acme-cache-user-v1")).To(BeTrue(), "user v1 deleted")
		g.Expect(absent(ns, "acme-cache-password-v1", &corev1.Secret{})).To(BeTrue(), "password v1 deleted")
		g.Expect(getStorefront(g, ns).Status.CacheUser).To(Equal(&shopv1alpha1.CacheUserStatus{Active: id + "-v2", Rotation: "1"}))
	}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
}
