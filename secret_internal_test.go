package identity

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// failingFiles makes one step of replaceFile fail: the write (after half the value, as
// on a full disk) or the rename.
type failingFiles struct {
	failWrite, failRename bool
	err                   error
}

func (f failingFiles) writeSynced(file *os.File, value string) error {
	if f.failWrite {
		_, _ = file.WriteString(value[:len(value)/2])
		return f.err
	}
	return writeSynced(file, value)
}

func (f failingFiles) rename(from, to string) error {
	if f.failRename {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: f.err}
	}
	return os.Rename(from, to)
}

// Both halves of a replacement that fails: before the rename (the write or flush fails)
// and the rename itself. Either way the old file is untouched and no temporary file stays.
func TestReplaceFileFailureKeepsTheOldFile(t *testing.T) {
	const value = "n3w-s3cr3t-value"
	injected := errors.New("no space left on device")
	for _, c := range []struct {
		name string
		fs   failingFiles
	}{
		{"write fails before the rename", failingFiles{failWrite: true, err: injected}},
		{"rename fails", failingFiles{failRename: true, err: injected}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "client.secret")
			if err := os.WriteFile(path, []byte("old-value"), 0o640); err != nil {
				t.Fatal(err)
			}
			err := NewSecret(value).replaceFile(path, c.fs)
			if !errors.Is(err, injected) {
				t.Fatalf("err = %v, want the failure in its chain", err)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("err = %q, want it to name %s", err, path)
			}
			if strings.Contains(err.Error(), value) || strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("err = %q shows the secret", err)
			}
			got, rerr := os.ReadFile(path)
			if rerr != nil || string(got) != "old-value" {
				t.Errorf("old file = %q (err %v), want it untouched", got, rerr)
			}
			if fi, _ := os.Stat(path); fi == nil || fi.Mode().Perm() != 0o640 {
				t.Errorf("old file's mode changed: %v", fi)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 {
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Errorf("directory holds %q, want only client.secret (no temporary file)", names)
			}
		})
	}
}
