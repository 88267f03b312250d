// Package srcwalk lists the Go files of the module's library, for the guard tests that
// read its source: every non-test .go file outside the fake service, the test harness,
// the example programs, testdata and hidden folders.
package srcwalk

import (
	"io/fs"
	"path/filepath"
	"strings"
)

// notTheLibrary are folders whose code does not ship in a user's program.
var notTheLibrary = []string{"internal/emulator", "internal/harness", "examples"}

// LibraryFiles calls visit with the path (from the working directory) and the
// slash-separated path relative to root of each library Go file under root, the module's
// root; an error of visit ends the walk.
func LibraryFiles(root string, visit func(path, rel string) error) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			for _, skip := range notTheLibrary {
				if rel == skip {
					return filepath.SkipDir
				}
			}
			if d.Name() == "testdata" || (strings.HasPrefix(d.Name(), ".") && rel != ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") {
			return nil
		}
		return visit(path, rel)
	})
}
