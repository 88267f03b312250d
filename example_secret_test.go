package identity_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/ocs-go/identity"
)

// A rotation hands the new value to the application where it reads the old one:
// ReplaceFile swaps the file's content in one step, which WriteFile refuses to do.
func ExampleSecret_ReplaceFile() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "client.secret")

	// The first secret, from hybridclients.Create.
	if err := identity.NewSecret("first-value").WriteFile(path); err != nil {
		panic(err)
	}
	// Its successor, from secrets.Rotate: WriteFile refuses, ReplaceFile replaces.
	next := identity.NewSecret("second-value")
	fmt.Println(next.WriteFile(path) != nil)
	if err := next.ReplaceFile(path); err != nil {
		panic(err)
	}

	stored, _ := os.ReadFile(path)
	fi, _ := os.Stat(path)
	fmt.Println(string(stored) == next.Reveal(), fi.Mode().Perm())
	// Output:
	// true
	// true -rw-------
}
