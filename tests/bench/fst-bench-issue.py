#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The same work as fst_ca_issue_from_csr() (or, in public-key mode, as
fst_ca_verify_challenge() then fst_ca_issue_for_public_key()) in a Python
`cryptography` loop, for the issuance benchmark: parse the DER CSR and check
its signature (or load the public key and check the device's signature over
the challenge), build the certificate with the profile's subject and
extensions, sign it, encode DER.
Prints `RATE <certificates per second>`; exits 77 when cryptography is missing."""
import datetime
import os
import sys
import time

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
except ImportError:
    sys.exit(77)


def main():
    ca_pem, key_pem, passphrase, input_der, seconds, mode, workdir = sys.argv[1:8]
    with open(ca_pem, "rb") as f:
        ca = x509.load_pem_x509_certificate(f.read())
    with open(key_pem, "rb") as f:
        ca_key = serialization.load_pem_private_key(f.read(), passphrase.encode())
    with open(input_der, "rb") as f:
        data = f.read()
    challenge = signature = None
    if mode != "csr":
        with open(os.path.join(workdir, "challenge.bin"), "rb") as f:
            challenge = f.read()
        with open(os.path.join(workdir, "signature.bin"), "rb") as f:
            signature = f.read()
    ca_ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    n = 0
    start = time.perf_counter()
    deadline = start + float(seconds)
    while True:
        if mode == "csr":
            csr = x509.load_der_x509_csr(data)
            if not csr.is_signature_valid:
                sys.exit("bad CSR signature")
            pub = csr.public_key()
        else:
            pub = serialization.load_der_public_key(data)
            if isinstance(pub, rsa.RSAPublicKey):
                pub.verify(signature, challenge, padding.PKCS1v15(), hashes.SHA256())
            else:
                pub.verify(signature, challenge, ec.ECDSA(hashes.SHA256()))
        now = datetime.datetime.utcnow()
        is_rsa = isinstance(pub, rsa.RSAPublicKey)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Fleet Test"),
                x509.NameAttribute(NameOID.COMMON_NAME, "test-board-B1"),
            ]))
            .issuer_name(ca.subject)
            .public_key(pub)
            .serial_number(int.from_bytes(os.urandom(20), "big") >> 1)
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, is_rsa, False, False, False, False, False,
                                         False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                           critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        cert.public_bytes(serialization.Encoding.DER)
        n += 1
        if n % 16 == 0 and time.perf_counter() >= deadline:
            break
    print("RATE %.1f" % (n / (time.perf_counter() - start)))


if __name__ == "__main__":
    main()
