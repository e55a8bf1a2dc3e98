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
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Volumes.
//
// Each volume of a pod is materialised in a directory of its own under the pod's
// directory, laid out as the kubelet lays it out: Secret, ConfigMap, projected and
// downward API volumes through the atomic writer (timestamped directory, "..data"
// symlink, one symlink per top-level entry; pkg/volume/util/atomic_writer.go), with
// defaultMode and per-item modes, and fsGroup ownership (pkg/volume/volume_linux.go:
// changeFilePermission) when the kubelet may chown; emptyDir as a 0777 directory;
// hostPath as the path itself, this machine being the node.
//
// A process cannot see them at their mount paths: that would need a mount namespace
// per pod (root, or user namespaces and an overlay over the host's directories),
// which a demo run by an ordinary user does not have. Instead the kubelet rewrites
// every mount path it finds, as a path prefix, in the container's command, arguments,
// environment values (also URL-escaped, as in a DATABASE_URL's sslrootcert=) and
// working directory into the volume's directory, and tells the process the mapping
// in LOCALCLUSTER_MOUNTS ("mountPath=dir:..."). A path the program builds itself is
// not rewritten.

const (
	// defaultVolumeMode is the API's default for defaultMode (0644).
	defaultVolumeMode = int32(0o644)
	// atomicDataDir is the atomic writer's link to the current payload.
	atomicDataDir = "..data"
	// rwMask, roMask and execMask are what fsGroup ownership adds to a file's mode
	// (pkg/volume/volume_linux.go).
	rwMask   = os.FileMode(0o660)
	roMask   = os.FileMode(0o440)
	execMask = os.FileMode(0o110)
)

// volumeMount is one mount of a container: where the container expects it, and where
// it is on this machine.
type volumeMount struct {
	MountPath string
	HostPath  string
	ReadOnly  bool
}

// podVolumes are the materialised volumes of a pod, by name.
type podVolumes struct {
	dir  string
	dirs map[string]string
}

// setUpVolumes materialises every volume of pod under dir. An error names the volume,
// as the kubelet's FailedMount event does.
func (k *kubelet) setUpVolumes(ctx context.Context, pod *corev1.Pod, dir string) (*podVolumes, error) {
	pv := &podVolumes{dir: dir, dirs: map[string]string{}}
	sc := pod.Spec.SecurityContext
	var fsGroup *int64
	if sc != nil {
		fsGroup = sc.FSGroup
	}
	for _, v := range pod.Spec.Volumes {
		target := filepath.Join(dir, v.Name)
		var err error
		switch {
		case v.EmptyDir != nil:
			err = setUpEmptyDir(target, fsGroup, k.uid == 0)
		case v.HostPath != nil:
			target = v.HostPath.Path
			if v.HostPath.Type != nil && *v.HostPath.Type == corev1.HostPathDirectoryOrCreate {
				err = os.MkdirAll(target, 0o755)
			}
		case v.Secret != nil, v.ConfigMap != nil, v.Projected != nil, v.DownwardAPI != nil:
			var payload map[string]fileProjection
			payload, err = k.volumePayload(ctx, pod, v)
			if err == nil {
				err = writeAtomically(target, payload, fsGroup, k.uid == 0)
			}
		default:
			err = errors.New("the local kubelet does not support this volume type (only emptyDir, hostPath, secret, configMap, projected and downwardAPI)")
		}
		if err != nil {
			return nil, fmt.Errorf("MountVolume.SetUp failed for volume %q : %w", v.Name, err)
		}
		pv.dirs[v.Name] = target
	}
	return pv, nil
}

// TearDown removes what setUpVolumes wrote (not hostPath volumes): Secrets do not stay
// on disk after their pod.
func (pv *podVolumes) TearDown() {
	if pv != nil {
		_ = os.RemoveAll(pv.dir)
	}
}

// Mounts are the container's mounts, resolved to this machine; the longest mount path
// comes first, so that a nested mount wins over its parent.
func (pv *podVolumes) Mounts(c *corev1.Container) ([]volumeMount, error) {
	var out []volumeMount
	for _, m := range c.VolumeMounts {
		dir, ok := pv.dirs[m.Name]
		if !ok {
			return nil, fmt.Errorf("volume %q of mount %s not found", m.Name, m.MountPath)
		}
		if m.SubPath != "" {
			dir = filepath.Join(dir, m.SubPath)
		}
		out = append(out, volumeMount{MountPath: path.Clean(m.MountPath), HostPath: dir, ReadOnly: m.ReadOnly})
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i].MountPath) > len(out[j].MountPath) })
	return out, nil
}

// fileProjection is one file of a volume: its content and mode.
type fileProjection struct {
	Data []byte
	Mode int32
}

// volumePayload reads what a Secret, ConfigMap, projected or downward API volume holds.
func (k *kubelet) volumePayload(ctx context.Context, pod *corev1.Pod, v corev1.Volume) (map[string]fileProjection, error) {
	payload := map[string]fileProjection{}
	switch {
	case v.Secret != nil:
		s := v.Secret
		mode := ptr.Deref(s.DefaultMode, defaultVolumeMode)
		return payload, k.secretPayload(ctx, pod.Namespace, s.SecretName, s.Items, mode, ptr.Deref(s.Optional, false), payload)
	case v.ConfigMap != nil:
		cm := v.ConfigMap
		mode := ptr.Deref(cm.DefaultMode, defaultVolumeMode)
		return payload, k.configMapPayload(ctx, pod.Namespace, cm.Name, cm.Items, mode, ptr.Deref(cm.Optional, false), payload)
	case v.DownwardAPI != nil:
		mode := ptr.Deref(v.DownwardAPI.DefaultMode, defaultVolumeMode)
		return payload, downwardAPIPayload(pod, v.DownwardAPI.Items, mode, payload)
	}
	// Projected: each source in order, a later file replacing an earlier one of the same
	// path (pkg/volume/projected/projected.go: collectData).
	p := v.Projected
	mode := ptr.Deref(p.DefaultMode, defaultVolumeMode)
	for _, src := range p.Sources {
		var err error
		switch {
		case src.Secret != nil:
			err = k.secretPayload(ctx, pod.Namespace, src.Secret.Name, src.Secret.Items, mode, ptr.Deref(src.Secret.Optional, false), payload)
		case src.ConfigMap != nil:
			err = k.configMapPayload(ctx, pod.Namespace, src.ConfigMap.Name, src.ConfigMap.Items, mode, ptr.Deref(src.ConfigMap.Optional, false), payload)
		case src.DownwardAPI != nil:
			err = downwardAPIPayload(pod, src.DownwardAPI.Items, mode, payload)
		case src.ServiceAccountToken != nil:
			err = k.tokenPayload(ctx, pod, src.ServiceAccountToken, mode, payload)
		default:
			err = errors.New("the local kubelet projects only secrets, configMaps, downwardAPI and serviceAccountTokens")
		}
		if err != nil {
			return nil, err
		}
	}
	return payload, nil
}

// secretPayload adds a Secret's keys (or the listed items) to payload, as MakePayload in
// pkg/volume/secret/secret.go does: a missing Secret fails unless optional, a listed key
// that is missing fails unless optional.
func (k *kubelet) secretPayload(ctx context.Context, ns, name string, items []corev1.KeyToPath, mode int32, optional bool, payload map[string]fileProjection) error {
	s := &corev1.Secret{}
	if err := k.reader.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, s); err != nil {
		if apierrors.IsNotFound(err) && optional {
			return nil
		}
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("secret %q not found", name)
		}
		return err
	}
	data := map[string][]byte{}
	for key, v := range s.Data {
		data[key] = v
	}
	return project(data, items, mode, optional, "secret", payload)
}

// configMapPayload is secretPayload for a ConfigMap (data and binaryData).
func (k *kubelet) configMapPayload(ctx context.Context, ns, name string, items []corev1.KeyToPath, mode int32, optional bool, payload map[string]fileProjection) error {
	cm := &corev1.ConfigMap{}
	if err := k.reader.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, cm); err != nil {
		if apierrors.IsNotFound(err) && optional {
			return nil
		}
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("configmap %q not found", name)
		}
		return err
	}
	data := map[string][]byte{}
	for key, v := range cm.Data {
		data[key] = []byte(v)
	}
	for key, v := range cm.BinaryData {
		data[key] = v
	}
	return project(data, items, mode, optional, "configmap", payload)
}

func project(data map[string][]byte, items []corev1.KeyToPath, mode int32, optional bool, kind string, payload map[string]fileProjection) error {
	if len(items) == 0 {
		for key, v := range data {
			payload[key] = fileProjection{Data: v, Mode: mode}
		}
		return nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			if optional {
				continue
			}
			return fmt.Errorf("references non-existent %s key: %s", kind, it.Key)
		}
		payload[it.Path] = fileProjection{Data: v, Mode: ptr.Deref(it.Mode, mode)}
	}
	return nil
}

// downwardAPIPayload writes the pod's own fields: metadata (name, namespace, uid,
// labels and annotations in the kubelet's key="value" lines) and the container
// resources asked for.
func downwardAPIPayload(pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile, mode int32, payload map[string]fileProjection) error {
	for _, it := range items {
		var v string
		switch {
		case it.FieldRef != nil:
			var err error
			if v, err = podField(pod, it.FieldRef.FieldPath); err != nil {
				return err
			}
		case it.ResourceFieldRef != nil:
			var err error
			if v, err = resourceField(pod, it.ResourceFieldRef); err != nil {
				return err
			}
		}
		payload[it.Path] = fileProjection{Data: []byte(v), Mode: ptr.Deref(it.Mode, mode)}
	}
	return nil
}

// podField is a downward API field of pod (pkg/fieldpath: ExtractFieldPathAsString and
// FormatMap).
func podField(pod *corev1.Pod, fieldPath string) (string, error) {
	switch fieldPath {
	case "metadata.labels":
		return formatMap(pod.Labels), nil
	case "metadata.annotations":
		return formatMap(pod.Annotations), nil
	}
	v, ok, err := (&envResolver{pod: pod}).field(fieldPath)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("unsupported fieldRef %s", fieldPath)
	}
	return v, nil
}

func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for key := range m {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	lines := make([]string, len(keys))
	for i, key := range keys {
		lines[i] = key + "=" + strconv.Quote(m[key])
	}
	return strings.Join(lines, "\n")
}

// resourceField is a container's request or limit in the divisor's unit, rounded up
// (pkg/api/v1/resource: ExtractContainerResourceValue); a limit that is not set is the
// node's allocatable, as the kubelet reports it.
func resourceField(pod *corev1.Pod, ref *corev1.ResourceFieldSelector) (string, error) {
	var c *corev1.Container
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == ref.ContainerName || (ref.ContainerName == "" && i == 0) {
			c = &pod.Spec.Containers[i]
		}
	}
	if c == nil {
		return "", fmt.Errorf("container %q not found", ref.ContainerName)
	}
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor.Set(1)
	}
	kind, name, _ := strings.Cut(ref.Resource, ".")
	list := c.Resources.Requests
	if kind == "limits" {
		list = c.Resources.Limits
	}
	q, ok := list[corev1.ResourceName(name)]
	if !ok {
		q = desiredNode().Status.Allocatable[corev1.ResourceName(name)]
	}
	if name == string(corev1.ResourceCPU) {
		return strconv.FormatInt((q.MilliValue()+divisor.MilliValue()-1)/divisor.MilliValue(), 10), nil
	}
	return strconv.FormatInt((q.Value()+divisor.Value()-1)/divisor.Value(), 10), nil
}

// tokenPayload asks the API server for a token of the pod's service account, bound to
// the pod, as the kubelet's token manager does (pkg/kubelet/token); the default
// audience is the API server's own.
func (k *kubelet) tokenPayload(ctx context.Context, pod *corev1.Pod, src *corev1.ServiceAccountTokenProjection, mode int32, payload map[string]fileProjection) error {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Spec.ServiceAccountName}}
	if sa.Name == "" {
		sa.Name = "default"
	}
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: ptr.To(ptr.Deref(src.ExpirationSeconds, 3600)),
		BoundObjectRef:    &authenticationv1.BoundObjectReference{APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID},
	}}
	if src.Audience != "" {
		tr.Spec.Audiences = []string{src.Audience}
	}
	if err := k.client.SubResource("token").Create(ctx, sa, tr); err != nil {
		return fmt.Errorf("failed to fetch token: %w", err)
	}
	payload[src.Path] = fileProjection{Data: []byte(tr.Status.Token), Mode: mode}
	return nil
}

// writeAtomically lays payload out in dir as the atomic writer does and applies the
// fsGroup ownership a read-only volume gets.
func writeAtomically(dir string, payload map[string]fileProjection, fsGroup *int64, canChown bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ts, err := os.MkdirTemp(dir, time.Now().UTC().Format("..2006_01_02_15_04_05."))
	if err != nil {
		return err
	}
	if err := os.Chmod(ts, 0o755); err != nil {
		return err
	}
	for p, f := range payload {
		clean := path.Clean(p)
		if path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") || strings.HasPrefix(clean, "..") {
			return fmt.Errorf("invalid path %q", p)
		}
		full := filepath.Join(ts, clean)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, f.Data, os.FileMode(f.Mode)); err != nil {
			return err
		}
		// WriteFile's mode is masked by the umask; the kubelet sets it exactly.
		if err := os.Chmod(full, os.FileMode(f.Mode)); err != nil {
			return err
		}
	}
	if err := os.Symlink(filepath.Base(ts), filepath.Join(dir, atomicDataDir)); err != nil {
		return err
	}
	tops := map[string]bool{}
	for p := range payload {
		top, _, _ := strings.Cut(path.Clean(p), "/")
		tops[top] = true
	}
	for top := range tops {
		if err := os.Symlink(filepath.Join(atomicDataDir, top), filepath.Join(dir, top)); err != nil {
			return err
		}
	}
	if fsGroup != nil && canChown {
		return setVolumeOwnership(dir, *fsGroup, true)
	}
	return nil
}

// setUpEmptyDir creates an emptyDir: mode 0777, as the emptyDir plugin does, owned by
// the fsGroup when there is one.
func setUpEmptyDir(dir string, fsGroup *int64, canChown bool) error {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		return err
	}
	if fsGroup != nil && canChown {
		return setVolumeOwnership(dir, *fsGroup, false)
	}
	return nil
}

// setVolumeOwnership gives every file of dir to the fsGroup and adds the group bits
// (pkg/volume/volume_linux.go: changeFilePermission); symlinks are left alone.
func setVolumeOwnership(dir string, fsGroup int64, readOnly bool) error {
	return filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(p, -1, int(fsGroup)); err != nil {
			return err
		}
		if info.Mode()&os.ModeSymlink != 0 {
			return nil
		}
		mask := rwMask
		if readOnly {
			mask = roMask
		}
		if info.IsDir() {
			mask |= os.ModeSetgid | execMask
		}
		return os.Chmod(p, info.Mode()|mask)
	})
}

// pathRewriter rewrites a container's mount paths into their directories here.
type pathRewriter struct {
	mounts []volumeMount
}

// Rewrite replaces each mount path found in s, raw or URL-escaped, where it starts a
// path: at the start of s or after a separator, and followed by the end, a slash (raw
// or escaped) or a character that cannot be part of a path. It reads s once, so that a
// replacement is never rewritten again (a mount at /tmp inside a directory under /tmp).
func (r pathRewriter) Rewrite(s string) string {
	type form struct{ from, to string }
	var forms []form
	for _, m := range r.mounts {
		if m.MountPath == "" || m.MountPath == "/" {
			continue
		}
		forms = append(forms, form{m.MountPath, m.HostPath}, form{url.QueryEscape(m.MountPath), url.QueryEscape(m.HostPath)})
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		replaced := false
		if i == 0 || strings.ContainsRune("=:;, \"'(", rune(s[i-1])) {
			// Longest mount first: r.mounts is sorted so.
			for _, f := range forms {
				end := i + len(f.from)
				if !strings.HasPrefix(s[i:], f.from) {
					continue
				}
				if end == len(s) || s[end] == '/' || strings.HasPrefix(s[end:], "%2F") || strings.ContainsRune("&;:, \"')", rune(s[end])) {
					b.WriteString(f.to)
					i, replaced = end, true
					break
				}
			}
		}
		if !replaced {
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String()
}

// mountsEnv is LOCALCLUSTER_MOUNTS: where each mount path is here.
func (r pathRewriter) mountsEnv() string {
	parts := make([]string, len(r.mounts))
	for i, m := range r.mounts {
		parts[i] = m.MountPath + "=" + m.HostPath
	}
	return strings.Join(parts, ":")
}
