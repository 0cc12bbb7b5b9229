# Certificates for the secured test broker (kbatch-testkit::secure), made with the openssl CLI:
# a CA of our own, a broker certificate for "localhost" (no IP address, so 127.0.0.1 is a host
# name mismatch), an expired one, a second CA that signed nothing, and client certificates with
# a PKCS#8, a PKCS#1 (RSA) and a SEC1 (EC) key. Run in the output directory.
set -eu
ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
ca() { # name
  ec "$1.key"
  openssl req -x509 -new -key "$1.key" -sha256 -days 30 -subj "/CN=kbatch test $1" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign -out "$1.pem"
}
leaf() { # key name cn san eku
  openssl req -new -key "$1" -subj "/CN=$3" -out "$2.csr"
  printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=%s\n' "$4" "$5" > "$2.ext"
  openssl x509 -req -in "$2.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -sha256 -extfile "$2.ext" -out "$2.pem" 2>/dev/null
}
ca ca
ca other-ca
ec broker.key
leaf broker.key broker localhost DNS:localhost serverAuth
cat broker.key broker.pem ca.pem > broker-keystore.pem
# An expired certificate for localhost, signed by the same CA.
mkdir -p newcerts; : > index.txt; echo 01 > serial
cat > ca.cnf <<CNF
[ca]
default_ca = d
[d]
database = index.txt
new_certs_dir = newcerts
serial = serial
default_md = sha256
policy = p
unique_subject = no
[p]
commonName = supplied
[x]
subjectAltName = DNS:localhost
basicConstraints = CA:FALSE
extendedKeyUsage = serverAuth
CNF
openssl req -new -key broker.key -subj /CN=localhost -out expired.csr
openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in expired.csr -out expired.pem \
  -startdate 20200101000000Z -enddate 20200201000000Z -extensions x -notext 2>/dev/null
cat broker.key expired.pem ca.pem > expired-keystore.pem
# Client certificates with a key of each PEM kind.
ec client-pkcs8.key
leaf client-pkcs8.key client-pkcs8 kbatch-client DNS:kbatch-client clientAuth
openssl genrsa -traditional -out client-pkcs1.key 2048 2>/dev/null
leaf client-pkcs1.key client-pkcs1 kbatch-client DNS:kbatch-client clientAuth
openssl ecparam -name prime256v1 -genkey -noout -out client-sec1.key
leaf client-sec1.key client-sec1 kbatch-client DNS:kbatch-client clientAuth
cat client-pkcs8.key client-pkcs8.pem > client-keystore.pem
# The PKCS#8 client key encrypted (PBES2, AES-256-CBC), for ssl.key.password.
openssl pkcs8 -topk8 -v2 aes-256-cbc -in client-pkcs8.key -passout pass:key-Pa55 -out client-encrypted.key
cp client-pkcs8.pem client-encrypted.pem
# The RSA key the test's own OAuth token endpoint signs JWTs with (kbatch-testkit::oidc).
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out jwt-signing.key 2>/dev/null
