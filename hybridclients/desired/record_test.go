package desired

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ocs-go/identity/secrets"
)

const recordTenant = "5d8f1c2e-9a3b-4c7d-8e6f-0a1b2c3d4e5f"

// The record is written atomically with mode 0600 and reads back as written, its tenant
// and each orphan's description and expiry included; a missing record is an empty one
// (the first apply), a damaged one an error.
func TestRecordIsWrittenAtomicallyOwnerOnlyAndReadsBack(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "clients.record.json")
	got, err := ReadRecord(path)
	if err != nil || len(got.Managed)+len(got.Pending) != 0 {
		t.Fatalf("a missing record: %+v, %v", got, err)
	}
	orphan := secrets.ClientSecret{ID: 2, Description: "web app on 2026-12-04", Expiry: secrets.ExpiresAt(time.Date(2027, 12, 4, 10, 0, 0, 123456789, time.UTC))}
	never := secrets.ClientSecret{ID: 5, Description: "", Expiry: secrets.NeverExpires()}
	rec := Record{TenantID: recordTenant, Resource: "https://euno.datahub.connect.aveva.com",
		Managed: []string{idB, idA, strings.ToUpper(idA)}, Pending: []Pending{{ClientID: idC, Orphans: []secrets.ClientSecret{orphan, never}, Unclaimed: []int{3}}}}
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
	want := rec
	want.Managed = []string{idA, idB, idC}
	if diff := cmp.Diff(want, got, sameExpiry); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	for name, data := range map[string]string{
		"not JSON":         "managed: []",
		"unknown key":      `{"version": 2, "tenantId": "` + recordTenant + `", "managed": [], "secret": "x"}`,
		"wrong version":    `{"version": 3, "managed": []}`,
		"bad id":           `{"version": 2, "tenantId": "` + recordTenant + `", "managed": ["../x"]}`,
		"bad tenant":       `{"version": 2, "tenantId": "../x", "managed": []}`,
		"no tenant":        `{"version": 2, "managed": ["` + idA + `"]}`,
		"bad resource":     `{"version": 2, "tenantId": "` + recordTenant + `", "resource": "http://example.com", "managed": []}`,
		"bad secret id":    `{"version": 2, "tenantId": "` + recordTenant + `", "managed": [], "pending": [{"clientId": "` + idA + `", "orphans": [{"id": 0, "expires": "never"}]}]}`,
		"bad expiry":       `{"version": 2, "tenantId": "` + recordTenant + `", "managed": [], "pending": [{"clientId": "` + idA + `", "orphans": [{"id": 1, "expires": "soon"}]}]}`,
		"orphan of ids":    `{"version": 2, "tenantId": "` + recordTenant + `", "managed": [], "pending": [{"clientId": "` + idA + `", "orphans": [1]}]}`,
		"version 1 record": `{"version": 1, "managed": []}`,
	} {
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadRecord(path); err == nil {
			t.Errorf("%s: read without an error", name)
		}
	}
	if err := (Record{TenantID: recordTenant, Managed: []string{"x"}}).WriteFile(path); err == nil {
		t.Error("a record with a bad id was written")
	}
	if err := (Record{Managed: []string{idA}}).WriteFile(path); err == nil {
		t.Error("a record with ids and no tenant was written")
	}
	if err := rec.WriteFile(filepath.Join(dir, "no-such-dir", "r.json")); err == nil {
		t.Error("written into a missing directory")
	}
}

// A record of version 1 names no tenant, and may have been kept for several: it is
// refused, with what to do, and the secrets it names as pending, for a person to check.
func TestARecordThatNamesNoTenantIsRefusedWithHowToGoOn(t *testing.T) {
	path := filepath.Join(t.TempDir(), "clients.record.json")
	v1 := `{"version": 1, "managed": ["` + idA + `"], "pending": [{"clientId": "` + idA + `", "orphans": [1], "unclaimed": [2]}]}`
	if err := os.WriteFile(path, []byte(v1), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := ReadRecord(path)
	if err == nil {
		t.Fatal("a record of version 1 was read")
	}
	for _, want := range []string{"desired: the record " + path + ": it is of version 1, which names no tenant", "Move it aside and plan again",
		"check them yourself on the tenant it was for (client " + idA + ": secrets [1 2])"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error lacks %q: %v", want, err)
		}
	}
}
