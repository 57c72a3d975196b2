// anchorcheck: Go's verdict on trust anchors, as a Go server with ClientCAs (Cloudentity ACP's
// root_cas) reaches it. Each stdin line is a JSON case {"roots": PEM, "leaf": PEM}; each stdout
// line is {"ok": bool, "error": string, "skipped": [...]}: the roots are added one by one the way
// x509.CertPool.AppendCertsFromPEM does (a certificate that does not parse is skipped silently
// there; here it is named), then the leaf is verified with ExtKeyUsageClientAuth.
package main

import (
	"bufio"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
)

type input struct {
	Roots string `json:"roots"`
	Leaf  string `json:"leaf"`
}

type output struct {
	OK      bool     `json:"ok"`
	Error   string   `json:"error,omitempty"`
	Skipped []string `json:"skipped,omitempty"`
}

func verdict(in input) output {
	var out output
	pool := x509.NewCertPool()
	rest := []byte(in.Roots)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			out.Skipped = append(out.Skipped, err.Error())
			continue
		}
		pool.AddCert(cert)
	}
	block, _ := pem.Decode([]byte(in.Leaf))
	if block == nil {
		out.Error = "leaf: no PEM block"
		return out
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		out.Error = "leaf: " + err.Error()
		return out
	}
	_, err = leaf.Verify(x509.VerifyOptions{
		Roots:     pool,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		out.Error = err.Error()
		return out
	}
	out.OK = true
	return out
}

func main() {
	scanner := bufio.NewScanner(os.Stdin)
	scanner.Buffer(make([]byte, 1<<20), 64<<20)
	encoder := json.NewEncoder(os.Stdout)
	for scanner.Scan() {
		var in input
		if err := json.Unmarshal(scanner.Bytes(), &in); err != nil {
			encoder.Encode(output{Error: "input: " + err.Error()})
			continue
		}
		encoder.Encode(verdict(in))
	}
}
