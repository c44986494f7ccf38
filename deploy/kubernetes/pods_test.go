package kubernetes_test

import (
	"path"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// deployments is the base's Deployments: the worker and the scheduler.
func deployments(t *testing.T, objs objects) []*appsv1.Deployment {
	t.Helper()
	return []*appsv1.Deployment{
		get[*appsv1.Deployment](t, objs, "Deployment", workerName),
		get[*appsv1.Deployment](t, objs, "Deployment", schedulerName),
	}
}

// A stopping worker lets in-flight tasks run for SHUTDOWN_TIMEOUT, then
// takes up to 5 s more to stop its ops server (internal/worker): the pod's
// grace period must cover both, or the kubelet kills it mid-task.
func TestWorkerGracePeriodOutlastsShutdownTimeout(t *testing.T) {
	objs := load(t)
	cm := get[*corev1.ConfigMap](t, objs, "ConfigMap", configName)
	shutdown, err := time.ParseDuration(cm.Data["SHUTDOWN_TIMEOUT"])
	require.NoError(t, err, "SHUTDOWN_TIMEOUT in the ConfigMap")
	worker := get[*appsv1.Deployment](t, objs, "Deployment", workerName)
	grace := worker.Spec.Template.Spec.TerminationGracePeriodSeconds
	require.NotNil(t, grace, "the worker sets no terminationGracePeriodSeconds (Kubernetes' default is 30 s)")
	require.Greater(t, time.Duration(*grace)*time.Second, shutdown+5*time.Second)
}

// Every pod runs as a non-root user on a read-only root filesystem with
// no privileges to gain, no Kubernetes API token, and requests and limits
// for CPU and memory.
func TestPodsRunLockedDown(t *testing.T) {
	for _, d := range deployments(t, load(t)) {
		spec := d.Spec.Template.Spec
		require.NotNil(t, spec.SecurityContext, d.Name)
		sc := spec.SecurityContext
		require.True(t, sc.RunAsNonRoot != nil && *sc.RunAsNonRoot, "%s: runAsNonRoot", d.Name)
		// distroless's nonroot user, which the Dockerfile's USER names;
		// numeric, so the kubelet can check runAsNonRoot.
		require.True(t, sc.RunAsUser != nil && *sc.RunAsUser == 65532, "%s: runAsUser 65532", d.Name)
		require.True(t, spec.AutomountServiceAccountToken != nil && !*spec.AutomountServiceAccountToken,
			"%s: automountServiceAccountToken false", d.Name)
		for _, c := range spec.Containers {
			csc := c.SecurityContext
			require.NotNil(t, csc, "%s/%s", d.Name, c.Name)
			require.True(t, csc.ReadOnlyRootFilesystem != nil && *csc.ReadOnlyRootFilesystem, "%s/%s: read-only root", d.Name, c.Name)
			require.True(t, csc.AllowPrivilegeEscalation != nil && !*csc.AllowPrivilegeEscalation, "%s/%s: no privilege escalation", d.Name, c.Name)
			require.NotNil(t, csc.Capabilities, "%s/%s: capabilities", d.Name, c.Name)
			require.Contains(t, csc.Capabilities.Drop, corev1.Capability("ALL"), "%s/%s: drop ALL capabilities", d.Name, c.Name)
			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				req, lim := c.Resources.Requests[r], c.Resources.Limits[r]
				require.False(t, req.IsZero(), "%s/%s: no %s request", d.Name, c.Name, r)
				require.False(t, lim.IsZero(), "%s/%s: no %s limit", d.Name, c.Name, r)
				require.LessOrEqual(t, req.Cmp(lim), 0, "%s/%s: %s request above its limit", d.Name, c.Name, r)
			}
		}
	}
}

// Each container runs a binary the Dockerfile builds (./cmd/NAME to
// /usr/local/bin/NAME).
func TestContainersRunTheImagesBinaries(t *testing.T) {
	for _, d := range deployments(t, load(t)) {
		for _, c := range d.Spec.Template.Spec.Containers {
			require.NotEmpty(t, c.Command, "%s/%s", d.Name, c.Name)
			require.Equal(t, "/usr/local/bin", path.Dir(c.Command[0]), "%s/%s", d.Name, c.Name)
			require.DirExists(t, repoRoot+"/cmd/"+path.Base(c.Command[0]), "%s/%s runs a binary the image does not hold", d.Name, c.Name)
		}
	}
}

// Secrets are files: every *_FILE variable and CLIENTS_FILE points into a
// read-only mount of the Secret in every container, and no secret variable
// is given in plain form. Every other key of the ConfigMap is a variable
// adsync reads.
func TestConfigMapHoldsVariablesAndSecretsAreFiles(t *testing.T) {
	objs := load(t)
	cm := get[*corev1.ConfigMap](t, objs, "ConfigMap", configName)
	known := configVariables(t)
	for _, plain := range []string{"DATABASE_URL", "REDIS_URL", "PLATFORM_PASSWORD", "ASYNQMON_PASSWORD"} {
		require.NotContains(t, cm.Data, plain, "a secret in the ConfigMap: use %s_FILE", plain)
	}
	var files []string
	for k, v := range cm.Data {
		base, isFile := strings.CutSuffix(k, "_FILE")
		require.True(t, known[k] || (isFile && known[base]), "ConfigMap key %s is no variable of internal/config", k)
		if isFile {
			files = append(files, v)
		}
	}
	require.NotEmpty(t, files, "the ConfigMap names no secret file")
	for _, d := range deployments(t, objs) {
		spec := d.Spec.Template.Spec
		secretVolume := ""
		for _, v := range spec.Volumes {
			if v.Secret != nil && v.Secret.SecretName == secretName {
				secretVolume = v.Name
				require.True(t, v.Secret.Optional == nil || !*v.Secret.Optional, "%s: the Secret must not be optional", d.Name)
				require.NotNil(t, v.Secret.DefaultMode)
				require.Zero(t, *v.Secret.DefaultMode&0o007, "%s: secret files readable by others", d.Name)
			}
		}
		require.NotEmpty(t, secretVolume, "%s mounts no Secret %s", d.Name, secretName)
		for _, c := range spec.Containers {
			require.Contains(t, envFromConfigMaps(c), configName, "%s/%s does not read the ConfigMap", d.Name, c.Name)
			for _, f := range files {
				m := mountOf(c, f)
				require.NotNil(t, m, "%s/%s: %s is on no volume", d.Name, c.Name, f)
				require.Equal(t, secretVolume, m.Name, "%s/%s: %s is not on the Secret's volume", d.Name, c.Name, f)
				require.True(t, m.ReadOnly, "%s/%s: the Secret is mounted writable", d.Name, c.Name)
			}
		}
	}
}

func envFromConfigMaps(c corev1.Container) []string {
	var names []string
	for _, e := range c.EnvFrom {
		if e.ConfigMapRef != nil {
			names = append(names, e.ConfigMapRef.Name)
		}
	}
	return names
}

// mountOf is the volume mount holding file, or nil.
func mountOf(c corev1.Container, file string) *corev1.VolumeMount {
	for i, m := range c.VolumeMounts {
		if strings.HasPrefix(file, strings.TrimSuffix(m.MountPath, "/")+"/") {
			return &c.VolumeMounts[i]
		}
	}
	return nil
}

// The scheduler is one replica of `enqueuer schedule --every D`, replaced
// by Recreate so a rollout does not run two on purpose (two would be safe:
// the run ledger refuses a second running run of a client).
func TestSchedulerIsOneReplicaOfEnqueuerSchedule(t *testing.T) {
	d := get[*appsv1.Deployment](t, load(t), "Deployment", schedulerName)
	require.NotNil(t, d.Spec.Replicas)
	require.Equal(t, int32(1), *d.Spec.Replicas)
	require.Equal(t, appsv1.RecreateDeploymentStrategyType, d.Spec.Strategy.Type)
	cmd := container(t, d, "scheduler").Command
	require.Len(t, cmd, 4)
	require.Equal(t, []string{"enqueuer", "schedule", "--every"}, []string{path.Base(cmd[0]), cmd[1], cmd[2]})
	every, err := time.ParseDuration(cmd[3])
	require.NoError(t, err)
	require.Positive(t, every)
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	require.NoError(t, err, "not a number: %q", s)
	return n
}
