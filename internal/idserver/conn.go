package idserver

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"

	"github.com/ocs-go/identity"
)

// CheckResource is the hint of the errors that most often mean a wrong Resource.
const CheckResource = "check Config.Resource (OCS_RESOURCE in the examples)"

// NeverSent reports whether err shows that a request cannot have reached the server: no
// connection was opened (refused, no route, name not found) or its TLS handshake failed,
// so the request was never written.
func NeverSent(err error) bool {
	var op *net.OpError
	var dns *net.DNSError
	var cv *tls.CertificateVerificationError
	var rh tls.RecordHeaderError
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	return (errors.As(err, &op) && op.Op == "dial") || errors.As(err, &dns) ||
		errors.As(err, &cv) || errors.As(err, &rh) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci)
}

// ConnectionError is the error of a request that got no answer: it names the method and
// the path (never the query: net/http's *url.Error, whose message repeats the whole URL,
// is dropped), is Sent unless NeverSent, and then hints at the Resource.
func ConnectionError(method, path string, err error) *identity.ConnectionError {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	ce := &identity.ConnectionError{Method: method, Path: path, Sent: !NeverSent(err), Err: err}
	if !ce.Sent {
		ce.Err = fmt.Errorf("%w; %s", err, CheckResource)
	}
	return ce
}
