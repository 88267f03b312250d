package idserver_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocs-go/identity/internal/harness/srcwalk"
)

// constructorFile is the one file of the module's code that may build an *http.Client.
const constructorFile = "internal/idserver/client.go"

// TestOnlyNewClientBuildsHTTPClients fails when the module's code (tests, the fake, the
// harness and the examples aside) builds an *http.Client anywhere but in NewClient: an
// http.Client literal, new(http.Client), or go-retryablehttp's StandardClient, each of
// which would follow redirects unless told otherwise.
func TestOnlyNewClientBuildsHTTPClients(t *testing.T) {
	root := filepath.Join("..", "..")
	var found []string
	fset := token.NewFileSet()
	err := srcwalk.LibraryFiles(root, func(path, rel string) error {
		if rel == constructorFile {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		httpName := importName(f, "net/http")
		ast.Inspect(f, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.CompositeLit:
				if isHTTPClient(x.Type, httpName) {
					found = append(found, fset.Position(x.Pos()).String()+": http.Client literal")
				}
			case *ast.CallExpr:
				if id, ok := x.Fun.(*ast.Ident); ok && id.Name == "new" && len(x.Args) == 1 && isHTTPClient(x.Args[0], httpName) {
					found = append(found, fset.Position(x.Pos()).String()+": new(http.Client)")
				}
				if sel, ok := x.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "StandardClient" {
					found = append(found, fset.Position(x.Pos()).String()+": StandardClient")
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range found {
		t.Errorf("%s: build every *http.Client with idserver.NewClient (%s), which refuses redirects and takes no cookie jar", f, constructorFile)
	}
}

// importName is the name net/http goes by in f ("" when f does not import it).
func importName(f *ast.File, path string) string {
	for _, imp := range f.Imports {
		if strings.Trim(imp.Path.Value, `"`) != path {
			continue
		}
		if imp.Name != nil {
			return imp.Name.Name
		}
		return "http"
	}
	return ""
}

func isHTTPClient(e ast.Expr, httpName string) bool {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok || httpName == "" {
		return false
	}
	x, ok := sel.X.(*ast.Ident)
	return ok && x.Name == httpName && sel.Sel.Name == "Client"
}

// The guard must see what it guards against: a literal in a file it reads.
func TestGuardFindsALiteral(t *testing.T) {
	src := `package p
import web "net/http"
var a = &web.Client{}
var b = new(web.Client)
`
	f, err := parser.ParseFile(token.NewFileSet(), "p.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	name, n := importName(f, "net/http"), 0
	ast.Inspect(f, func(node ast.Node) bool {
		switch x := node.(type) {
		case *ast.CompositeLit:
			if isHTTPClient(x.Type, name) {
				n++
			}
		case *ast.CallExpr:
			if len(x.Args) == 1 && isHTTPClient(x.Args[0], name) {
				n++
			}
		}
		return true
	})
	if n != 2 {
		t.Fatalf("found %d of 2 constructions", n)
	}
}
