package kubernetes_test

import (
	"strconv"
	"strings"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// The worker's Service, PodDisruptionBudget and ScaledObject all reach the
// worker's pods; the Service's target port is the ops port.
func TestWorkerObjectsSelectWorkerPods(t *testing.T) {
	objs := load(t)
	worker := get[*appsv1.Deployment](t, objs, "Deployment", workerName)
	scheduler := get[*appsv1.Deployment](t, objs, "Deployment", schedulerName)
	pods := labels.Set(worker.Spec.Template.Labels)
	selects := func(sel *metav1.LabelSelector, set labels.Set) bool {
		s, err := metav1.LabelSelectorAsSelector(sel)
		require.NoError(t, err)
		return !s.Empty() && s.Matches(set)
	}
	require.True(t, selects(worker.Spec.Selector, pods), "the Deployment's selector misses its own pods")

	pdb := get[*policyv1.PodDisruptionBudget](t, objs, "PodDisruptionBudget", workerName)
	require.True(t, selects(pdb.Spec.Selector, pods))
	require.False(t, selects(pdb.Spec.Selector, scheduler.Spec.Template.Labels), "the PDB also covers the scheduler")
	require.Nil(t, pdb.Spec.MinAvailable, "minAvailable would block every drain while the autoscaler holds one worker")
	require.NotNil(t, pdb.Spec.MaxUnavailable)

	svc := get[*corev1.Service](t, objs, "Service", "adsync-worker-ops")
	require.True(t, labels.SelectorFromSet(svc.Spec.Selector).Matches(pods))
	require.False(t, labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(scheduler.Spec.Template.Labels)))
	require.Len(t, svc.Spec.Ports, 1)
	port := httpAddrPort(t, get[*corev1.ConfigMap](t, objs, "ConfigMap", configName))
	require.Equal(t, port, containerPort(t, container(t, worker, "worker"), svc.Spec.Ports[0].TargetPort.String()))
}

// The workers scale on queue depth: KEDA's Prometheus trigger on asynq's
// queue metric for the queues the workers serve, with bounds that make
// sense, and the Deployment leaves its replica count to the autoscaler.
func TestWorkersScaleOnQueueDepth(t *testing.T) {
	objs := load(t)
	so := get[*kedav1alpha1.ScaledObject](t, objs, "ScaledObject", workerName)
	worker := get[*appsv1.Deployment](t, objs, "Deployment", workerName)
	require.Nil(t, worker.Spec.Replicas, "replicas in the Deployment would undo the autoscaler at every apply")

	ref := so.Spec.ScaleTargetRef
	require.NotNil(t, ref)
	require.Equal(t, workerName, ref.Name)
	require.Contains(t, []string{"", "Deployment"}, ref.Kind)
	require.NotNil(t, so.Spec.MinReplicaCount)
	require.NotNil(t, so.Spec.MaxReplicaCount)
	require.GreaterOrEqual(t, *so.Spec.MinReplicaCount, int32(1), "at zero workers nothing exports the metric the scaler reads")
	require.Greater(t, *so.Spec.MaxReplicaCount, *so.Spec.MinReplicaCount)

	require.Len(t, so.Spec.Triggers, 1)
	trig := so.Spec.Triggers[0]
	require.Equal(t, "prometheus", trig.Type)
	known := map[string]bool{"serverAddress": true, "query": true, "threshold": true, "activationThreshold": true,
		"ignoreNullValues": true, "namespace": true, "customHeaders": true, "queryParameters": true, "unsafeSsl": true, "timeout": true}
	for k := range trig.Metadata {
		require.True(t, known[k], "%q is no parameter of KEDA's prometheus scaler", k)
	}
	q := trig.Metadata["query"]
	require.Contains(t, q, "asynq_tasks_enqueued_total", "the query must read asynq's queue metric that the workers export")
	for _, queue := range queueNames(t) {
		require.Contains(t, q, queue, "the query leaves out queue %q", queue)
	}
	require.Contains(t, q, "pending")
	require.NotContains(t, q, "scheduled", "tasks waiting for rate budget must not add workers")

	threshold, err := strconv.ParseFloat(trig.Metadata["threshold"], 64)
	require.NoError(t, err)
	concurrency := mustAtoi(t, get[*corev1.ConfigMap](t, objs, "ConfigMap", configName).Data["WORKER_CONCURRENCY"])
	require.Greater(t, threshold, 0.0)
	require.LessOrEqual(t, threshold, float64(concurrency), "a threshold above WORKER_CONCURRENCY never adds a worker before one is full")
	require.True(t, strings.HasPrefix(trig.Metadata["serverAddress"], "http"), "serverAddress")
}
