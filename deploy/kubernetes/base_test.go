package kubernetes_test

import (
	"net"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// Names of the base's objects that the checks look at.
const (
	workerName    = "adsync-worker"
	schedulerName = "adsync-scheduler"
	configName    = "adsync-config"
	secretName    = "adsync-secrets"
	secretsDir    = "/etc/adsync/secrets/"
)

// The base renders and every object in it decodes strictly into its API
// type, and it holds what a deployment of adsync needs.
func TestBaseRendersAndDecodesStrictly(t *testing.T) {
	objs := load(t)
	for kind, names := range map[string][]string{
		"ServiceAccount":      {"adsync"},
		"ConfigMap":           {configName},
		"Deployment":          {workerName, schedulerName},
		"Service":             {"adsync-worker-ops"},
		"PodDisruptionBudget": {workerName},
		"ScaledObject":        {workerName},
	} {
		for _, n := range names {
			require.Contains(t, objs[kind], n, "the base has no %s named %q", kind, n)
		}
	}
}

// The strict decoder is what makes the test above worth anything: a
// misspelt field, a field in the wrong case and a duplicated field each
// fail, as does a kind with no registered API type.
func TestStrictDecodingRejectsWhatTheAPIServerWould(t *testing.T) {
	const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: x
spec:
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      containers:
        - name: c
          image: i
`
	_, err := decodeStrict([]byte(deployment))
	require.NoError(t, err, "the well-formed document must decode")
	for name, c := range map[string]struct{ doc, want string }{
		"unknown field": {strings.Replace(deployment, "image: i", "image: i\n          readinesProbe: {}", 1), `unknown field "spec.template.spec.containers[0].readinesProbe"`},
		"wrong case":    {strings.Replace(deployment, "image: i", "Image: i", 1), `unknown field "spec.template.spec.containers[0].Image"`},
		"duplicate key": {strings.Replace(deployment, "image: i", "image: i\n          image: j", 1), `"image" already set`},
		"wrong type":    {strings.Replace(deployment, "image: i", "image: [i]", 1), "cannot unmarshal array"},
		"unknown kind":  {strings.Replace(deployment, "kind: Deployment", "kind: Deploymnet", 1), "no Go API type"},
		"missing name":  {strings.Replace(deployment, "name: x\n", "labels: {}\n", 1), "metadata.name is empty"},
		"KEDA misspelt": {"apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: s}\nspec:\n  scaleTargetRef: {name: w}\n  minReplicas: 1\n  triggers: []\n", `unknown field "spec.minReplicas"`},
	} {
		_, err := decodeStrict([]byte(c.doc))
		require.ErrorContains(t, err, c.want, name)
	}
}

// The worker's probes ask the paths the ops server registers, on the port
// HTTP_ADDR makes it listen on, and the scrape annotation names /metrics
// on the same port.
func TestWorkerProbesPointAtServedPathsAndPort(t *testing.T) {
	objs := load(t)
	worker := get[*appsv1.Deployment](t, objs, "Deployment", workerName)
	c := container(t, worker, "worker")
	served := servedGETPaths(t)
	port := httpAddrPort(t, get[*corev1.ConfigMap](t, objs, "ConfigMap", configName))

	for probeName, want := range map[string]struct {
		probe *corev1.Probe
		path  string
	}{
		"readiness": {c.ReadinessProbe, "/readyz"},
		"liveness":  {c.LivenessProbe, "/healthz"},
		"startup":   {c.StartupProbe, "/healthz"},
	} {
		require.NotNil(t, want.probe, "the worker has no %s probe", probeName)
		get := want.probe.HTTPGet
		require.NotNil(t, get, "the %s probe is not an HTTP GET", probeName)
		require.Equal(t, want.path, get.Path, "%s probe path", probeName)
		require.True(t, served[get.Path], "the ops server does not serve GET %s (it serves %v)", get.Path, served)
		require.Equal(t, port, containerPort(t, c, get.Port.String()), "%s probe port", probeName)
	}
	require.Greater(t, c.ReadinessProbe.TimeoutSeconds, int32(2),
		"/readyz may take its 2 s check timeout to answer 503: the probe must wait longer")

	ann := worker.Spec.Template.Annotations
	require.Equal(t, "true", ann["prometheus.io/scrape"])
	require.Equal(t, "/metrics", ann["prometheus.io/path"])
	require.True(t, served["/metrics"])
	require.Equal(t, port, containerPort(t, c, ann["prometheus.io/port"]))
}

// httpAddrPort is the port of HTTP_ADDR in the ConfigMap.
func httpAddrPort(t *testing.T, cm *corev1.ConfigMap) int32 {
	t.Helper()
	addr, ok := cm.Data["HTTP_ADDR"]
	require.True(t, ok, "the ConfigMap does not set HTTP_ADDR")
	_, p, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	return int32(mustAtoi(t, p))
}

// container returns the named container of a Deployment's pods.
func container(t *testing.T, d *appsv1.Deployment, name string) corev1.Container {
	t.Helper()
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name == name {
			return c
		}
	}
	require.FailNow(t, "no container", "Deployment %s has no container %q", d.Name, name)
	return corev1.Container{}
}

// containerPort resolves a port given by name or number to a number the
// container declares.
func containerPort(t *testing.T, c corev1.Container, port string) int32 {
	t.Helper()
	for _, p := range c.Ports {
		if p.Name == port || (port != "" && strings.TrimLeft(port, "0123456789") == "" && p.ContainerPort == int32(mustAtoi(t, port))) {
			return p.ContainerPort
		}
	}
	require.FailNow(t, "no port", "container %s declares no port %q", c.Name, port)
	return 0
}
