package desired

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The record is written atomically with mode 0600 and reads back as written; a missing
// record is an empty one (the first apply), a damaged one an error.
func TestRecordIsWrittenAtomicallyOwnerOnlyAndReadsBack(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "clients.record.json")
	got, err := ReadRecord(path)
	if err != nil || len(got.Managed)+len(got.Pending) != 0 {
		t.Fatalf("a missing record: %+v, %v", got, err)
	}
	rec := Record{Managed: []string{idB, idA, strings.ToUpper(idA)}, Pending: []Pending{{ClientID: idC, Orphans: []int{2}, Unclaimed: []int{3}}}}
	if err := os.WriteFile(path, []byte("an older record"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := rec.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("files left beside the record: %v", entries)
	}
	got, err = ReadRecord(path)
	if err != nil {
		t.Fatal(err)
	}
	want := Record{Managed: []string{idA, idB, idC}, Pending: rec.Pending}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	for name, data := range map[string]string{
		"not JSON":      "managed: []",
		"unknown key":   `{"version": 1, "managed": [], "secret": "x"}`,
		"wrong version": `{"version": 2, "managed": []}`,
		"bad id":        `{"version": 1, "managed": ["../x"]}`,
		"bad secret id": `{"version": 1, "managed": [], "pending": [{"clientId": "` + idA + `", "orphans": [0]}]}`,
	} {
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadRecord(path); err == nil {
			t.Errorf("%s: read without an error", name)
		}
	}
	if err := (Record{Managed: []string{"x"}}).WriteFile(path); err == nil {
		t.Error("a record with a bad id was written")
	}
	if err := rec.WriteFile(filepath.Join(dir, "no-such-dir", "r.json")); err == nil {
		t.Error("written into a missing directory")
	}
}
