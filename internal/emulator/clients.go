package emulator

import (
	"cmp"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Limits of API.md, "Rules and limits".
const (
	maxRedirectURIs = 10
	minLifetime     = 60
	maxLifetime     = 3600
)

// requireJSON refuses a body that is not declared JSON with 415, as an ASP.NET API
// controller does: it proves the SDK sets Content-Type.
func requireJSON(r *http.Request) (reply, bool) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err == nil && (mt == "application/json" || mt == "text/json" ||
		strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")) {
		return reply{}, true
	}
	return errReply(http.StatusUnsupportedMediaType, "The request body must be application/json."), false
}

// queryValues returns the non-blank values of a query key, matched case-insensitively
// as ASP.NET model binding does.
func queryValues(q url.Values, name string) []string {
	var out []string
	for k, vs := range q {
		if !strings.EqualFold(k, name) {
			continue
		}
		for _, v := range vs {
			if strings.TrimSpace(v) != "" {
				out = append(out, v)
			}
		}
	}
	return out
}

// pageParams reads skip (default 0) and count (default 100). A value that is not an
// integer, a negative skip or a count below 1 gives 400.
func pageParams(q url.Values) (skip, count int, rep reply, ok bool) {
	skip, count = 0, 100
	for _, p := range []struct {
		name string
		min  int
		into *int
	}{{"skip", 0, &skip}, {"count", 1, &count}} {
		vs := queryValues(q, p.name)
		if len(vs) == 0 {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(vs[0]))
		if err != nil || n < p.min {
			return 0, 0, errReply(http.StatusBadRequest, fmt.Sprintf("%s must be an integer of at least %d.", p.name, p.min)), false
		}
		*p.into = n
	}
	return skip, count, reply{}, true
}

// window returns xs[skip : skip+count], clipped, without copying.
func window[T any](xs []T, skip, count int) []T {
	if skip >= len(xs) {
		return nil
	}
	xs = xs[skip:]
	if count < len(xs) {
		xs = xs[:count]
	}
	return xs
}

func (c *client) out() clientOut {
	return clientOut{
		ID: c.id, Name: c.name, Enabled: c.enabled, AccessTokenLifetime: c.lifetime,
		Tags: slices.Clone(c.tags), RedirectUris: slices.Clone(c.redirect),
		PostLogoutRedirectUris: slices.Clone(c.logout), ClientURI: c.uri, LogoURI: c.logo,
		AllowOfflineAccess: c.offline, AllowAccessTokensViaBrowser: c.browser,
	}
}

// validate lists every broken rule of a create (creating) or update body.
func validate(in *clientIn, creating bool, pathID string) []string {
	var problems []string
	if creating {
		if in.ID != nil && *in.ID != "" && !isGUID(*in.ID) {
			problems = append(problems, fmt.Sprintf("Id %q is not a GUID.", *in.ID))
		}
	} else if in.ID != nil && *in.ID != "" && !strings.EqualFold(*in.ID, pathID) {
		problems = append(problems, "Id in the body does not match the client id of the route.")
	}
	if (creating || in.Name != nil) && (in.Name == nil || strings.TrimSpace(*in.Name) == "") {
		problems = append(problems, "Name is required.")
	}
	if (creating || in.RedirectUris != nil) && (len(in.RedirectUris) < 1 || len(in.RedirectUris) > maxRedirectURIs) {
		problems = append(problems, fmt.Sprintf("RedirectUris must have 1 to %d entries.", maxRedirectURIs))
	}
	if len(in.PostLogoutRedirectUris) > maxRedirectURIs {
		problems = append(problems, fmt.Sprintf("PostLogoutRedirectUris must have at most %d entries.", maxRedirectURIs))
	}
	for _, l := range []struct {
		name string
		uris []string
	}{{"RedirectUris", in.RedirectUris}, {"PostLogoutRedirectUris", in.PostLogoutRedirectUris}} {
		for i, u := range l.uris {
			if why := redirectProblem(u); why != "" {
				problems = append(problems, fmt.Sprintf("%s[%d] %s.", l.name, i, why))
			}
		}
	}
	if l := in.AccessTokenLifetime; l != nil && (*l < minLifetime || *l > maxLifetime) {
		problems = append(problems, fmt.Sprintf("AccessTokenLifetime must be %d to %d seconds.", minLifetime, maxLifetime))
	}
	return problems
}

// redirectProblem says why u cannot be a redirect URI, or "". A hybrid client serves
// native apps too (API.md), so the forms of RFC 8252 are accepted: private-use schemes
// (com.example.app:/oauth2redirect, myapp://callback), claimed https, loopback http with
// a port; plain http on any host too, as the service may accept it for development.
// Refused: control characters, spaces and backslashes; a scheme that breaks RFC 3986's
// syntax, that runs or shows something in the browser, that belongs to another protocol
// or that looks like http(s); http(s) without a host; a private-use URI without "/"
// after its scheme (localhost:8400/cb is a forgotten http://); user info; a port outside
// 1 to 65535. The SDK refuses the same before sending; this is written apart from it,
// so that the emulator stays free of SDK code.
func redirectProblem(u string) string {
	if strings.ContainsFunc(u, func(r rune) bool { return r < 0x20 || r == 0x7f || r == ' ' || r == '\\' }) {
		return "must not hold whitespace, control characters or a backslash"
	}
	m := uriScheme.FindStringSubmatch(u)
	if m == nil {
		return "must be an absolute URI beginning with a scheme (RFC 3986: a letter, then letters, digits, +, - or .)"
	}
	scheme := strings.ToLower(m[1])
	rest, _, _ := strings.Cut(u[len(m[0]):], "?")
	web := scheme == "http" || scheme == "https"
	if why := refusedScheme(scheme); why != "" {
		return "must not use the " + scheme + ": scheme, " + why
	}
	if !web && similarToHTTP(scheme) {
		return "must not use the " + scheme + ": scheme, which looks like http or https"
	}
	p, err := url.Parse(u)
	switch {
	case err != nil:
		return "is not a valid URI"
	case web && (p.Opaque != "" || p.Hostname() == ""):
		return "must have a host"
	case !web && (!strings.HasPrefix(rest, "/") || rest == "//"):
		return "must have a path after the scheme, starting with / (com.example.app:/callback)"
	case p.User != nil:
		return "must not hold user info"
	}
	if port := p.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n == 0 || n > 65535 {
			return "must have a port from 1 to 65535"
		}
	}
	return ""
}

// uriScheme matches the scheme of an absolute URI (RFC 3986, section 3.1).
var uriScheme = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]*):`)

// refusedScheme says why a scheme is never a redirect URI's, or "".
func refusedScheme(scheme string) string {
	switch scheme {
	case "javascript", "vbscript", "data", "blob", "file", "filesystem", "about", "view-source", "intent":
		return "which runs or shows something in the browser or on the device"
	case "ftp", "ftps", "sftp", "tftp", "ws", "wss", "ssh", "telnet", "gopher", "ldap", "ldaps", "smb", "nfs",
		"mailto", "tel", "sms", "news", "nntp", "irc", "urn":
		return "which belongs to another protocol"
	}
	return ""
}

// similarToHTTP reports whether a scheme other than http and https starts like one
// (http..., or a defanged hxxp...) or is within one edit of either (optimal string
// alignment distance: insert, delete, substitute, or swap two neighbours).
func similarToHTTP(scheme string) bool {
	if strings.HasPrefix(scheme, "http") || strings.HasPrefix(scheme, "hxxp") {
		return true
	}
	for _, target := range []string{"http", "https"} {
		if editDistance(scheme, target) <= 1 {
			return true
		}
	}
	return false
}

// editDistance is the optimal string alignment distance of a and b (Levenshtein with
// swaps of neighbours), by the textbook table: schemes are short.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// apply sets the properties present (non-null) in the body: the service's partial update.
func (c *client) apply(in *clientIn) {
	if in.Name != nil {
		c.name = *in.Name
	}
	if in.Enabled != nil {
		c.enabled = *in.Enabled
	}
	if in.AccessTokenLifetime != nil {
		c.lifetime = *in.AccessTokenLifetime
	}
	if in.Tags != nil {
		c.tags = slices.Clone(in.Tags)
	}
	if in.RedirectUris != nil {
		c.redirect = slices.Clone(in.RedirectUris)
	}
	if in.PostLogoutRedirectUris != nil {
		c.logout = slices.Clone(in.PostLogoutRedirectUris)
	}
	if in.ClientURI != nil {
		v := *in.ClientURI
		c.uri = &v
	}
	if in.LogoURI != nil {
		v := *in.LogoURI
		c.logo = &v
	}
	if in.AllowOfflineAccess != nil {
		c.offline = *in.AllowOfflineAccess
	}
	if in.AllowAccessTokensViaBrowser != nil {
		c.browser = *in.AllowAccessTokensViaBrowser
	}
}

// hasAnyTag reports whether c has one of tags (exact match); no tags means no filter.
func (c *client) hasAnyTag(tags []string) bool {
	if len(tags) == 0 {
		return true
	}
	for _, t := range tags {
		if slices.Contains(c.tags, t) {
			return true
		}
	}
	return false
}

// filter returns the hybrid clients matching the id and tag filters of a list or count, in
// creation order, and whether the ids filter applied (then skip/count are ignored). With no
// filter it returns the ordered slice itself, so a page costs only the page.
func (t *tenant) filter(q url.Values) ([]*client, bool) {
	ids, tags := queryValues(q, "id"), queryValues(q, "tag")
	if len(ids) > 0 {
		var out []*client
		for _, id := range ids {
			if c := t.clients[key(id)]; c != nil && c.hasAnyTag(tags) && !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
		slices.SortFunc(out, func(a, b *client) int { return cmp.Compare(a.seq, b.seq) })
		return out, true
	}
	if len(tags) == 0 {
		return t.order, false
	}
	var out []*client
	for _, c := range t.order {
		if c.hasAnyTag(tags) {
			out = append(out, c)
		}
	}
	return out, false
}

// handleClients serves the Hybrid Clients routes.
func (e *Emulator) handleClients(t *tenant, tgt target, r *http.Request, body []byte) reply {
	switch tgt.op {
	case OpListClients:
		skip, count, rep, ok := pageParams(r.URL.Query())
		if !ok {
			return rep
		}
		matched, byID := t.filter(r.URL.Query())
		page := matched
		if !byID {
			page = window(matched, skip, count)
		}
		out := make([]clientOut, 0, len(page))
		for _, c := range page {
			out = append(out, c.out())
		}
		return jsonReply(http.StatusOK, out).withHeader("Total-Count", strconv.Itoa(len(matched)))
	case OpCountClients:
		matched, _ := t.filter(r.URL.Query())
		return reply{status: http.StatusOK}.withHeader("Total-Count", strconv.Itoa(len(matched)))
	case OpCreateClient:
		return e.createClient(t, r, body)
	}

	c := t.clients[key(tgt.clientID)]
	if c == nil {
		return errReply(http.StatusNotFound, "The client does not exist.")
	}
	switch tgt.op {
	case OpGetClient:
		return jsonReply(http.StatusOK, c.out())
	case OpClientExists:
		return reply{status: http.StatusOK}
	case OpDeleteClient:
		delete(t.clients, key(c.id))
		t.order = slices.DeleteFunc(t.order, func(x *client) bool { return x == c })
		e.recordLocked(t, c.id, nil)
		return reply{status: http.StatusNoContent}
	}
	// OpUpdateClient
	if rep, ok := requireJSON(r); !ok {
		return rep
	}
	var in clientIn
	if err := decodeExact(body, &in); err != nil {
		return errReply(http.StatusBadRequest, "The request body is not a valid HybridClient: "+err.Error())
	}
	if problems := validate(&in, false, c.id); len(problems) > 0 {
		return errReply(http.StatusBadRequest, strings.Join(problems, " "))
	}
	c.apply(&in)
	e.changedLocked(t, c)
	return jsonReply(http.StatusOK, c.out())
}

func (e *Emulator) createClient(t *tenant, r *http.Request, body []byte) reply {
	if rep, ok := requireJSON(r); !ok {
		return rep
	}
	var in createIn
	if err := decodeExact(body, &in); err != nil {
		return errReply(http.StatusBadRequest, "The request body is not a valid HybridClientCreate: "+err.Error())
	}
	if problems := validate(&in.clientIn, true, ""); len(problems) > 0 {
		return errReply(http.StatusBadRequest, strings.Join(problems, " "))
	}
	id := ""
	if in.ID != nil {
		id = *in.ID
	}
	if id != "" && (t.clients[key(id)] != nil || t.cc[key(id)] != nil) {
		return errReply(http.StatusConflict, fmt.Sprintf("A client with id %s already exists.", id))
	}
	if e.full(t, 1) {
		return errReply(http.StatusBadRequest, fmt.Sprintf("The tenant has reached its limit of %d clients.", e.opts.MaxClients))
	}
	for id == "" || t.clients[key(id)] != nil || t.cc[key(id)] != nil {
		id = newGUID()
	}

	e.seq++
	c := &client{id: id, hybrid: true, seq: e.seq, enabled: true, lifetime: maxLifetime,
		tags: []string{}, logout: []string{}}
	c.apply(&in.clientIn)
	desc := ""
	if in.SecretDescription != nil {
		desc = *in.SecretDescription
	}
	exp := utc(in.SecretExpirationDate)
	value := c.addSecret(desc, exp)
	t.clients[key(id)] = c
	t.order = append(t.order, c)
	e.changedLocked(t, c)
	return jsonReply(http.StatusCreated, createOut{
		Secret: value, ID: c.secrets[0].id, Description: desc, ExpirationDate: timePtr(exp), Client: c.out(),
	})
}
