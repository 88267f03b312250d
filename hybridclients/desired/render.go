package desired

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/rules"
	"github.com/ocs-go/identity/internal/validate"
	"github.com/ocs-go/identity/secrets"
)

// WriteText writes the plan for a person, as Terraform writes its plans: one block per
// client that changes ("+ create", "~ update" with each setting's old -> new value and a
// "~ rotate secret" line with the reason when its secrets are due, "- delete"), a "#"
// line for each managed client kept or forgotten, a "!" line for secrets a person should
// check (Change.Finding), the unmanaged clients when asked for, and a summary line. Unchanged
// clients are counted, not listed. No secret value is ever in it.
func (p *Plan) WriteText(w io.Writer) error {
	return rules.Prefixed(pkgName, p.writeText(w))
}

func (p *Plan) writeText(w io.Writer) error {
	if err := checkWrite(p, w); err != nil {
		return err
	}
	b := bufio.NewWriter(w)
	for _, ch := range p.Changes {
		switch ch.Action {
		case ActionCreate:
			fmt.Fprintf(b, "  + create client %s (%s)\n", strconv.Quote(ch.Name), ch.ID)
			for _, f := range ch.Fields {
				fmt.Fprintf(b, "      + %s: %s\n", f.Field, showSetting(f.New))
			}
			writeSecret(b, ch.Secret)
		case ActionUpdate:
			fmt.Fprintf(b, "  ~ update client %s (%s)\n", strconv.Quote(ch.Name), ch.ID)
			for _, f := range ch.Fields {
				fmt.Fprintf(b, "      ~ %s: %s -> %s\n", f.Field, showSetting(f.Old), showSetting(f.New))
			}
			writeSecret(b, ch.Secret)
			if ch.Finding != "" {
				fmt.Fprintf(b, "      ! secrets: %s\n", ch.Finding)
			}
		case ActionDelete:
			fmt.Fprintf(b, "  - delete client %s (%s): %s\n", strconv.Quote(ch.Name), ch.ID, ch.Why)
		case ActionKeep:
			fmt.Fprintf(b, "  # keep client %s (%s): %s; deleting it was not chosen\n", strconv.Quote(ch.Name), ch.ID, ch.Why)
		case ActionNone:
			if ch.Finding == "" {
				continue
			}
			fmt.Fprintf(b, "  ! check the secrets of client %s (%s): %s\n", strconv.Quote(ch.Name), ch.ID, ch.Finding)
		default:
			continue
		}
		b.WriteString("\n")
	}
	for _, id := range p.Forget {
		fmt.Fprintf(b, "  # forget client %s: recorded by an earlier apply, but it no longer exists\n\n", id)
	}
	for _, u := range p.Unmanaged {
		fmt.Fprintf(b, "  not managed: client %s (%s)\n", strconv.Quote(u.Name), u.ID)
	}
	if len(p.Unmanaged) > 0 {
		b.WriteString("\n")
	}
	b.WriteString(p.summary() + "\n")
	return b.Flush()
}

// summary is the last line of WriteText.
func (p *Plan) summary() string {
	unchanged := fmt.Sprintf("%d unchanged", p.Count(ActionNone))
	if n := p.Count(ActionKeep); n > 0 {
		unchanged += fmt.Sprintf(", %d kept (deleting was not chosen)", n)
	}
	var out string
	if !p.HasChanges() {
		out = "No changes: the tenant's clients match the desired state (" + unchanged + ")."
	} else {
		update := fmt.Sprintf("%d to update", p.Count(ActionUpdate))
		if n := p.rotations(); n > 0 {
			update += fmt.Sprintf(" (%d of them rotating secrets)", n)
		}
		out = fmt.Sprintf("Plan: %d to create, %s, %d to delete; %s.", p.Count(ActionCreate), update, p.Count(ActionDelete), unchanged)
	}
	switch n := p.findings(); {
	case n == 1:
		out += " The secrets of 1 client to check (!)."
	case n > 1:
		out += fmt.Sprintf(" The secrets of %d clients to check (!).", n)
	}
	return out
}

// rotations counts the changes that rotate secrets; findings those with a Finding.
func (p *Plan) rotations() int {
	return countChanges(p, func(ch Change) bool { return ch.rotation() != nil })
}

func (p *Plan) findings() int {
	return countChanges(p, func(ch Change) bool { return ch.Finding != "" })
}

func countChanges(p *Plan, f func(Change) bool) int {
	n := 0
	for _, ch := range p.Changes {
		if f(ch) {
			n++
		}
	}
	return n
}

func writeSecret(b *bufio.Writer, s *SecretChange) {
	if s == nil {
		return
	}
	for _, id := range s.Delete {
		fmt.Fprintf(b, "      - secret %d: made by an earlier apply, and nobody holds its value\n", id)
	}
	if s.Add {
		life := "one year (the default)"
		if s.Lifetime > 0 {
			life = formatDuration(s.Lifetime)
		}
		desc := "a default naming the date"
		if s.Description != "" {
			desc = strconv.Quote(s.Description)
		}
		fmt.Fprintf(b, "      + secret: new, lifetime %s, description %s; its value goes to the store only\n", life, desc)
	}
	for _, id := range s.Unclaimed {
		fmt.Fprintf(b, "      ! secret %d: may be someone else's; left as it is: check it\n", id)
	}
	if r := s.Rotate; r != nil {
		fmt.Fprintf(b, "      ~ rotate secret: %s\n", r.Reason)
	}
}

// showSetting renders a setting's value: text quoted (so no name can forge a line), lists in
// brackets, durations and bools as they are.
func showSetting(v any) string {
	switch x := v.(type) {
	case nil:
		return "(none)"
	case string:
		return strconv.Quote(x)
	case durationText:
		return string(x)
	case []string:
		q := make([]string, len(x))
		for i, s := range x {
			q[i] = strconv.Quote(s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	case []any: // a plan read back from JSON
		q := make([]string, len(x))
		for i, s := range x {
			q[i] = showSetting(s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	return fmt.Sprint(v)
}

// checkWrite refuses a nil plan or writer, which would panic.
func checkWrite(p *Plan, w io.Writer) error {
	var errs []error
	if p == nil {
		errs = append(errs, &identity.ValidationError{Field: "Plan", Rule: "must not be nil", Value: nil})
	}
	if w == nil {
		errs = append(errs, &identity.ValidationError{Field: "W", Rule: "must not be nil", Value: nil})
	}
	return errors.Join(errs...)
}

// planFile is the JSON form of a Plan.
type planFile struct {
	Version     int             `json:"version"`
	Tenant      string          `json:"tenant,omitempty"`
	Fingerprint string          `json:"fingerprint"`
	Summary     map[Action]int  `json:"summary"`
	Changes     []changeFile    `json:"changes"`
	Forget      []string        `json:"forget,omitempty"`
	Unmanaged   []unmanagedFile `json:"unmanaged,omitempty"`
}

type changeFile struct {
	Action  Action      `json:"action"`
	ID      string      `json:"id"`
	Name    string      `json:"name"`
	Why     string      `json:"why,omitempty"`
	Fields  []fieldFile `json:"fields,omitempty"`
	Secret  *secretFile `json:"secret,omitempty"`
	Finding string      `json:"finding,omitempty"`
	Current *fileClient `json:"current"`
	Desired *fileClient `json:"desired,omitempty"`
}

type fieldFile struct {
	Field string `json:"field"`
	Old   any    `json:"old"`
	New   any    `json:"new"`
}

type secretFile struct {
	Add         bool          `json:"add,omitempty"`
	Description string        `json:"description,omitempty"`
	Lifetime    duration      `json:"lifetime,omitempty"`
	Delete      []int         `json:"delete,omitempty"`
	Unclaimed   []int         `json:"unclaimed,omitempty"`
	Rotate      *rotationFile `json:"rotate,omitempty"`
}

type rotationFile struct {
	Reason  string        `json:"reason"`
	Secrets []secretEntry `json:"secrets"`
}

type unmanagedFile struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// WriteJSON writes the plan as JSON, for a program or for a later Apply (ReadPlan reads
// it back): the fingerprint, a summary (how many changes of each action), and each
// change with its fields old and new, its secrets' rotation (the reason, and the secrets
// it was decided from: ids, descriptions, expiries), its finding, and the client as read
// and as wanted. No secret value is ever in it.
func (p *Plan) WriteJSON(w io.Writer) error {
	return rules.Prefixed(pkgName, p.writeJSON(w))
}

func (p *Plan) writeJSON(w io.Writer) error {
	if err := checkWrite(p, w); err != nil {
		return err
	}
	pf := planFile{Version: Version, Tenant: p.Tenant, Fingerprint: p.Fingerprint, Forget: p.Forget,
		Summary: map[Action]int{}, Changes: make([]changeFile, len(p.Changes))}
	for _, a := range []Action{ActionCreate, ActionUpdate, ActionDelete, ActionKeep, ActionNone} {
		pf.Summary[a] = p.Count(a)
	}
	for i, ch := range p.Changes {
		cf := changeFile{Action: ch.Action, ID: ch.ID, Name: ch.Name, Why: ch.Why, Finding: ch.Finding}
		for _, f := range ch.Fields {
			cf.Fields = append(cf.Fields, fieldFile(f))
		}
		cf.Secret = ch.Secret.file()
		if ch.Current != nil {
			cf.Current = ptr(ch.Current.exact())
		}
		if ch.Desired != nil {
			cf.Desired = ptr(ch.Desired.exact())
		}
		pf.Changes[i] = cf
	}
	for _, u := range p.Unmanaged {
		pf.Unmanaged = append(pf.Unmanaged, unmanagedFile(u))
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(pf)
}

// rotation is the Rotation that r describes, with its broken rules under field.
func (r rotationFile) rotation(field string) (*Rotation, error) {
	var errs []error
	out := &Rotation{Reason: r.Reason, Secrets: make([]secrets.ClientSecret, len(r.Secrets))}
	for i, e := range r.Secrets {
		f := fmt.Sprintf("%s.Secrets[%d]", field, i)
		if e.ID <= 0 || e.ID > 1<<31-1 {
			errs = append(errs, &identity.ValidationError{Field: f + ".ID", Rule: "must be a positive 32-bit id", Value: e.ID})
		}
		exp, err := readExpiry(e.Expires)
		if err != nil {
			errs = append(errs, &identity.ValidationError{Field: f + ".Expires", Rule: err.Error(), Value: e.Expires})
		}
		out.Secrets[i] = secrets.ClientSecret{ID: e.ID, Description: e.Description, Expiry: exp}
	}
	return out, errors.Join(errs...)
}

// ReadPlan reads a plan that WriteJSON wrote. It refuses a plan that was altered since
// (its fingerprint no longer matches the clients it holds and what it does to each: an
// action, a client, a wanted setting or a secret edited), or whose wanted clients break
// a rule of State.Validate, before anything is sent.
func ReadPlan(r io.Reader) (*Plan, error) {
	p, err := readPlan(r)
	return p, rules.Prefixed(pkgName, err)
}

func readPlan(r io.Reader) (*Plan, error) {
	if r == nil {
		return nil, &identity.ValidationError{Field: "R", Rule: "must not be nil", Value: nil}
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading the plan: %w", err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("the plan is larger than %d bytes", MaxFileSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var pf planFile
	if err := dec.Decode(&pf); err != nil {
		return nil, fmt.Errorf("the plan is not a plan that WriteJSON wrote: %w", err)
	}
	if pf.Version != Version {
		return nil, fmt.Errorf("the plan has version %d; this SDK reads version %d", pf.Version, Version)
	}
	p := &Plan{Tenant: pf.Tenant, Fingerprint: pf.Fingerprint, Forget: pf.Forget}
	var errs []error
	var wanted State
	for i, cf := range pf.Changes {
		field := fmt.Sprintf("Changes[%d]", i)
		errs = append(errs, validate.GUID(field+".ID", cf.ID))
		ch := Change{Action: cf.Action, ID: cf.ID, Name: cf.Name, Why: cf.Why, Finding: cf.Finding}
		if cf.Current != nil {
			ch.Current = ptr(cf.Current.client())
		}
		switch cf.Action {
		case ActionCreate, ActionUpdate, ActionNone:
			if cf.Desired == nil || idKey(cf.Desired.ID) != idKey(cf.ID) {
				errs = append(errs, &identity.ValidationError{Field: field + ".Desired", Rule: "must be the client wanted, with the change's id", Value: nil})
				continue
			}
			ch.Desired = ptr(cf.Desired.client())
			wanted.Clients = append(wanted.Clients, *ch.Desired)
			ch.Fields = diffFields(*ch.Desired, ch.Current)
		case ActionDelete, ActionKeep:
		default:
			errs = append(errs, &identity.ValidationError{Field: field + ".Action", Rule: "must be create, update, delete, none or keep", Value: string(cf.Action)})
		}
		if s := cf.Secret; s != nil {
			ch.Secret = &SecretChange{Add: s.Add, Description: s.Description, Lifetime: time.Duration(s.Lifetime), Delete: s.Delete, Unclaimed: s.Unclaimed}
			errs = append(errs, checkSecretIDs(field+".Secret", s.Delete, s.Unclaimed)...)
			if s.Rotate != nil {
				var err error
				ch.Secret.Rotate, err = s.Rotate.rotation(field + ".Secret.Rotate")
				errs = append(errs, err)
			}
		}
		p.Changes = append(p.Changes, ch)
	}
	for i, id := range pf.Forget {
		errs = append(errs, validate.GUID(fmt.Sprintf("Forget[%d]", i), id))
	}
	for _, u := range pf.Unmanaged {
		p.Unmanaged = append(p.Unmanaged, Unmanaged(u))
	}
	errs = append(errs, wanted.validate())
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("the plan breaks rules: %w", err)
	}
	if p.fingerprint() != pf.Fingerprint {
		return nil, errors.New("the plan was altered after it was made: its fingerprint does not match the clients it holds and what it does to each; make a new plan")
	}
	return p, nil
}
