package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// object is one document of a Kubernetes manifest, with what the checks
// read of each kind; spec is decoded by kind (service, workload).
type object struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Data       map[string]string `yaml:"data"`       // ConfigMap, Secret
	StringData map[string]string `yaml:"stringData"` // Secret
	Spec       yaml.Node         `yaml:"spec"`

	where string // file and document index, for messages
}

type service struct {
	ClusterIP                string            `yaml:"clusterIP"`
	PublishNotReadyAddresses bool              `yaml:"publishNotReadyAddresses"`
	Selector                 map[string]string `yaml:"selector"`
	Ports                    []struct {
		Name       string `yaml:"name"`
		Port       int    `yaml:"port"`
		TargetPort string `yaml:"targetPort"` // a number or a container port's name
	} `yaml:"ports"`
}

// workload is a Deployment's or a StatefulSet's spec.
type workload struct {
	Replicas    int    `yaml:"replicas"`
	ServiceName string `yaml:"serviceName"`
	Selector    struct {
		MatchLabels map[string]string `yaml:"matchLabels"`
	} `yaml:"selector"`
	Template struct {
		Metadata struct {
			Labels map[string]string `yaml:"labels"`
		} `yaml:"metadata"`
		Spec struct {
			TerminationGracePeriodSeconds int         `yaml:"terminationGracePeriodSeconds"`
			Containers                    []container `yaml:"containers"`
			Volumes                       []struct {
				Name      string `yaml:"name"`
				ConfigMap *struct {
					Name string `yaml:"name"`
				} `yaml:"configMap"`
				Secret *struct {
					SecretName string `yaml:"secretName"`
				} `yaml:"secret"`
			} `yaml:"volumes"`
		} `yaml:"spec"`
	} `yaml:"template"`
	VolumeClaimTemplates []struct {
		Metadata struct {
			Name string `yaml:"name"`
		} `yaml:"metadata"`
		Spec struct {
			Resources struct {
				Requests map[string]string `yaml:"requests"`
			} `yaml:"resources"`
		} `yaml:"spec"`
	} `yaml:"volumeClaimTemplates"`

	name string
}

type container struct {
	Name    string   `yaml:"name"`
	Image   string   `yaml:"image"`
	Command []string `yaml:"command"`
	Args    []string `yaml:"args"`
	Env     []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			FieldRef *struct {
				FieldPath string `yaml:"fieldPath"`
			} `yaml:"fieldRef"`
			SecretKeyRef *struct {
				Name string `yaml:"name"`
				Key  string `yaml:"key"`
			} `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	StartupProbe   *probe `yaml:"startupProbe"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	VolumeMounts   []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
	Exec *struct {
		Command []string `yaml:"command"`
	} `yaml:"exec"`
}

// manifests are the objects of a folder's Kubernetes manifests.
type manifests struct {
	objects   []object
	services  map[string]service
	workloads map[string]workload // by kind/name
}

// loadManifests reads every document of files (in dir) and checks that
// each is an object: apiVersion, kind and metadata.name.
func loadManifests(t *testing.T, dir string, files []string) *manifests {
	t.Helper()
	m := &manifests{services: map[string]service{}, workloads: map[string]workload{}}
	for _, f := range files {
		dec := yaml.NewDecoder(bytes.NewReader([]byte(read(t, filepath.Join(dir, f)))))
		for i := 0; ; i++ {
			var o object
			err := dec.Decode(&o)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: document %d: %v", f, i, err)
			}
			o.where = fmt.Sprintf("%s[%d] %s %s", f, i, o.Kind, o.Metadata.Name)
			if o.APIVersion == "" || o.Kind == "" || o.Metadata.Name == "" {
				t.Errorf("%s: want apiVersion, kind and metadata.name", o.where)
			}
			m.objects = append(m.objects, o)
			switch o.Kind {
			case "Service":
				var s service
				decodeSpec(t, o, &s)
				m.services[o.Metadata.Name] = s
			case "Deployment", "StatefulSet":
				w := workload{name: o.Metadata.Name}
				decodeSpec(t, o, &w)
				m.workloads[o.Kind+"/"+o.Metadata.Name] = w
			}
		}
	}
	return m
}

func decodeSpec(t *testing.T, o object, v any) {
	t.Helper()
	if err := o.Spec.Decode(v); err != nil {
		t.Fatalf("%s: spec: %v", o.where, err)
	}
}

func (m *manifests) object(kind, name string) (object, bool) {
	for _, o := range m.objects {
		if o.Kind == kind && o.Metadata.Name == name {
			return o, true
		}
	}
	return object{}, false
}

// selects reports whether a selector picks the pods labelled labels.
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// port is the number of the container's port ref names (a name or a
// number), or 0.
func (c container) port(ref string) int {
	for _, p := range c.Ports {
		if p.Name == ref || strconv.Itoa(p.ContainerPort) == ref {
			return p.ContainerPort
		}
	}
	return 0
}

// env is the container's variable name: its value, or "fieldRef:PATH",
// "secret:NAME/KEY"; ok is false when the container does not set it.
func (c container) env(name string) (value string, ok bool) {
	for _, e := range c.Env {
		switch {
		case e.Name != name:
		case e.ValueFrom == nil:
			return e.Value, true
		case e.ValueFrom.FieldRef != nil:
			return "fieldRef:" + e.ValueFrom.FieldRef.FieldPath, true
		case e.ValueFrom.SecretKeyRef != nil:
			return "secret:" + e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key, true
		}
	}
	return "", false
}

// mounted is the volume mounted at dir, or "".
func (c container) mounted(dir string) string {
	for _, vm := range c.VolumeMounts {
		if filepath.Clean(vm.MountPath) == filepath.Clean(dir) {
			return vm.Name
		}
	}
	return ""
}

// checkWorkloads checks what holds a workload together: its selector picks
// its pods, a StatefulSet has its headless Service, every probe, mount,
// ConfigMap, Secret key and $(VAR) in args names something that exists.
func (m *manifests) checkWorkloads(t *testing.T) {
	t.Helper()
	for _, id := range slices.Sorted(maps.Keys(m.workloads)) {
		w := m.workloads[id]
		if !selects(w.Selector.MatchLabels, w.Template.Metadata.Labels) {
			t.Errorf("%s: selector %v does not pick its pods (labels %v)", id, w.Selector.MatchLabels, w.Template.Metadata.Labels)
		}
		if strings.HasPrefix(id, "StatefulSet/") {
			s, ok := m.services[w.ServiceName]
			switch {
			case !ok:
				t.Errorf("%s: serviceName %q: no such Service", id, w.ServiceName)
			case s.ClusterIP != "None" || !selects(s.Selector, w.Template.Metadata.Labels):
				t.Errorf("%s: Service %s must be headless (clusterIP: None) and select the pods", id, w.ServiceName)
			}
		}
		volumes := map[string]bool{}
		for _, v := range w.Template.Spec.Volumes {
			volumes[v.Name] = true
			if v.ConfigMap != nil {
				if _, ok := m.object("ConfigMap", v.ConfigMap.Name); !ok {
					t.Errorf("%s: volume %s: no ConfigMap %s", id, v.Name, v.ConfigMap.Name)
				}
			}
			if v.Secret != nil {
				if _, ok := m.object("Secret", v.Secret.SecretName); !ok {
					t.Errorf("%s: volume %s: no Secret %s", id, v.Name, v.Secret.SecretName)
				}
			}
		}
		for _, c := range w.VolumeClaimTemplates {
			volumes[c.Metadata.Name] = true
		}
		for _, c := range w.Template.Spec.Containers {
			m.checkContainer(t, id+" container "+c.Name, c, volumes)
		}
	}
}

func (m *manifests) checkContainer(t *testing.T, where string, c container, volumes map[string]bool) {
	t.Helper()
	if c.Image == "" {
		t.Errorf("%s: no image", where)
	}
	for kind, p := range map[string]*probe{"startup": c.StartupProbe, "liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		if p != nil && p.HTTPGet != nil && c.port(p.HTTPGet.Port) == 0 {
			t.Errorf("%s: %s probe on port %q, which the container does not declare", where, kind, p.HTTPGet.Port)
		}
	}
	for _, vm := range c.VolumeMounts {
		if !volumes[vm.Name] {
			t.Errorf("%s: mounts %s, which is no volume of the pod", where, vm.Name)
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			continue
		}
		ref := e.ValueFrom.SecretKeyRef
		s, ok := m.object("Secret", ref.Name)
		_, inStringData := s.StringData[ref.Key]
		_, inData := s.Data[ref.Key]
		if !ok || !inStringData && !inData {
			t.Errorf("%s: env %s: no key %s in a Secret %s", where, e.Name, ref.Key, ref.Name)
		}
	}
	// Kubernetes expands $(VAR) in command and args only for variables the
	// container defines; any other stays as written.
	for _, a := range append(slices.Clone(c.Command), c.Args...) {
		for _, ref := range varRefs(a) {
			if _, ok := c.env(ref); !ok {
				t.Errorf("%s: %q refers to $(%s), which the container does not define", where, a, ref)
			}
		}
	}
}

// varRefs are the names of the $(VAR) references in s.
func varRefs(s string) []string {
	var out []string
	for {
		_, after, ok := strings.Cut(s, "$(")
		if !ok {
			return out
		}
		name, rest, ok := strings.Cut(after, ")")
		if !ok {
			return out
		}
		out, s = append(out, name), rest
	}
}

// checkServices checks that each Service selects the pods of a workload
// and sends to ports their containers declare.
func (m *manifests) checkServices(t *testing.T) {
	t.Helper()
	for _, name := range slices.Sorted(maps.Keys(m.services)) {
		s := m.services[name]
		var picked []workload
		for _, w := range m.workloads {
			if selects(s.Selector, w.Template.Metadata.Labels) {
				picked = append(picked, w)
			}
		}
		if len(picked) == 0 {
			t.Errorf("Service %s: selector %v picks the pods of no workload", name, s.Selector)
			continue
		}
		for _, p := range s.Ports {
			target := firstSet(p.TargetPort, strconv.Itoa(p.Port))
			for _, w := range picked {
				if !slices.ContainsFunc(w.Template.Spec.Containers, func(c container) bool { return c.port(target) != 0 }) {
					t.Errorf("Service %s: port %s: targetPort %s is no container port of %s", name, p.Name, target, w.name)
				}
			}
		}
	}
}
