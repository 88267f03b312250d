package emulator

import (
	"bytes"
	"html/template"
	"net/http"
	"net/url"
	"slices"
)

// The pages of the sign-in plane. Element ids are part of the package's contract (see the
// package doc): browser tests find elements by them.
const pagesHTML = `
{{define "head"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.}} · Identity emulator</title>
<style>
body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#222}
label,select,input,button{display:block;margin:.6rem 0}select,input{width:100%;padding:.45rem;box-sizing:border-box}
button{padding:.5rem 1.2rem;display:inline-block;margin-right:.5rem}code{background:#f2f2f2;padding:0 .2rem}
.note{color:#666;font-size:.9rem}.alert{color:#a00}
</style></head><body>{{end}}

{{define "signin"}}{{template "head" "Sign in"}}
<h1 id="title">Sign in</h1>
<p>to <strong id="client-name">{{.ClientName}}</strong> (client <code id="client-id">{{.ClientID}}</code>)
in tenant <code id="tenant">{{.TenantID}}</code>.</p>
{{if .Error}}<p id="signin-error" class="alert" role="alert">{{.Error}}</p>{{end}}
<form id="signin" method="post" action="{{.Action}}">
<input type="hidden" name="request" value="{{.Request}}">
<label for="user">Test user</label>
<select id="user" name="user">{{range .Users}}
<option value="{{.Subject}}"{{if .Selected}} selected{{end}}>{{.Name}}{{if .Email}} &lt;{{.Email}}&gt;{{end}}</option>{{end}}
</select>
<label for="username">or type a user's name or email</label>
<input id="username" name="username" type="text" autocomplete="username">
<button id="submit" type="submit" name="action" value="signin">Sign in</button>
<button id="cancel" type="submit" name="action" value="cancel">Cancel</button>
</form>
<p class="note">This is the identity emulator's test sign-in page: no password is asked.</p>
</body></html>{{end}}

{{define "error"}}{{template "head" "Error"}}
<h1 id="error">Sign-in error</h1>
<p>Error: <code id="error-code">{{.Code}}</code></p>
<p id="error-description">{{.Description}}</p>
<p class="note">The identity server does not send you back to the application, because the
request does not name a client and redirect URI it can trust.</p>
</body></html>{{end}}

{{define "signedout"}}{{template "head" "Signed out"}}
<h1 id="signed-out">Signed out</h1>
{{if .Code}}<p id="logout-error" class="alert">Not sent back to the application:
<code id="error-code">{{.Code}}</code> <span id="error-description">{{.Description}}</span></p>{{end}}
<p class="note">You may close this window.</p>
</body></html>{{end}}

{{define "formpost"}}{{template "head" "Continue"}}
<form id="form-post" method="post" action="{{.Action}}">{{range .Fields}}
<input type="hidden" name="{{.Name}}" value="{{.Value}}">{{end}}
<noscript><button id="continue" type="submit">Continue</button></noscript>
</form>
<script>document.getElementById("form-post").submit()</script>
</body></html>{{end}}
`

func parsePages() *template.Template {
	return template.Must(template.New("pages").Parse(pagesHTML))
}

// page renders a template as an HTML reply.
func (e *Emulator) page(status int, name string, data any) reply {
	var b bytes.Buffer
	if err := e.pages.ExecuteTemplate(&b, name, data); err != nil {
		panic("emulator: rendering page " + name + ": " + err.Error()) // only our own templates and data
	}
	return reply{status: status, header: http.Header{}, contentType: "text/html; charset=utf-8", body: b.Bytes()}.
		withHeader("Cache-Control", "no-store").withHeader("X-Frame-Options", "DENY")
}

func (e *Emulator) errorPage(code, desc string) reply {
	return e.page(http.StatusBadRequest, "error", map[string]string{"Code": code, "Description": desc})
}

func (e *Emulator) signedOutPage(code, desc string) reply {
	return e.page(http.StatusOK, "signedout", map[string]string{"Code": code, "Description": desc})
}

func (e *Emulator) signInPage(a *authzRequest, problem string) reply {
	type option struct {
		User
		Selected bool
	}
	// login_hint (OpenID Connect Core 3.1.2.1) preselects the user it names.
	hinted := a.tenant.findUser(a.raw.Get("login_hint"))
	users := make([]option, 0, len(a.tenant.users))
	for _, u := range a.tenant.users {
		users = append(users, option{User: *u, Selected: u == hinted})
	}
	return e.page(http.StatusOK, "signin", map[string]any{
		"ClientName": a.client.name, "ClientID": a.client.id, "TenantID": a.client.tenant,
		"Error": problem, "Action": "/identity/account/login", "Request": a.raw.Encode(), "Users": users,
	})
}

func (e *Emulator) formPostPage(action string, p url.Values) reply {
	type field struct{ Name, Value string }
	var fields []field
	names := make([]string, 0, len(p))
	for k := range p {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		for _, v := range p[k] {
			fields = append(fields, field{k, v})
		}
	}
	return e.page(http.StatusOK, "formpost", map[string]any{"Action": action, "Fields": fields})
}
