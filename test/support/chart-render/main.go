// Renders a Helm chart's templates the way `helm template` does, for the tests of
// charts/terway-node on a machine without Helm: Go's text/template with the sprig functions
// (Helm's own), plus the functions Helm adds (include, tpl, required, toYaml, fromYaml, toJson,
// lookup), and Helm's top-level objects (.Values, .Release, .Chart, .Capabilities, .Template).
//
//	go run . <chart dir> [values override file (YAML or JSON)]
//
// Prints each rendered manifest as `helm template` does: "---", a "# Source:" line, the text.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"sigs.k8s.io/yaml"
)

const releaseName = "terway-node"
const releaseNamespace = "kube-system"

func readYAML(path string) (map[string]interface{}, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]interface{}{}
	if err := yaml.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// merge overlays src on dst as Helm merges -f values: maps deeply, everything else replaced.
func merge(dst, src map[string]interface{}) map[string]interface{} {
	for key, value := range src {
		if sub, ok := value.(map[string]interface{}); ok {
			if base, ok := dst[key].(map[string]interface{}); ok {
				dst[key] = merge(base, sub)
				continue
			}
		}
		dst[key] = value
	}
	return dst
}

func toYAML(v interface{}) string {
	data, err := yaml.Marshal(v)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(data), "\n")
}

func run() error {
	if len(os.Args) < 2 {
		return errors.New("usage: chart-render <chart dir> [values file]")
	}
	chartDir := os.Args[1]
	chartMeta, err := readYAML(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		return err
	}
	values, err := readYAML(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		return err
	}
	if len(os.Args) > 2 {
		override, err := readYAML(os.Args[2])
		if err != nil {
			return err
		}
		values = merge(values, override)
	}
	chart := map[string]interface{}{}
	for key, value := range chartMeta {
		chart[strings.ToUpper(key[:1])+key[1:]] = value
	}
	name, _ := chart["Name"].(string)
	top := map[string]interface{}{
		"Values": values,
		"Chart":  chart,
		"Release": map[string]interface{}{
			"Name": releaseName, "Namespace": releaseNamespace, "Service": "Helm",
			"IsInstall": true, "IsUpgrade": false, "Revision": 1,
		},
		"Capabilities": map[string]interface{}{
			"KubeVersion": map[string]interface{}{"Version": "v1.30.0", "Major": "1", "Minor": "30"},
		},
	}

	root := template.New("chart").Option("missingkey=zero")
	funcs := sprig.TxtFuncMap()
	delete(funcs, "env")
	delete(funcs, "expandenv")
	funcs["toYaml"] = toYAML
	funcs["fromYaml"] = func(s string) map[string]interface{} {
		out := map[string]interface{}{}
		if err := yaml.Unmarshal([]byte(s), &out); err != nil {
			out["Error"] = err.Error()
		}
		return out
	}
	funcs["required"] = func(message string, v interface{}) (interface{}, error) {
		if v == nil || v == "" {
			return v, errors.New(message)
		}
		return v, nil
	}
	funcs["lookup"] = func(...string) map[string]interface{} { return map[string]interface{}{} }
	funcs["include"] = func(name string, data interface{}) (string, error) {
		var out bytes.Buffer
		err := root.ExecuteTemplate(&out, name, data)
		return out.String(), err
	}
	funcs["tpl"] = func(text string, data interface{}) (string, error) {
		t, err := root.Clone()
		if err != nil {
			return "", err
		}
		t, err = t.New("tpl").Parse(text)
		if err != nil {
			return "", err
		}
		var out bytes.Buffer
		err = t.Execute(&out, data)
		return out.String(), err
	}
	root.Funcs(funcs)

	templatesDir := filepath.Join(chartDir, "templates")
	entries, err := os.ReadDir(templatesDir)
	if err != nil {
		return err
	}
	var names []string
	for _, entry := range entries {
		if entry.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(templatesDir, entry.Name()))
		if err != nil {
			return err
		}
		templateName := filepath.Join(name, "templates", entry.Name())
		if _, err := root.New(templateName).Parse(string(data)); err != nil {
			return err
		}
		names = append(names, templateName)
	}
	sort.Strings(names)
	for _, templateName := range names {
		base := filepath.Base(templateName)
		if strings.HasPrefix(base, "_") || strings.HasSuffix(base, ".txt") {
			continue
		}
		data := map[string]interface{}{}
		for key, value := range top {
			data[key] = value
		}
		data["Template"] = map[string]interface{}{
			"Name": templateName, "BasePath": filepath.Join(name, "templates"),
		}
		var out bytes.Buffer
		if err := root.ExecuteTemplate(&out, templateName, data); err != nil {
			return err
		}
		text := strings.ReplaceAll(out.String(), "<no value>", "")
		if strings.TrimSpace(text) == "" {
			continue
		}
		fmt.Printf("---\n# Source: %s\n%s\n", templateName, strings.TrimSpace(text))
	}
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "chart-render:", err)
		os.Exit(1)
	}
}
