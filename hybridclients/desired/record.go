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
	"strings"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/clientinfo"
	"github.com/ocs-go/identity/internal/rules"
	"github.com/ocs-go/identity/internal/validate"
	"github.com/ocs-go/identity/secrets"
)

// Record is what applies remember of a tenant between runs: the tenant, the ids of the
// clients they manage, and the new secrets they could not settle. It holds ids (and the
// descriptions and expiries of secrets), never a secret value. Apply returns it
// (Applied.Record); keep it (WriteFile), one per tenant, and give it to the next Diff
// (PlanOptions.Record), which then may delete a managed client that the State no longer
// lists, and replaces a secret whose value was lost.
//
// A record is of one tenant: on another, the same client ids (one desired-state file
// applied to several tenants) may be clients that no apply made there, whose secrets have
// the same small ids. Diff and Apply refuse a record of another tenant than their
// Client's, and one with ids that names no tenant.
type Record struct {
	// TenantID and Resource name the tenant the record is of, as the Config of the
	// Client that applied names them (Config.TenantID; Config.Resource, where ""
	// means identity.DefaultResource). Apply sets them. Both are empty only in a record
	// with nothing in it (the first apply's), which is of any tenant.
	TenantID string
	Resource string
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
	// Orphans are secrets that apply provably made and whose value nobody holds, each
	// with the id, description and expiry it was added with: the next apply reads the
	// client's secrets again and deletes each only while all three still match (a secret
	// that no longer matches is left as it is, and its Result's Note says so).
	Orphans []secrets.ClientSecret
	// Unclaimed are secrets that may be that apply's or someone else's, or that it made
	// but could not read back to record (their description and expiry unknown): never
	// deleted; check them yourself.
	Unclaimed []int
}

// recordVersion is the version of the record file WriteFile writes and ReadRecord reads.
// Version 1 named no tenant, and its orphans had ids only.
const recordVersion = 2

// recordFile is the file's form of a Record.
type recordFile struct {
	Version  int           `json:"version"`
	TenantID string        `json:"tenantId"`
	Resource string        `json:"resource"`
	Managed  []string      `json:"managed"`
	Pending  []pendingFile `json:"pending,omitempty"`
}

type pendingFile struct {
	ClientID  string        `json:"clientId"`
	Orphans   []secretEntry `json:"orphans,omitempty"`
	Unclaimed []int         `json:"unclaimed,omitempty"`
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
	var head struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return Record{}, fmt.Errorf("the record %s is not a record of managed ids: %w", path, err)
	}
	switch head.Version {
	case recordVersion:
	case 1:
		return Record{}, fmt.Errorf("the record %s: %w", path, olderRecord(data))
	default:
		return Record{}, fmt.Errorf("the record %s has version %d; this SDK reads version %d", path, head.Version, recordVersion)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var rf recordFile
	if err := dec.Decode(&rf); err != nil {
		return Record{}, fmt.Errorf("the record %s is not a record of managed ids: %w", path, err)
	}
	r := Record{TenantID: rf.TenantID, Resource: rf.Resource, Managed: rf.Managed}
	var errs []error
	for i, p := range rf.Pending {
		pd := Pending{ClientID: p.ClientID, Unclaimed: p.Unclaimed}
		for j, o := range p.Orphans {
			exp, err := readExpiry(o.Expires)
			if err != nil {
				errs = append(errs, &identity.ValidationError{Field: fmt.Sprintf("pending[%d].orphans[%d].expires", i, j), Rule: err.Error(), Value: o.Expires})
			}
			pd.Orphans = append(pd.Orphans, secrets.ClientSecret{ID: o.ID, Description: o.Description, Expiry: exp})
		}
		r.Pending = append(r.Pending, pd)
	}
	if err := errors.Join(append(errs, r.validate("Record"))...); err != nil {
		return Record{}, fmt.Errorf("the record %s: %w", path, err)
	}
	return r, nil
}

// olderRecord is the error of a record of version 1, which names no tenant: what it names,
// and how to go on.
func olderRecord(data []byte) error {
	var v1 struct {
		Pending []struct {
			ClientID  string `json:"clientId"`
			Orphans   []int  `json:"orphans"`
			Unclaimed []int  `json:"unclaimed"`
		} `json:"pending"`
	}
	_ = json.Unmarshal(data, &v1) // what it names of pending secrets, as far as it can be read
	var left []string
	for _, p := range v1.Pending {
		if ids := slices.Concat(p.Orphans, p.Unclaimed); len(ids) > 0 && validate.GUID("", p.ClientID) == nil {
			left = append(left, fmt.Sprintf("client %s: secrets %v", p.ClientID, ids))
		}
	}
	msg := "it is of version 1, which names no tenant, and it may have been kept for several (one desired-state file applied to each, " +
		"whose clients have the same ids), so it is used for none. Move it aside and plan again: the clients it names are not managed " +
		"until an apply brings them to the desired state (list them with PlanOptions.Unmanaged, and under removed those to delete)"
	if len(left) > 0 {
		msg += "; it names secrets whose value an apply lost, which no apply will delete now: check them yourself on the tenant it was for (" +
			strings.Join(left, "; ") + ")"
	}
	return errors.New(msg)
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
	rf := recordFile{Version: recordVersion, TenantID: r.TenantID, Resource: r.Resource, Managed: r.ids()}
	for _, p := range r.sortedPending() {
		rf.Pending = append(rf.Pending, pendingFile{ClientID: p.ClientID, Orphans: canonicalSecrets(p.Orphans), Unclaimed: p.Unclaimed})
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

// validate checks the tenant and the ids, with fields under prefix.
func (r Record) validate(prefix string) error {
	var errs []error
	switch {
	case r.TenantID != "":
		if err := validate.GUID(prefix+".TenantID", r.TenantID); err != nil {
			errs = append(errs, err)
		}
	case len(r.Managed)+len(r.Pending) > 0:
		errs = append(errs, &identity.ValidationError{Field: prefix + ".TenantID", Rule: "must name the tenant the record is of (as Apply sets it): " +
			"a record's ids mean nothing on another tenant, so one that names none is used for none", Value: ""})
	}
	if r.Resource != "" {
		if _, p := rules.ResourceURL(r.Resource); p != nil {
			errs = append(errs, &identity.ValidationError{Field: prefix + ".Resource", Rule: p.Rule, Value: p.Value})
		}
	}
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
		errs = append(errs, checkSecretIDs(field, secretIDs(p.Orphans), p.Unclaimed)...)
	}
	return joinBounded(errs)
}

// checkSecretIDs refuses, as field, secret ids that are not positive 32-bit numbers.
func checkSecretIDs(field string, lists ...[]int) []error {
	var errs []error
	for _, n := range slices.Concat(lists...) {
		if n <= 0 || n > 1<<31-1 {
			errs = append(errs, &identity.ValidationError{Field: field, Rule: "must name secrets by positive 32-bit ids", Value: n})
		}
	}
	return errs
}

// checkTenant refuses, as field, a record of another tenant than the one info's Client
// calls. A record that names no tenant is refused by validate when it holds ids; a Client
// that names none (nil, zero) is refused by the caller.
func (r Record) checkTenant(field string, info clientinfo.Info) error {
	if r.TenantID == "" || info.TenantID == "" || (idKey(r.TenantID) == idKey(info.TenantID) && resourceKey(r.Resource) == resourceKey(info.Resource)) {
		return nil
	}
	return &identity.ValidationError{Field: field,
		Rule: fmt.Sprintf("must be of the Client's tenant (%s): the record was made for another; keep one record per tenant, "+
			"as its ids mean nothing on another, where the same client ids may be clients no apply made, with secrets of the same ids", tenantName(info.TenantID, info.Resource)),
		Value: tenantName(r.TenantID, r.Resource)}
}

// withTenant returns r naming the tenant info's Client calls.
func (r Record) withTenant(info clientinfo.Info) Record {
	r.TenantID, r.Resource = info.TenantID, resourceKey(info.Resource)
	return r
}

// tenantName names a tenant in a message: "tenant ID at RESOURCE".
func tenantName(tenantID, resource string) string {
	return "tenant " + tenantID + " at " + resourceKey(resource)
}

// resourceKey is a resource as a record compares and keeps it: its base URL, by the rule
// of Config.Resource (DefaultResource for ""), without a trailing slash, in lower case.
func resourceKey(resource string) string {
	if u, p := rules.ResourceURL(resource); p == nil {
		return strings.ToLower(u.String())
	}
	return strings.ToLower(strings.TrimRight(resource, "/"))
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
