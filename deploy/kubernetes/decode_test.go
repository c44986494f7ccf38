package kubernetes_test

import (
	"errors"
	"fmt"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	sigsjson "sigs.k8s.io/json"
	sigsyaml "sigs.k8s.io/yaml"
)

// apiTypes maps each kind the base may hold to its Go API type. A kind not
// listed here fails the test: add its type before adding it to the base.
var apiTypes = map[schema.GroupVersionKind]func() any{
	{Version: "v1", Kind: "ServiceAccount"}:                                func() any { return &corev1.ServiceAccount{} },
	{Version: "v1", Kind: "ConfigMap"}:                                     func() any { return &corev1.ConfigMap{} },
	{Version: "v1", Kind: "Service"}:                                       func() any { return &corev1.Service{} },
	{Group: "apps", Version: "v1", Kind: "Deployment"}:                     func() any { return &appsv1.Deployment{} },
	{Group: "policy", Version: "v1", Kind: "PodDisruptionBudget"}:          func() any { return &policyv1.PodDisruptionBudget{} },
	{Group: "keda.sh", Version: "v1alpha1", Kind: "ScaledObject"}:          func() any { return &kedav1alpha1.ScaledObject{} },
	{Group: "keda.sh", Version: "v1alpha1", Kind: "TriggerAuthentication"}: func() any { return &kedav1alpha1.TriggerAuthentication{} },
}

// objects is the decoded base, by kind and then name.
type objects map[string]map[string]any

// decodeStrict decodes every document of stream into its API type, the way
// the API server's strict field validation does: an unknown or duplicated
// field, a field of the wrong case or type, is an error.
func decodeStrict(stream []byte) (objects, error) {
	docs, err := documents(stream)
	if err != nil {
		return nil, err
	}
	out := objects{}
	var errs []error
	for i, doc := range docs {
		obj, kind, name, err := decodeOne(doc)
		if err != nil {
			errs = append(errs, fmt.Errorf("document %d (%s %s): %w", i+1, kind, name, err))
			continue
		}
		if out[kind] == nil {
			out[kind] = map[string]any{}
		}
		if _, dup := out[kind][name]; dup {
			errs = append(errs, fmt.Errorf("document %d: a second %s named %q", i+1, kind, name))
		}
		out[kind][name] = obj
	}
	return out, errors.Join(errs...)
}

func decodeOne(doc []byte) (obj any, kind, name string, err error) {
	j, err := sigsyaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, "", "", err
	}
	var head struct {
		metav1.TypeMeta `json:",inline"`
		Metadata        metav1.ObjectMeta `json:"metadata"`
	}
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(j, &head); err != nil {
		return nil, "", "", fmt.Errorf("read apiVersion, kind and metadata: %w", err)
	}
	kind, name = head.Kind, head.Metadata.Name
	if name == "" {
		return nil, kind, name, errors.New("metadata.name is empty")
	}
	gvk := schema.FromAPIVersionAndKind(head.APIVersion, head.Kind)
	newObj, ok := apiTypes[gvk]
	if !ok {
		return nil, kind, name, fmt.Errorf("no Go API type for %s: add it to apiTypes", gvk)
	}
	obj = newObj()
	strict, err := sigsjson.UnmarshalStrict(j, obj, sigsjson.DisallowUnknownFields, sigsjson.DisallowDuplicateFields)
	if err != nil {
		return nil, kind, name, err
	}
	if len(strict) > 0 {
		return nil, kind, name, errors.Join(strict...)
	}
	return obj, kind, name, nil
}

// load renders the base and decodes it strictly, failing the test on any
// error.
func load(t *testing.T) objects {
	t.Helper()
	objs, err := decodeStrict(render(t))
	require.NoError(t, err)
	return objs
}

// get returns the object of kind and name, typed.
func get[T any](t *testing.T, objs objects, kind, name string) T {
	t.Helper()
	o, ok := objs[kind][name]
	require.True(t, ok, "the base has no %s named %q", kind, name)
	typed, ok := o.(T)
	require.True(t, ok, "%s %q decoded as %T", kind, name, o)
	return typed
}
