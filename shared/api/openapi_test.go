package api

import (
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// openAPIPath is the OpenAPI document of the routes in the route table.
const openAPIPath = "../../docs/openapi.yaml"

func readOpenAPI(t *testing.T) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(openAPIPath)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s is not valid YAML: %v", openAPIPath, err)
	}
	return doc
}

// httpMethods are the operation keys of an OpenAPI path item.
var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// operation is one method of one path of the document.
type operation struct {
	method, path string
	item         map[string]any // the path item, whose parameters all its methods share
	op           map[string]any
}

// where names the operation in messages: "GET /api/users/{id}".
func (o operation) where() string { return o.method + " " + o.path }

// operations lists the operations of the document, every test's way in.
func operations(doc map[string]any) []operation {
	paths, _ := doc["paths"].(map[string]any)
	var out []operation
	for path, item := range paths {
		ops, _ := item.(map[string]any)
		for _, m := range httpMethods {
			if op, ok := ops[m].(map[string]any); ok {
				out = append(out, operation{method: strings.ToUpper(m), path: path, item: ops, op: op})
			}
		}
	}
	return out
}

// TestOpenAPICoversRoutes: every routed method and path of the API is
// documented, and every documented one is routed. The console's catch-all
// (its pages, not the API) is not part of the document.
func TestOpenAPICoversRoutes(t *testing.T) {
	doc := readOpenAPI(t)
	var documented []string
	for _, o := range operations(doc) {
		documented = append(documented, o.where())
	}
	var routed []string
	for _, r := range Routes {
		if r.Function != FunctionConsole {
			routed = append(routed, r.Method+" "+r.Pattern)
		}
	}
	for _, r := range routed {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is not in %s", r, openAPIPath)
		}
	}
	for _, d := range documented {
		if !slices.Contains(routed, d) {
			t.Errorf("%s documents %s, which is not routed", openAPIPath, d)
		}
	}
}

// parameterFields are the fields of an OpenAPI 3.1 Parameter Object; a
// stray one is usually a flow-style line split at a comma.
var parameterFields = []string{"name", "in", "description", "required", "deprecated", "allowEmptyValue",
	"style", "explode", "allowReserved", "schema", "example", "examples", "content"}

// TestOpenAPIStructure checks the document's shape: an OpenAPI 3.1
// document whose operations have unique ids and responses with status
// codes, whose path parameters are declared, and whose every $ref resolves.
func TestOpenAPIStructure(t *testing.T) {
	doc := readOpenAPI(t)
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		t.Errorf("openapi = %q, want 3.1.x", v)
	}
	info, _ := doc["info"].(map[string]any)
	if info["title"] == nil || info["version"] == nil {
		t.Errorf("info = %v, want a title and a version", info)
	}
	ids := map[string]string{}
	status := regexp.MustCompile(`^[1-5][0-9][0-9]$`)
	pathParam := regexp.MustCompile(`\{([^}]+)\}`)
	ops := operations(doc)
	if len(ops) == 0 {
		t.Fatal("no operations")
	}
	for _, o := range ops {
		op, where := o.op, o.where()
		id, _ := op["operationId"].(string)
		if id == "" {
			t.Errorf("%s has no operationId", where)
		} else if other, dup := ids[id]; dup {
			t.Errorf("%s and %s share operationId %q", where, other, id)
		}
		ids[id] = where
		responses, _ := op["responses"].(map[string]any)
		if len(responses) == 0 {
			t.Errorf("%s has no responses", where)
		}
		for code := range responses {
			if !status.MatchString(code) {
				t.Errorf("%s: response key %q is not a status code", where, code)
			}
		}
		declared := map[string]bool{}
		for _, list := range []any{o.item["parameters"], op["parameters"]} {
			params, _ := list.([]any)
			for _, p := range params {
				param, _ := resolve(doc, p).(map[string]any)
				for key := range param {
					if !slices.Contains(parameterFields, key) {
						t.Errorf("%s: parameter %v has unknown field %q", where, param["name"], key)
					}
				}
				if param["in"] == "path" {
					declared[fmt.Sprint(param["name"])] = true
				}
			}
		}
		for _, m := range pathParam.FindAllStringSubmatch(o.path, -1) {
			if !declared[m[1]] {
				t.Errorf("%s: path parameter %q is not declared", where, m[1])
			}
		}
	}
	walk(doc, "", func(at string, node map[string]any) {
		ref, ok := node["$ref"].(string)
		if !ok {
			return
		}
		if _, err := pointer(doc, ref); err != nil {
			t.Errorf("%s: $ref %q: %v", at, ref, err)
		}
	})
}

// TestOpenAPIErrorCodes: the document's ErrorCode enum is the server's
// code table, and every error example sits under its code's status.
func TestOpenAPIErrorCodes(t *testing.T) {
	doc := readOpenAPI(t)
	schema, err := pointer(doc, "#/components/schemas/ErrorCode")
	if err != nil {
		t.Fatal(err)
	}
	var enum []string
	for _, v := range schema.(map[string]any)["enum"].([]any) {
		enum = append(enum, fmt.Sprint(v))
	}
	slices.Sort(enum)
	codes := slices.Sorted(maps.Keys(ErrorStatuses()))
	if !slices.Equal(enum, codes) {
		t.Errorf("ErrorCode enum = %v,\nserver's codes = %v", enum, codes)
	}
	checked := 0
	for _, o := range operations(doc) {
		responses, _ := o.op["responses"].(map[string]any)
		for code, response := range responses {
			want, _ := strconv.Atoi(code)
			for _, example := range responseExamples(doc, response) {
				body, _ := example.(map[string]any)
				e, ok := body["error"].(map[string]any)
				if !ok {
					continue
				}
				checked++
				if got := StatusFor(fmt.Sprint(e["code"])); got != want {
					t.Errorf("%s: example code %v is status %d, documented under %d", o.where(), e["code"], got, want)
				}
			}
		}
	}
	if checked == 0 {
		t.Error("found no error examples")
	}
}

// responseExamples returns the example bodies of a response (resolving
// $refs), from both example and examples.
func responseExamples(doc map[string]any, response any) []any {
	r, _ := resolve(doc, response).(map[string]any)
	content, _ := r["content"].(map[string]any)
	var out []any
	for _, media := range content {
		m, _ := media.(map[string]any)
		if ex, ok := m["example"]; ok {
			out = append(out, ex)
		}
		examples, _ := m["examples"].(map[string]any)
		for _, ex := range examples {
			e, _ := resolve(doc, ex).(map[string]any)
			out = append(out, e["value"])
		}
	}
	return out
}

// resolve follows a {$ref} node within the document.
func resolve(doc map[string]any, node any) any {
	m, ok := node.(map[string]any)
	if !ok {
		return node
	}
	ref, ok := m["$ref"].(string)
	if !ok {
		return node
	}
	target, err := pointer(doc, ref)
	if err != nil {
		return nil
	}
	return resolve(doc, target)
}

// pointer finds a local JSON pointer reference ("#/a/b").
func pointer(doc map[string]any, ref string) (any, error) {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, fmt.Errorf("not a reference within the document")
	}
	var node any = doc
	for _, part := range strings.Split(rest, "/") {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		m, ok := node.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%q is not an object", part)
		}
		if node, ok = m[part]; !ok {
			return nil, fmt.Errorf("no %q", part)
		}
	}
	return node, nil
}

// walk calls f on every object in the document, with its location.
func walk(node any, at string, f func(at string, node map[string]any)) {
	switch n := node.(type) {
	case map[string]any:
		f(at, n)
		for k, v := range n {
			walk(v, at+"/"+k, f)
		}
	case []any:
		for i, v := range n {
			walk(v, at+"/"+strconv.Itoa(i), f)
		}
	}
}
