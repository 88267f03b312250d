package hybridclientstest

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ocs-go/identity"
	"github.com/ocs-go/identity/internal/emulator"
)

// renamed are the fields this package names in the SDK's words: emulator name -> ours.
var renamed = map[string]string{"AllowOfflineAccess": "AllowRefreshTokens"}

// ownOnly are fields of ours that the emulator cannot have: the Server counts connections,
// and Options.Clock reaches the emulator as its Now (the emulator never waits).
var ownOnly = map[string]bool{"Stats.Connections": true, "Options.Clock": true}

// TestMirrorsMapEveryField fills every field of one side with a non-zero value, maps it
// with the package's function, and requires every field of the other side to be set and
// every field of each side to have a counterpart: a field added to the emulator (or
// here) and not mapped fails this test.
func TestMirrorsMapEveryField(t *testing.T) {
	t.Run("Options", func(t *testing.T) {
		var o Options
		fill(t, &o)
		checkPair(t, reflect.ValueOf(o), reflect.ValueOf(o.toEmulator()))
	})
	t.Run("Fault", func(t *testing.T) {
		var f Fault
		fill(t, &f)
		checkPair(t, reflect.ValueOf(f), reflect.ValueOf(f.toEmulator()))
	})
	t.Run("User to the emulator", func(t *testing.T) {
		var u User
		fill(t, &u)
		checkPair(t, reflect.ValueOf(u), reflect.ValueOf(u.toEmulator()))
	})
	t.Run("User from the emulator", func(t *testing.T) {
		var u emulator.User
		fill(t, &u)
		checkPair(t, reflect.ValueOf(userFrom(u)), reflect.ValueOf(u))
	})
	t.Run("ClientRecord", func(t *testing.T) {
		var c emulator.ClientInfo
		fill(t, &c)
		checkPair(t, reflect.ValueOf(recordFrom(c)), reflect.ValueOf(c))
	})
	t.Run("Stats", func(t *testing.T) {
		var st emulator.Stats
		fill(t, &st)
		checkPair(t, reflect.ValueOf(statsFrom(st, 1)), reflect.ValueOf(st))
	})
	if got := (*Options)(nil).toEmulator(); !reflect.ValueOf(got).IsZero() {
		t.Errorf("nil Options map to %+v, want the emulator's defaults (the zero value)", got)
	}
}

// checkPair requires ours and theirs to have the same fields (by name, after renamed and
// ownOnly), every one of them set, and each pair holding the same value.
func checkPair(t *testing.T, ours, theirs reflect.Value) {
	t.Helper()
	name := ours.Type().Name()
	want := map[string]bool{}
	for i := range theirs.NumField() {
		f := theirs.Type().Field(i)
		n := f.Name
		if r, ok := renamed[n]; ok {
			n = r
		}
		want[n] = true
		if _, ok := ours.Type().FieldByName(n); !ok {
			t.Errorf("emulator.%s.%s has no counterpart in %s: add it and map it", theirs.Type().Name(), f.Name, name)
		} else if theirs.Field(i).IsZero() {
			t.Errorf("emulator.%s.%s is not mapped", theirs.Type().Name(), f.Name)
		} else if o, e := show(ours.FieldByName(n)), show(theirs.Field(i)); o != e {
			t.Errorf("%s.%s is %s, emulator.%s.%s is %s: mapped from the wrong field?", name, n, o, theirs.Type().Name(), f.Name, e)
		}
	}
	for i := range ours.NumField() {
		f := ours.Type().Field(i)
		if !want[f.Name] && !ownOnly[name+"."+f.Name] {
			t.Errorf("%s.%s has no counterpart in emulator.%s", name, f.Name, theirs.Type().Name())
		} else if ours.Field(i).IsZero() {
			t.Errorf("%s.%s is not mapped", name, f.Name)
		}
	}
}

// show renders a field's value to compare the two sides: a func as "func" (it cannot be
// compared), a Duration in seconds (the emulator keeps AccessTokenLifetime so).
func show(v reflect.Value) string {
	switch {
	case v.Kind() == reflect.Func:
		return "func"
	case v.Type() == reflect.TypeFor[time.Duration]():
		return fmt.Sprint(v.Interface().(time.Duration).Seconds())
	}
	return fmt.Sprint(v.Interface())
}

// fill sets every field of the struct *p to a non-zero value that differs from field to
// field, so that a mapping that swaps two fields of one type is caught.
func fill(t *testing.T, p any) {
	t.Helper()
	v := reflect.ValueOf(p).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString(fmt.Sprint("x", i))
		case reflect.Int, reflect.Int32, reflect.Int64:
			f.SetInt(int64(7 + i))
		case reflect.Float64:
			f.SetFloat(0.5 + float64(i))
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Slice:
			s := reflect.MakeSlice(f.Type(), 1, 1)
			s.Index(0).Set(nonZero(t, f.Type().Elem(), i))
			f.Set(s)
		case reflect.Map:
			m := reflect.MakeMap(f.Type())
			m.SetMapIndex(nonZero(t, f.Type().Key(), i), nonZero(t, f.Type().Elem(), i))
			f.Set(m)
		case reflect.Interface:
			if f.Type() != reflect.TypeFor[identity.Clock]() {
				t.Fatalf("fill: field %s of interface type %s: teach fill this type", v.Type().Field(i).Name, f.Type())
			}
			f.Set(reflect.ValueOf(NewClock(time.Unix(int64(i), 0))))
		case reflect.Func:
			f.Set(reflect.MakeFunc(f.Type(), func([]reflect.Value) []reflect.Value {
				return []reflect.Value{reflect.ValueOf(time.Unix(0, 0))}
			}))
		default:
			t.Fatalf("fill: field %s of kind %s: teach fill this kind", v.Type().Field(i).Name, f.Kind())
		}
	}
}

func nonZero(t *testing.T, typ reflect.Type, i int) reflect.Value {
	v := reflect.New(typ).Elem()
	switch typ.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprint("x", i))
	case reflect.Int:
		v.SetInt(int64(7 + i))
	case reflect.Interface:
		v.Set(reflect.ValueOf(fmt.Sprint("x", i)))
	default:
		t.Fatalf("nonZero: teach it %s", typ)
	}
	return v
}

// TestMirrorsConstants requires the same Op and Role constants, with the same values, here
// and in the emulator (constants cannot be listed by reflection: the sources are read).
func TestMirrorsConstants(t *testing.T) {
	ours, theirs := constants(t, "."), constants(t, filepath.Join("..", "..", "internal", "emulator"))
	for _, typ := range []string{"Op", "Role"} {
		if !slices.Equal(ours[typ], theirs[typ]) {
			t.Errorf("%s constants differ:\nhybridclientstest: %v\nemulator:          %v", typ, ours[typ], theirs[typ])
		}
	}
	for _, r := range []struct{ ours, theirs Role }{{RoleAdmin, Role(emulator.RoleAdmin)}, {RoleMember, Role(emulator.RoleMember)}, {RoleNone, Role(emulator.RoleNone)}} {
		if r.ours != r.theirs {
			t.Errorf("Role %d here is %d in the emulator", r.ours, r.theirs)
		}
	}
}

// constants lists, by type name, the "Name = value" of the typed constants of the
// package in dir (value "" for an implicit iota step), sorted.
func constants(t *testing.T, dir string) map[string][]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files in %s (%v)", dir, err)
	}
	out := map[string][]string{}
	fset := token.NewFileSet()
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, file, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range af.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			typ := ""
			for _, s := range gd.Specs {
				vs := s.(*ast.ValueSpec)
				if id, ok := vs.Type.(*ast.Ident); ok {
					typ = id.Name
				} else if vs.Type != nil || len(vs.Values) > 0 {
					typ = "" // an untyped or other constant starts here
				}
				if typ != "Op" && typ != "Role" {
					continue
				}
				for i, n := range vs.Names {
					val := ""
					if i < len(vs.Values) {
						if lit, ok := vs.Values[i].(*ast.BasicLit); ok {
							val = lit.Value
						} else {
							val = "iota + 1"
						}
					}
					out[typ] = append(out[typ], n.Name+" = "+val)
				}
			}
		}
	}
	for k := range out {
		slices.Sort(out[k])
	}
	return out
}

// TestDefaultUserIsTheFakesFirstUser: the documented constants are literals (go doc shows
// them), and must stay those of the fake's first user.
func TestDefaultUserIsTheFakesFirstUser(t *testing.T) {
	if DefaultUserName != emulator.DefaultUserName || DefaultUserEmail != emulator.DefaultUserEmail {
		t.Fatalf("DefaultUserName, DefaultUserEmail = %q, %q; the fake's first user is %q, %q",
			DefaultUserName, DefaultUserEmail, emulator.DefaultUserName, emulator.DefaultUserEmail)
	}
}
