// Package apicheck holds the snapshot of the module's exported API and the test that
// keeps it true, so that every change of the public surface is a deliberate, reviewed
// change of testdata/*.api (the way Go keeps its own api/ files).
//
// After a deliberate change: go test ./internal/harness/apicheck -update, and review the diff.
package apicheck

import (
	"bytes"
	"flag"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.api from the code")

// packages are the public packages, by directory from the module root.
var packages = []string{".", "hybridclients", "hybridclients/desired", "hybridclients/hybridclientstest", "secrets"}

func TestAPISnapshot(t *testing.T) {
	for _, dir := range packages {
		name := strings.ReplaceAll(filepath.Clean(dir), "/", "_")
		if dir == "." {
			name = "identity"
		}
		t.Run(name, func(t *testing.T) {
			got := strings.Join(exported(t, filepath.Join("..", "..", "..", dir)), "\n") + "\n"
			file := filepath.Join("testdata", name+".api")
			if *update {
				if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/harness/apicheck -update)", err)
			}
			if got != string(want) {
				t.Errorf("the exported API of %s changed; if that is deliberate, run go test ./internal/harness/apicheck -update and list the change in CHANGELOG.md:\n%s",
					dir, lineDiff(string(want), got))
			}
		})
	}
}

// exported lists one line per exported declaration of the package in dir, sorted.
func exported(t *testing.T, dir string) []string {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		pkg := "pkg " + af.Name.Name + ", "
		for _, d := range af.Decls {
			for _, l := range declLines(fset, d) {
				lines = append(lines, pkg+l)
			}
		}
	}
	slices.Sort(lines)
	return slices.Compact(lines)
}

func declLines(fset *token.FileSet, d ast.Decl) []string {
	switch d := d.(type) {
	case *ast.FuncDecl:
		if !d.Name.IsExported() || (d.Recv != nil && !ast.IsExported(recvName(d.Recv))) {
			return nil
		}
		fn := *d
		fn.Doc, fn.Body = nil, nil
		if d.Recv != nil { // a receiver's name is not part of the API
			recv := *d.Recv.List[0]
			recv.Names = nil
			fn.Recv = &ast.FieldList{List: []*ast.Field{&recv}}
		}
		return []string{render(fset, &fn)}
	case *ast.GenDecl:
		var out []string
		for _, s := range d.Specs {
			switch s := s.(type) {
			case *ast.TypeSpec:
				if s.Name.IsExported() {
					out = append(out, typeLines(fset, s)...)
				}
			case *ast.ValueSpec:
				for i, n := range s.Names {
					if !n.IsExported() {
						continue
					}
					l := d.Tok.String() + " " + n.Name
					if s.Type != nil {
						l += " " + render(fset, s.Type)
					}
					if d.Tok == token.CONST && i < len(s.Values) {
						l += " = " + render(fset, s.Values[i])
					}
					out = append(out, l)
				}
			}
		}
		return out
	}
	return nil
}

func typeLines(fset *token.FileSet, s *ast.TypeSpec) []string {
	head := "type " + s.Name.Name
	if s.TypeParams != nil {
		var ps []string
		for _, f := range s.TypeParams.List {
			var names []string
			for _, n := range f.Names {
				names = append(names, n.Name)
			}
			ps = append(ps, strings.Join(names, ", ")+" "+render(fset, f.Type))
		}
		head += "[" + strings.Join(ps, ", ") + "]"
	}
	switch tt := s.Type.(type) {
	case *ast.StructType:
		out := []string{head + " struct"}
		for _, f := range tt.Fields.List {
			typ := render(fset, f.Type)
			if len(f.Names) == 0 { // embedded
				if ast.IsExported(strings.TrimLeft(typ[strings.LastIndex(typ, ".")+1:], "*")) {
					out = append(out, head+" struct, embedded "+typ)
				}
				continue
			}
			for _, n := range f.Names {
				if n.IsExported() {
					out = append(out, head+" struct, "+n.Name+" "+typ)
				}
			}
		}
		return out
	case *ast.InterfaceType:
		out := []string{head + " interface"}
		for _, m := range tt.Methods.List {
			for _, n := range m.Names {
				out = append(out, head+" interface, "+n.Name+strings.TrimPrefix(render(fset, m.Type), "func"))
			}
			if len(m.Names) == 0 {
				out = append(out, head+" interface, embedded "+render(fset, m.Type))
			}
		}
		return out
	}
	if s.Assign.IsValid() {
		return []string{head + " = " + render(fset, s.Type)}
	}
	return []string{head + " " + render(fset, s.Type)}
}

func recvName(fl *ast.FieldList) string {
	t := fl.List[0].Type
	for {
		switch x := t.(type) {
		case *ast.StarExpr:
			t = x.X
		case *ast.IndexExpr:
			t = x.X
		case *ast.IndexListExpr:
			t = x.X
		case *ast.Ident:
			return x.Name
		default:
			return ""
		}
	}
}

func render(fset *token.FileSet, n any) string {
	var b bytes.Buffer
	if err := printer.Fprint(&b, fset, n); err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// lineDiff shows the lines only in want (-) and only in got (+).
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for _, l := range w {
		if l != "" && !slices.Contains(g, l) {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range g {
		if l != "" && !slices.Contains(w, l) {
			b.WriteString("+ " + l + "\n")
		}
	}
	return b.String()
}
