package emulator

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// signingKey is the emulator's RS256 key for ID tokens. It is made on first use, not in
// New, because tests build many emulators and most never sign anything.
type signingKey struct {
	priv   *rsa.PrivateKey
	kid    string
	signer jose.Signer
	jwks   []byte // the public JSON Web Key Set, ready to serve
}

// signingKey returns the signing key, generating it once.
func (e *Emulator) signingKey() *signingKey {
	e.keyOnce.Do(func() {
		priv, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic("emulator: generating the signing key: " + err.Error()) // crypto/rand does not fail
		}
		pub := jose.JSONWebKey{Key: &priv.PublicKey, Algorithm: string(jose.RS256), Use: "sig"}
		tp, err := pub.Thumbprint(crypto.SHA256)
		if err != nil {
			panic("emulator: thumbprint of the signing key: " + err.Error())
		}
		pub.KeyID = base64.RawURLEncoding.EncodeToString(tp)
		signer, err := jose.NewSigner(
			jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: priv, KeyID: pub.KeyID}},
			(&jose.SignerOptions{}).WithType("JWT"))
		if err != nil {
			panic("emulator: making the signer: " + err.Error())
		}
		set, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{pub}})
		if err != nil {
			panic("emulator: encoding the key set: " + err.Error())
		}
		e.sigKey = &signingKey{priv: priv, kid: pub.KeyID, signer: signer, jwks: set}
	})
	return e.sigKey
}

// sign serialises claims as a signed compact JWT.
func (k *signingKey) sign(claims map[string]any) string {
	s, err := jwt.Signed(k.signer).Claims(claims).Serialize()
	if err != nil {
		panic("emulator: signing a token: " + err.Error()) // only our own claim maps get here
	}
	return s
}

// verifyHint checks an id_token_hint: signed by this emulator's key and issued by issuer.
// Expiry is not checked: OpenID Connect RP-Initiated Logout lets an expired ID token serve
// as a hint. It returns the token's audience (the client id) and subject.
func (k *signingKey) verifyHint(raw, issuer string) (clientID, subject string, err error) {
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return "", "", err
	}
	var c jwt.Claims
	if err := tok.Claims(&k.priv.PublicKey, &c); err != nil {
		return "", "", err
	}
	if c.Issuer != issuer {
		return "", "", fmt.Errorf("issuer %q is not %q", c.Issuer, issuer)
	}
	if len(c.Audience) != 1 {
		return "", "", errors.New("the token must have exactly one audience")
	}
	return c.Audience[0], c.Subject, nil
}

// halfHash is the c_hash / at_hash of OpenID Connect Core 3.3.2.11 for RS256: the
// base64url of the left half of the SHA-256 of the value.
func halfHash(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}

// unix is a time as JWT NumericDate seconds.
func unix(t time.Time) int64 { return t.Unix() }
