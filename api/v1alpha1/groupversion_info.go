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

// Package v1alpha1 contains the Storefront API of the shop.storefront.dev group.
// +kubebuilder:object:generate=true
// +groupName=shop.storefront.dev
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// api/ depends on apimachinery only (docs/architecture.md#dependency-rules), so the scheme
// builder is apimachinery's rather than controller-runtime's.
var (
	// GroupVersion is the group and version of the Storefront API.
	GroupVersion = schema.GroupVersion{Group: "shop.storefront.dev", Version: "v1alpha1"}

	// SchemeBuilder registers the Storefront types with a runtime.Scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the Storefront types to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &Storefront{}, &StorefrontList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
