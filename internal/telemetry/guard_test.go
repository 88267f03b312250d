package telemetry_test

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocs-go/identity/internal/harness/srcwalk"
)

// The library imports OpenTelemetry's API only: the SDK and the exporters are the
// program's choice (tests and examples use them).
func TestLibraryImportsOnlyTheOpenTelemetryAPI(t *testing.T) {
	root := filepath.Join("..", "..")
	apis := 0
	err := srcwalk.LibraryFiles(root, func(path, rel string) error {
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p := strings.Trim(imp.Path.Value, `"`)
			if !strings.HasPrefix(p, "go.opentelemetry.io/") {
				continue
			}
			if strings.HasPrefix(p, "go.opentelemetry.io/otel/sdk") || strings.HasPrefix(p, "go.opentelemetry.io/otel/exporters") ||
				strings.HasPrefix(p, "go.opentelemetry.io/contrib") {
				t.Errorf("%s imports %s: the library takes OpenTelemetry's API only", rel, p)
			}
			apis++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if apis == 0 {
		t.Fatal("no library file imports OpenTelemetry: the walk saw nothing")
	}
}
