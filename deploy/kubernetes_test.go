package deploy

import (
	"fmt"
	"net"
	"net/url"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

type kustomization struct {
	APIVersion string   `yaml:"apiVersion"`
	Kind       string   `yaml:"kind"`
	Namespace  string   `yaml:"namespace"`
	Resources  []string `yaml:"resources"`
	Images     []struct {
		Name    string `yaml:"name"`
		NewName string `yaml:"newName"`
		NewTag  string `yaml:"newTag"`
	} `yaml:"images"`
}

func TestKubernetes(t *testing.T) {
	var k kustomization
	if err := yaml.Unmarshal([]byte(read(t, "kubernetes/kustomization.yaml")), &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Errorf("kustomization.yaml: apiVersion %q, kind %q", k.APIVersion, k.Kind)
	}
	files, err := filepath.Glob("kubernetes/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var manifestFiles []string
	for _, f := range files {
		if f := filepath.Base(f); f != "kustomization.yaml" {
			manifestFiles = append(manifestFiles, f)
		}
	}
	if !slices.Equal(slices.Sorted(slices.Values(k.Resources)), manifestFiles) {
		t.Errorf("kustomization.yaml: resources %v, want every manifest of the folder: %v", k.Resources, manifestFiles)
	}
	m := loadManifests(t, "kubernetes", manifestFiles)
	m.checkWorkloads(t)
	m.checkServices(t)
	nats := checkNATSCluster(t, m)
	pg := checkPostgres(t, m)
	image := checkSluice(t, m, nats, pg)
	if !slices.ContainsFunc(k.Images, func(i struct {
		Name    string `yaml:"name"`
		NewName string `yaml:"newName"`
		NewTag  string `yaml:"newTag"`
	}) bool {
		return i.Name == image && i.NewName != ""
	}) {
		t.Errorf("kustomization.yaml: images: want the registry of image %q (newName)", image)
	}
}

// find is the workload whose first container is matched by match.
func (m *manifests) find(t *testing.T, kind, what string, match func(container) bool) (workload, container) {
	t.Helper()
	for id, w := range m.workloads {
		if strings.HasPrefix(id, kind+"/") && len(w.Template.Spec.Containers) > 0 && match(w.Template.Spec.Containers[0]) {
			return w, w.Template.Spec.Containers[0]
		}
	}
	t.Fatalf("no %s runs %s", kind, what)
	return workload{}, container{}
}

// configFile is the text of the file at path in c, from the ConfigMap
// mounted at its folder.
func (m *manifests) configFile(t *testing.T, where string, w workload, c container, file string) string {
	t.Helper()
	vol := c.mounted(path.Dir(file))
	for _, v := range w.Template.Spec.Volumes {
		if v.Name != vol || v.ConfigMap == nil {
			continue
		}
		cm, _ := m.object("ConfigMap", v.ConfigMap.Name)
		if text, ok := cm.Data[path.Base(file)]; ok {
			return text
		}
		t.Fatalf("%s: ConfigMap %s has no %s", where, v.ConfigMap.Name, path.Base(file))
	}
	t.Fatalf("%s: %s is in no ConfigMap mounted in the container", where, file)
	return ""
}

// flagValue is the value following flag in args, or "".
func flagValue(args []string, flag string) string {
	if i := slices.Index(args, flag); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}

// natsCluster is what the sluice nodes need to know of the NATS cluster.
type natsCluster struct {
	replicas int
	clients  []string // host:port of each server's client port
}

// checkNATSCluster checks the NATS StatefulSet and its nats-server.conf:
// the version sluice is tested with, one route to each pod, JetStream
// storing on the pod's own volume, under a limit below the volume's size.
func checkNATSCluster(t *testing.T, m *manifests) natsCluster {
	t.Helper()
	w, c := m.find(t, "StatefulSet", "nats", func(c container) bool { return strings.HasPrefix(c.Image, "nats:") })
	where := "StatefulSet " + w.name
	if tag, want := strings.TrimPrefix(c.Image, "nats:"), testedNATS(t); tag != want && !strings.HasPrefix(tag, want+".") && !strings.HasPrefix(tag, want+"-") {
		t.Errorf("%s: image %s, want nats-server %s as sluice is tested with (go.mod)", where, c.Image, want)
	}
	if w.Replicas < 3 || w.Replicas%2 == 0 {
		t.Errorf("%s: %d replicas, want an odd number, at least 3, for a JetStream quorum", where, w.Replicas)
	}
	if !m.services[w.ServiceName].PublishNotReadyAddresses {
		t.Errorf("%s: Service %s must publish not ready addresses: the servers find each other before they are ready", where, w.ServiceName)
	}
	// The variables of the conf as one pod sees them.
	env := map[string]string{}
	for _, e := range c.Env {
		v, _ := c.env(e.Name)
		if v == "fieldRef:metadata.name" {
			v = w.name + "-0"
		}
		env[e.Name] = v
	}
	file := flagValue(c.Args, "--config")
	conf := parseNATS(t, where+" "+file, m.configFile(t, where, w, c, file), env)
	o := conf.opts
	if o.ServerName != w.name+"-0" {
		t.Errorf("%s: server_name %q, want the pod's name ($POD_NAME): unique per server", where, o.ServerName)
	}
	var routes, clients []string
	for i := range w.Replicas {
		host := fmt.Sprintf("%s-%d.%s", w.name, i, w.ServiceName)
		routes = append(routes, net.JoinHostPort(host, strconv.Itoa(o.Cluster.Port)))
		clients = append(clients, net.JoinHostPort(host, strconv.Itoa(o.Port)))
	}
	if !slices.Equal(conf.routes(), routes) {
		t.Errorf("%s: routes %v, want one to each pod: %v", where, conf.routes(), routes)
	}
	for what, port := range map[string]int{"client": o.Port, "cluster": o.Cluster.Port, "monitoring": o.HTTPPort} {
		if c.port(strconv.Itoa(port)) == 0 {
			t.Errorf("%s: the %s port %d is not a container port", where, what, port)
		}
	}
	for _, p := range []*probe{c.StartupProbe, c.LivenessProbe, c.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil || c.port(p.HTTPGet.Port) != o.HTTPPort || !strings.HasPrefix(p.HTTPGet.Path, "/healthz") {
			t.Errorf("%s: want startup, liveness and readiness probes on /healthz of the monitoring port %d", where, o.HTTPPort)
			break
		}
	}
	var volume string
	for _, vm := range c.VolumeMounts {
		if strings.HasPrefix(o.StoreDir+"/", strings.TrimSuffix(vm.MountPath, "/")+"/") {
			volume = vm.Name
		}
	}
	claimed := false
	for _, v := range w.VolumeClaimTemplates {
		if v.Metadata.Name != volume {
			continue
		}
		claimed = true
		size, err := quantity(v.Spec.Resources.Requests["storage"])
		if err != nil {
			t.Errorf("%s: volume %s: %v", where, volume, err)
		} else if o.JetStreamMaxStore >= size {
			t.Errorf("%s: max_file_store %d is not below the volume's %d bytes: JetStream would fill it", where, o.JetStreamMaxStore, size)
		}
	}
	if !claimed {
		t.Errorf("%s: store_dir %s is on no volume of the volumeClaimTemplates: each server needs its own", where, o.StoreDir)
	}
	return natsCluster{replicas: w.Replicas, clients: clients}
}

// quantity reads a Kubernetes storage quantity ("50Gi", "100G").
func quantity(s string) (int64, error) {
	units := []struct {
		suffix string
		factor int64
	}{{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}, {"", 1}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			n, err := strconv.ParseInt(num, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("storage %q: %w", s, err)
			}
			return n * u.factor, nil
		}
	}
	return 0, fmt.Errorf("storage %q: not a quantity", s)
}

// postgres is how the nodes reach the PostgreSQL of the manifests.
type postgres struct {
	host, user, db string
	password       string // the Secret key of its password, as container.env gives it
}

func checkPostgres(t *testing.T, m *manifests) postgres {
	t.Helper()
	w, c := m.find(t, "StatefulSet", "postgres", func(c container) bool { return strings.HasPrefix(c.Image, "postgres:") })
	pg := postgres{}
	pg.user, _ = c.env("POSTGRES_USER")
	pg.db, _ = c.env("POSTGRES_DB")
	pg.password, _ = c.env("POSTGRES_PASSWORD")
	if pg.user == "" || pg.db == "" || !strings.HasPrefix(pg.password, "secret:") {
		t.Errorf("StatefulSet %s: want POSTGRES_USER, POSTGRES_DB and POSTGRES_PASSWORD from a Secret", w.name)
	}
	for name, s := range m.services {
		if selects(s.Selector, w.Template.Metadata.Labels) && len(s.Ports) > 0 {
			pg.host = net.JoinHostPort(name, strconv.Itoa(s.Ports[0].Port))
		}
	}
	return pg
}

// checkSluice checks the sluice Deployment and its sluice.yaml: serve's
// flags, a valid config, probes on the port it listens on, one name per
// node, the NATS servers and PostgreSQL of the manifests. It returns the
// image's name.
func checkSluice(t *testing.T, m *manifests, nats natsCluster, pg postgres) string {
	t.Helper()
	w, c := m.find(t, "Deployment", "sluice serve", func(c container) bool { return len(c.Args) > 0 && c.Args[0] == "serve" })
	where := "Deployment " + w.name
	flags := serve(t, where, c.Args[1:])
	file := flags["config"]
	if file == "" {
		t.Fatalf("%s: serve has no --config", where)
	}
	cfg := parseConfig(t, where+" "+file, m.configFile(t, where, w, c, file))

	if w.Replicas < 2 {
		t.Errorf("%s: %d replicas, want several nodes", where, w.Replicas)
	}
	if grace := time.Duration(w.Template.Spec.TerminationGracePeriodSeconds) * time.Second; grace <= shutdownTimeout {
		t.Errorf("%s: terminationGracePeriodSeconds %v, want more than serve's %v to stop", where, grace, shutdownTimeout)
	}

	addr := firstSet(flags["addr"], cfg.Addr)
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("%s: addr %q: %v", where, addr, err)
	}
	if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
		t.Errorf("%s: addr %s: on loopback, neither the Service nor the probes reach it", where, addr)
	}
	for kind, want := range map[string]struct {
		p    *probe
		path string
	}{"liveness": {c.LivenessProbe, "/healthz"}, "readiness": {c.ReadinessProbe, "/readyz"}, "startup": {c.StartupProbe, "/healthz"}} {
		switch p := want.p; {
		case p == nil && kind == "startup":
		case p == nil || p.HTTPGet == nil:
			t.Errorf("%s: no %s probe (GET %s)", where, kind, want.path)
		case p.HTTPGet.Path != want.path || strconv.Itoa(c.port(p.HTTPGet.Port)) != port:
			t.Errorf("%s: %s probe GET %s on port %s, want %s on %s (addr %s)", where, kind, p.HTTPGet.Path, p.HTTPGet.Port, want.path, port, addr)
		}
	}
	for name, s := range m.services {
		if selects(s.Selector, w.Template.Metadata.Labels) && !slices.Contains(cfg.HTTP.Hosts, name) {
			t.Errorf("%s: http.hosts %v: without the Service's name %q, requests to it are answered 421", where, cfg.HTTP.Hosts, name)
		}
	}

	// Each node its own name: the pod's.
	refs := varRefs(flags["node"])
	if len(refs) != 1 {
		t.Errorf("%s: --node %q, want the pod's name, $(POD_NAME)", where, flags["node"])
	} else if v, _ := c.env(refs[0]); v != "fieldRef:metadata.name" {
		t.Errorf("%s: --node %q: %s is %q, want the pod's name (fieldRef metadata.name)", where, flags["node"], refs[0], v)
	}

	var servers []string
	for _, s := range strings.Split(firstSet(flags["nats"], cfg.NATS.URL), ",") {
		u, err := url.Parse(s)
		if err != nil || u.Scheme != "nats" {
			t.Errorf("%s: --nats %q: want nats:// URLs", where, s)
			continue
		}
		servers = append(servers, u.Host)
	}
	if !slices.Equal(servers, nats.clients) {
		t.Errorf("%s: --nats names %v, want every NATS server: %v", where, servers, nats.clients)
	}
	if got := cfg.KVReplicas(); got != nats.replicas {
		t.Errorf("%s: nats_replicas %d, want one replica on each of the %d NATS servers", where, got, nats.replicas)
	}

	// More than one node: tables in PostgreSQL, reached with the Secret's password.
	u, err := url.Parse(cfg.TableStore)
	switch {
	case err != nil || u.Scheme != "postgres":
		t.Errorf("%s: table_store %q: want a postgres:// URL, required with more than one node", where, cfg.TableStore)
	case u.Host != pg.host || u.User.Username() != pg.user || u.Path != "/"+pg.db:
		t.Errorf("%s: table_store %s, want postgres://%s@%s/%s", where, cfg.TableStore, pg.user, pg.host, pg.db)
	}
	if _, set := u.User.Password(); set {
		t.Errorf("%s: table_store has a password: a ConfigMap is no place for it (PGPASSWORD from the Secret)", where)
	}
	if v, _ := c.env("PGPASSWORD"); v != pg.password {
		t.Errorf("%s: PGPASSWORD is %q, want PostgreSQL's (%s)", where, v, pg.password)
	}
	return c.Image
}
