package apicheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// Every exported function and method of identity, hybridclients, secrets and desired
// that returns an error (or a sequence of errors) puts it under its package's name with
// rules.Prefixed (or rules.PrefixedSeq), so that an error's text starts with the package
// the caller called: a new method without it fails here. The error's own methods and the
// encoders, which never fail, are not entry points.
func TestExportedErrorsAreNamedAfterTheirPackage(t *testing.T) {
	notEntryPoints := map[string]bool{"Error": true, "Unwrap": true, "Is": true, "As": true,
		"MarshalJSON": true, "MarshalText": true, "UnmarshalJSON": true, "RoundTrip": true}
	checked := 0
	for _, dir := range []string{".", "hybridclients", "secrets", "hybridclients/desired"} {
		files, err := filepath.Glob(filepath.Join("..", "..", "..", dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, file := range files {
			if strings.HasSuffix(file, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range f.Decls {
				fn, ok := d.(*ast.FuncDecl)
				if !ok || fn.Body == nil || !fn.Name.IsExported() || notEntryPoints[fn.Name.Name] || !returnsError(fn) {
					continue
				}
				if fn.Recv != nil && !ast.IsExported(receiverType(fn.Recv.List[0].Type)) {
					continue
				}
				checked++
				if !callsPrefixed(fn.Body) {
					t.Errorf("%s: %s returns an error without rules.Prefixed or rules.PrefixedSeq: its text would not start with the package's name", file, fn.Name.Name)
				}
			}
		}
	}
	if checked < 30 {
		t.Fatalf("only %d entry points found: the check looks in the wrong place", checked)
	}
}

// returnsError reports whether fn's last result is error, or a sequence of errors
// (iter.Seq2[T, error]).
func returnsError(fn *ast.FuncDecl) bool {
	rs := fn.Type.Results
	if rs == nil || len(rs.List) == 0 {
		return false
	}
	last := rs.List[len(rs.List)-1].Type
	if id, ok := last.(*ast.Ident); ok && id.Name == "error" {
		return true
	}
	if ix, ok := last.(*ast.IndexListExpr); ok {
		if id, ok := ix.Indices[len(ix.Indices)-1].(*ast.Ident); ok && id.Name == "error" {
			return true
		}
	}
	return false
}

// receiverType is the name of a method's receiver type, without pointer or type
// parameters.
func receiverType(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.StarExpr:
		return receiverType(x.X)
	case *ast.IndexExpr:
		return receiverType(x.X)
	case *ast.IndexListExpr:
		return receiverType(x.X)
	case *ast.Ident:
		return x.Name
	}
	return ""
}

// callsPrefixed reports whether body calls rules.Prefixed or rules.PrefixedSeq.
func callsPrefixed(body *ast.BlockStmt) bool {
	found := false
	ast.Inspect(body, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == "rules" && (sel.Sel.Name == "Prefixed" || sel.Sel.Name == "PrefixedSeq") {
				found = true
			}
		}
		return !found
	})
	return found
}
