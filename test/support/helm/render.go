// Command render is a test tool (not shipped): it renders a Helm chart the way `helm template`
// does, with Go's text/template, sprig and Helm's own template functions, so that tests can check
// the chart without a helm binary.
//
//	render -chart DIR [-values FILE.json]... [-release NAME] [-namespace NS] [-upgrade] [-values-only]
//
// Output (stdout, JSON): {"values": merged values, "manifests": [{"template", "object"}], "notes"}.
// On a template error it prints Helm's message ("execution error at (...): ...") to stderr and
// exits 1.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	"sigs.k8s.io/yaml"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

type chartMeta struct {
	APIVersion  string `json:"apiVersion"`
	Name        string `json:"name"`
	Version     string `json:"version"`
	AppVersion  string `json:"appVersion"`
	Description string `json:"description"`
	Type        string `json:"type"`
	KubeVersion string `json:"kubeVersion"`
}

// Helm exposes Chart.yaml fields capitalised (.Chart.Name, .Chart.AppVersion).
func (c chartMeta) values() map[string]interface{} {
	return map[string]interface{}{
		"APIVersion": c.APIVersion, "Name": c.Name, "Version": c.Version, "AppVersion": c.AppVersion,
		"Description": c.Description, "Type": c.Type, "KubeVersion": c.KubeVersion,
	}
}

// coalesce merges src over dst as Helm does for user values: maps merge deeply, a null in src
// deletes the key, anything else replaces.
func coalesce(dst, src map[string]interface{}) map[string]interface{} {
	out := map[string]interface{}{}
	for k, v := range dst {
		out[k] = v
	}
	for k, v := range src {
		if v == nil {
			delete(out, k)
			continue
		}
		sm, sok := v.(map[string]interface{})
		dm, dok := out[k].(map[string]interface{})
		if sok && dok {
			out[k] = coalesce(dm, sm)
		} else {
			out[k] = v
		}
	}
	return out
}

func readYAMLMap(file string) (map[string]interface{}, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	m := map[string]interface{}{}
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return m, nil
}

func toYAML(v interface{}) string {
	data, err := yaml.Marshal(v)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(data), "\n")
}

func fromYAML(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func fromYAMLArray(s string) []interface{} {
	a := []interface{}{}
	if err := yaml.Unmarshal([]byte(s), &a); err != nil {
		a = []interface{}{err.Error()}
	}
	return a
}

func toJSON(v interface{}) string {
	data, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(data)
}

func fromJSON(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

// files is Helm's .Files for the chart's non-template files.
type files map[string][]byte

func (f files) Get(name string) string { return string(f[name]) }
func (f files) Glob(pattern string) files {
	out := files{}
	for name, data := range f {
		if ok, _ := path.Match(pattern, name); ok {
			out[name] = data
		}
	}
	return out
}
func (f files) Lines(name string) []string {
	return strings.Split(strings.TrimSuffix(string(f[name]), "\n"), "\n")
}

type renderer struct {
	tmpl *template.Template
}

func (r *renderer) funcs() template.FuncMap {
	f := sprig.TxtFuncMap()
	// Helm removes these: a chart must not read the environment of the machine running helm.
	delete(f, "env")
	delete(f, "expandenv")
	f["toYaml"] = toYAML
	f["fromYaml"] = fromYAML
	f["fromYamlArray"] = fromYAMLArray
	f["toJson"] = toJSON
	f["fromJson"] = fromJSON
	f["toToml"] = func(interface{}) (string, error) { return "", errors.New("toToml is not implemented by the test renderer") }
	f["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil {
			return v, errors.New(warnWrap(msg))
		}
		if s, ok := v.(string); ok && s == "" {
			return v, errors.New(warnWrap(msg))
		}
		return v, nil
	}
	f["fail"] = func(msg string) (string, error) { return "", errors.New(warnWrap(msg)) }
	// As `helm template`: no cluster, so lookup finds nothing.
	f["lookup"] = func(string, string, string, string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil
	}
	f["include"] = func(name string, data interface{}) (string, error) {
		var buf bytes.Buffer
		if err := r.tmpl.ExecuteTemplate(&buf, name, data); err != nil {
			return "", err
		}
		return buf.String(), nil
	}
	f["tpl"] = func(text string, data interface{}) (string, error) {
		t, err := r.tmpl.Clone()
		if err != nil {
			return "", err
		}
		t, err = t.New("tpl").Parse(text)
		if err != nil {
			return "", fmt.Errorf("cannot parse template %q: %w", text, err)
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, data); err != nil {
			return "", err
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
	return f
}

// As Helm: required and fail mark their message so that it can be found inside the chain of
// template errors (include in include ...).
const warnStart, warnEnd = "HELM_ERR_START", "HELM_ERR_END"

func warnWrap(msg string) string { return warnStart + msg + warnEnd }

var warnRegex = regexp.MustCompile(warnStart + `((?s).*)` + warnEnd)

// helmError rewrites Go's template error the way Helm's engine reports it: the outermost
// template's location and the message of required/fail.
func helmError(err error) string {
	var execErr template.ExecError
	if !errors.As(err, &execErr) {
		return err.Error()
	}
	tokens := strings.SplitN(err.Error(), ": ", 3)
	if len(tokens) != 3 {
		return fmt.Sprintf("execution error in (%s): %s", execErr.Name, err)
	}
	if parts := warnRegex.FindStringSubmatch(tokens[2]); len(parts) >= 2 {
		return fmt.Sprintf("execution error at (%s): %s", tokens[1], parts[1])
	}
	return err.Error()
}

type manifest struct {
	Template string      `json:"template"`
	Object   interface{} `json:"object"`
}

func main() {
	chartDir := flag.String("chart", "", "chart directory")
	release := flag.String("release", "kvm", "release name")
	namespace := flag.String("namespace", "default", "namespace")
	upgrade := flag.Bool("upgrade", false, "render as an upgrade")
	valuesOnly := flag.Bool("values-only", false, "print the merged values and stop (helm validates them before rendering)")
	var valueFiles listFlag
	flag.Var(&valueFiles, "values", "values file (YAML or JSON), repeatable")
	flag.Parse()
	if err := run(*chartDir, *release, *namespace, *upgrade, *valuesOnly, valueFiles); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}

func run(chartDir, release, namespace string, upgrade, valuesOnly bool, valueFiles []string) error {
	metaData, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		return err
	}
	var meta chartMeta
	if err := yaml.Unmarshal(metaData, &meta); err != nil {
		return fmt.Errorf("Chart.yaml: %w", err)
	}
	values, err := readYAMLMap(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		return err
	}
	for _, file := range valueFiles {
		user, err := readYAMLMap(file)
		if err != nil {
			return err
		}
		values = coalesce(values, user)
	}
	if valuesOnly {
		return json.NewEncoder(os.Stdout).Encode(map[string]interface{}{"values": values})
	}

	chartFiles := files{}
	var templateNames []string
	templates := map[string]string{}
	err = filepath.WalkDir(chartDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(chartDir, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.HasPrefix(rel, "templates/") {
			name := meta.Name + "/" + rel
			templates[name] = string(data)
			templateNames = append(templateNames, name)
		} else {
			chartFiles[rel] = data
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(templateNames)

	r := &renderer{}
	r.tmpl = template.New("gotpl").Option("missingkey=zero")
	r.tmpl.Funcs(r.funcs())
	for _, name := range templateNames {
		if _, err := r.tmpl.New(name).Parse(templates[name]); err != nil {
			return err
		}
	}

	top := map[string]interface{}{
		"Values": values,
		"Chart":  meta.values(),
		"Release": map[string]interface{}{
			"Name": release, "Namespace": namespace, "IsUpgrade": upgrade, "IsInstall": !upgrade,
			"Revision": 1, "Service": "Helm",
		},
		"Capabilities": map[string]interface{}{
			"KubeVersion": map[string]interface{}{"Version": "v1.30.0", "Major": "1", "Minor": "30", "GitVersion": "v1.30.0"},
			"APIVersions": apiVersions{"v1", "apps/v1", "policy/v1", "networking.k8s.io/v1", "monitoring.coreos.com/v1"},
		},
		"Files": chartFiles,
	}

	var out []manifest
	notes := ""
	for _, name := range templateNames {
		base := path.Base(name)
		if strings.HasPrefix(base, "_") {
			continue
		}
		data := map[string]interface{}{}
		for k, v := range top {
			data[k] = v
		}
		data["Template"] = map[string]interface{}{"Name": name, "BasePath": meta.Name + "/templates"}
		var buf bytes.Buffer
		if err := r.tmpl.ExecuteTemplate(&buf, name, data); err != nil {
			return errors.New(helmError(err))
		}
		text := strings.ReplaceAll(buf.String(), "<no value>", "")
		if base == "NOTES.txt" {
			notes = text
			continue
		}
		for i, doc := range splitDocuments(text) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			js, err := yaml.YAMLToJSON([]byte(doc))
			if err != nil {
				return fmt.Errorf("YAML parse error on %s (document %d): %w", name, i+1, err)
			}
			var obj interface{}
			if err := json.Unmarshal(js, &obj); err != nil {
				return err
			}
			if obj == nil {
				continue
			}
			out = append(out, manifest{Template: name, Object: obj})
		}
	}
	enc := json.NewEncoder(os.Stdout)
	return enc.Encode(map[string]interface{}{"values": values, "manifests": out, "notes": notes})
}

type apiVersions []string

// Has answers .Capabilities.APIVersions.Has "group/version".
func (a apiVersions) Has(v string) bool {
	for _, x := range a {
		if x == v {
			return true
		}
	}
	return false
}

var separator = regexp.MustCompile(`(?m)^---[ \t]*$`)

func splitDocuments(text string) []string { return separator.Split(text, -1) }

func stripComments(doc string) string {
	var keep []string
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}
