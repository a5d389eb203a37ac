// oidc: a minimal OpenID Connect issuer for e2e tests (discovery + JWKS over HTTPS) and a
// token minter, using only the standard library. ES256 (EC P-256) keys.
//
//	oidc serve -issuer URL -signing-key KEY.pem -tls-cert CRT -tls-key KEY [-listen :8443]
//	    serves URL/.well-known/openid-configuration and URL/keys
//	oidc token -issuer URL -signing-key KEY.pem -audience AUD -subject SUB [-ttl 1h]
//	    prints a signed JWT (ID token) on stdout
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"log"
	"math/big"
	"net/http"
	"os"
	"strings"
	"time"
)

const kid = "tcpc-e2e"

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	issuer := fs.String("issuer", "", "issuer URL (https://host[:port], no trailing slash)")
	keyFile := fs.String("signing-key", "", "EC P-256 private key (PEM, PKCS#8 or SEC1)")
	tlsCert := fs.String("tls-cert", "", "serve: TLS certificate")
	tlsKey := fs.String("tls-key", "", "serve: TLS key")
	listen := fs.String("listen", ":8443", "serve: listen address")
	aud := fs.String("audience", "", "token: aud claim")
	sub := fs.String("subject", "", "token: sub claim")
	ttl := fs.Duration("ttl", time.Hour, "token: lifetime")
	_ = fs.Parse(os.Args[2:])
	if *issuer == "" || *keyFile == "" {
		usage()
	}
	key := loadKey(*keyFile)
	switch os.Args[1] {
	case "serve":
		serve(*issuer, key, *tlsCert, *tlsKey, *listen)
	case "token":
		if *aud == "" || *sub == "" {
			usage()
		}
		fmt.Println(token(*issuer, key, *aud, *sub, *ttl))
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: oidc serve|token -issuer URL -signing-key KEY [...]")
	os.Exit(2)
}

func loadKey(path string) *ecdsa.PrivateKey {
	b, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		log.Fatalf("%s: no PEM block", path)
	}
	if k, err := x509.ParsePKCS8PrivateKey(blk.Bytes); err == nil {
		if ec, ok := k.(*ecdsa.PrivateKey); ok && ec.Curve == elliptic.P256() {
			return ec
		}
		log.Fatalf("%s: not an EC P-256 key", path)
	}
	ec, err := x509.ParseECPrivateKey(blk.Bytes)
	if err != nil {
		log.Fatalf("%s: %v", path, err)
	}
	return ec
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func coord(n *big.Int) string {
	out := make([]byte, 32)
	n.FillBytes(out)
	return b64(out)
}

func serve(issuer string, key *ecdsa.PrivateKey, cert, tkey, listen string) {
	issuer = strings.TrimRight(issuer, "/")
	discovery, _ := json.Marshal(map[string]any{
		"issuer":                                issuer,
		"jwks_uri":                              issuer + "/keys",
		"authorization_endpoint":                issuer + "/authorize",
		"response_types_supported":              []string{"id_token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"ES256"},
	})
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid,
		"x": coord(key.PublicKey.X), "y": coord(key.PublicKey.Y),
	}}})
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		log.Printf("%s %s from %s", r.Method, r.URL.Path, r.RemoteAddr)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(discovery)
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, r *http.Request) {
		log.Printf("%s %s from %s", r.Method, r.URL.Path, r.RemoteAddr)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) })
	log.Printf("serving issuer %s on %s", issuer, listen)
	log.Fatal(http.ListenAndServeTLS(listen, cert, tkey, mux))
}

func token(issuer string, key *ecdsa.PrivateKey, aud, sub string, ttl time.Duration) string {
	now := time.Now()
	hdr, _ := json.Marshal(map[string]string{"alg": "ES256", "typ": "JWT", "kid": kid})
	claims, _ := json.Marshal(map[string]any{
		"iss": strings.TrimRight(issuer, "/"), "sub": sub, "aud": aud,
		"iat": now.Add(-time.Minute).Unix(), "nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(ttl).Unix(),
	})
	signing := b64(hdr) + "." + b64(claims)
	sum := sha256.Sum256([]byte(signing))
	r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
	if err != nil {
		log.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return signing + "." + b64(sig)
}
