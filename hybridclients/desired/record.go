package desired

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/rules"
	"github.com/ocs-go/identity/internal/validate"
)

// Record is what applies remember of a tenant between runs: the ids of the clients they
// manage, and the new secrets they could not settle. It holds ids only, never a secret
// value. Apply returns it (Applied.Record); keep it (WriteFile) and give it to the next
// Diff (PlanOptions.Record), which then may delete a managed client that the State no
// longer lists, and replaces a secret whose value was lost.
type Record struct {
	// Managed are the ids of the clients applies created or brought to their State.
	Managed []string
	// Pending are managed clients with a new secret that did not reach the Store.
	Pending []Pending
}

// Pending is a managed client with a new secret that an apply could not hand to the
// Store: its first secret (a create whose answer was lost and could not be settled, or a
// Store that failed and a client that could not be deleted again), or a rotation's (an
// add whose answer was lost, or a Store that failed and a secret that could not be
// deleted again). The next plan deletes the secrets nobody holds and adds a new one,
// which goes to the Store.
type Pending struct {
	// ClientID is the client's id.
	ClientID string
	// Orphans are secrets that apply provably made and whose value nobody holds: the
	// next apply deletes them.
	Orphans []int
	// Unclaimed are secrets that may be that apply's or someone else's: never deleted;
	// check them yourself.
	Unclaimed []int
}

// recordFile is the file's form of a Record.
type recordFile struct {
	Version int           `json:"version"`
	Managed []string      `json:"managed"`
	Pending []pendingFile `json:"pending,omitempty"`
}

type pendingFile struct {
	ClientID  string `json:"clientId"`
	Orphans   []int  `json:"orphans,omitempty"`
	Unclaimed []int  `json:"unclaimed,omitempty"`
}

// maxRecordSize bounds a record file: ids of 50,000 clients take about 2 MB.
const maxRecordSize = 16 << 20

// ReadRecord reads the record file at path, as WriteFile writes it. A file that does not
// exist is an empty Record: the first apply has none.
func ReadRecord(path string) (Record, error) {
	r, err := readRecord(path)
	return r, rules.Prefixed(pkgName, err)
}

func readRecord(path string) (Record, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Record{}, nil
	}
	if err != nil {
		return Record{}, fmt.Errorf("reading the record: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxRecordSize+1))
	if err != nil {
		return Record{}, fmt.Errorf("reading the record %s: %w", path, err)
	}
	if len(data) > maxRecordSize {
		return Record{}, fmt.Errorf("the record %s is larger than %d bytes", path, maxRecordSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var rf recordFile
	if err := dec.Decode(&rf); err != nil {
		return Record{}, fmt.Errorf("the record %s is not a record of managed ids: %w", path, err)
	}
	if rf.Version != Version {
		return Record{}, fmt.Errorf("the record %s has version %d; this SDK reads version %d", path, rf.Version, Version)
	}
	r := Record{Managed: rf.Managed}
	for _, p := range rf.Pending {
		r.Pending = append(r.Pending, Pending(p))
	}
	if err := r.validate("Record"); err != nil {
		return Record{}, fmt.Errorf("the record %s: %w", path, err)
	}
	return r, nil
}

// WriteFile writes the record to path as JSON, readable and writable by the owner only
// (mode 0600), atomically: a new file in the same directory, synced, then renamed over
// path, so that a crash leaves the old record or the new one, never a mix.
func (r Record) WriteFile(path string) error {
	return rules.Prefixed(pkgName, r.writeFile(path))
}

func (r Record) writeFile(path string) error {
	if err := r.validate("Record"); err != nil {
		return err
	}
	rf := recordFile{Version: Version, Managed: r.ids()}
	for _, p := range r.sortedPending() {
		rf.Pending = append(rf.Pending, pendingFile(p))
	}
	data, err := json.MarshalIndent(rf, "", "  ")
	if err != nil {
		return fmt.Errorf("writing the record: %w", err)
	}
	data = append(data, '\n')
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("writing the record: %w", err)
	}
	name := tmp.Name()
	err = tmp.Chmod(0o600)
	if err == nil {
		_, err = tmp.Write(data)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(name, path)
	}
	if err != nil {
		_ = os.Remove(name)
		return fmt.Errorf("writing the record %s: %w", path, err)
	}
	return nil
}

// validate checks the ids, with fields under prefix.
func (r Record) validate(prefix string) error {
	var errs []error
	for i, id := range r.Managed {
		if err := validate.GUID(fmt.Sprintf("%s.Managed[%d]", prefix, i), id); err != nil {
			errs = append(errs, err)
		}
	}
	for i, p := range r.Pending {
		field := fmt.Sprintf("%s.Pending[%d]", prefix, i)
		if err := validate.GUID(field+".ClientID", p.ClientID); err != nil {
			errs = append(errs, err)
		}
		for _, n := range slices.Concat(p.Orphans, p.Unclaimed) {
			if n <= 0 || n > 1<<31-1 {
				errs = append(errs, &identity.ValidationError{Field: field, Rule: "must name secrets by positive 32-bit ids", Value: n})
			}
		}
	}
	return joinBounded(errs)
}

// ids returns the managed ids and those of pending clients, once each, sorted.
func (r Record) ids() []string {
	seen := map[string]bool{}
	var out []string
	for _, id := range slices.Concat(r.Managed, r.pendingIDs()) {
		if k := idKey(id); !seen[k] {
			seen[k] = true
			out = append(out, id)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return cmp.Compare(idKey(a), idKey(b)) })
	return out
}

func (r Record) pendingIDs() []string {
	out := make([]string, len(r.Pending))
	for i, p := range r.Pending {
		out[i] = p.ClientID
	}
	return out
}

// pendingByID returns the pending clients by idKey.
func (r Record) pendingByID() map[string]Pending {
	out := make(map[string]Pending, len(r.Pending))
	for _, p := range r.Pending {
		out[idKey(p.ClientID)] = p
	}
	return out
}

func (r Record) sortedPending() []Pending {
	out := slices.Clone(r.Pending)
	slices.SortFunc(out, func(a, b Pending) int { return cmp.Compare(idKey(a.ClientID), idKey(b.ClientID)) })
	return out
}
