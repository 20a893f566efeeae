# Nordic nRF91 modem (nRF9160/nRF9161): see README.md in this folder
[profile]
name=nrf91
description=AWS IoT Core over an nRF91 cellular modem: the modem generates a P-256 key (AT%KEYGEN) and the credentials go to one sec_tag
models=nRF91*;nrf91*;nrf9160*;nrf9161*
key-source=device-csr
key-types=ec-p256
# a device that comes back with an active certificate is refused, its history shown
on-return=refuse

[subject]
cn={uid}
o=Fleetstation Demo

[validity]
days=3650

[signature]
digest=sha256

[extensions]
key-usage=digital-signature
ext-key-usage=client-auth

[burn]
# the modem's credential store takes PEM (AT%CMNG): type 1 the client certificate,
# type 0 the CA list the modem validates the server with; set append-ca=true to
# append the issuing CA to the client certificate (AWS IoT JITP)
format=pem
append-ca=false
objects=device-cert;trust-roots
# the sec_tag the modem's key, certificate and roots go to
sec-tag=16842753
# verified by the SHA-256 the modem reports of each credential it stored
# (AT%CMNG=1): verify=auto, the default

[trust]
endpoint=ats
# Amazon Root CA 1 (RSA) and 3 (ECC), the roots of every ATS endpoint, in one
# type 0 credential
roots=AmazonRootCA1;AmazonRootCA3
