// Package desired manages a tenant's hybrid clients as code: a desired state, kept in a
// file that people edit by hand (YAML or JSON) and in version control, is compared with
// the tenant and applied to it, as Terraform does, with secret values never in a file.
//
//   - [State] lists the clients as they must be, each keyed by an id you choose once (a
//     GUID), so that a later run recognises its own clients; [Parse] and [Load] read a
//     file and check it as a whole, every broken rule at once with its path and line
//     ([FileError]); [Marshal] writes one.
//   - [Diff] reads the tenant and returns the [Plan]: clients to create, settings to
//     update (each old -> new), secrets to rotate (with the reason their policy finds
//     them due), managed clients to delete (only when you choose to), and those already
//     right. [Plan.WriteText] shows it to a person, [Plan.WriteJSON] to a program or a
//     later apply.
//   - [Apply] carries out a plan: it refuses one the tenant has outgrown ([ErrStale]),
//     works on many clients at once within the service's limits, hands each new secret's
//     value to your Store only, rotates due secrets with proof before the old ones are
//     retired, and reports each client's result; a partial failure is finished by
//     planning and applying again. Its [Record] of managed ids (ids only, and the
//     tenant they are of) lets the next plan of that tenant delete what a State no longer
//     lists, and nothing else; a record of another tenant is refused.
//   - [Export] describes an existing tenant as a State, so that adopting it is an export
//     followed by plans that show no change.
//
// A client's secret policy ([SecretPolicy], the rotation policy of package secrets) says
// when its secrets are rotated and how, and makes the first secret of a client Apply
// creates. A client without one is never rotated: a policy is a choice made per client.
//
// Diff, Apply and Export take the clock, and the telemetry, of the Client they are given:
// each is a span of its Config's TracerProvider (desired.Diff, desired.Apply,
// desired.Export) with the Client's operations under it, holding no name, setting or
// secret value, and Apply dates the first secrets it makes by its Config's Clock.
//
// Deleting is never implied: a plan deletes only with [PlanOptions].Delete set, and only
// clients shown to be managed: listed in State.Removed, or recorded by an earlier apply.
// A client that is neither is never planned for anything. Apply checks it again, against
// the record and removed ids it is given ([ApplyOptions].Record and Removed), whatever
// the plan says: a plan edited to delete another client is refused.
package desired
