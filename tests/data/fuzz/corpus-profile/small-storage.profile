# AWS IoT device with little certificate storage (a few KiB of flash): see README.md in this folder
[profile]
name=small-storage
description=AWS IoT Core device with a small credential store: ECDSA P-256 key, DER certificates, no CA chain object, only Amazon Root CA 3
models=devsim-small;mcu-*
key-source=device-csr
key-types=ec-p256
# a device that comes back with an active certificate is refused, its history shown
on-return=refuse

[subject]
cn={model}-{uid}
o=Fleetstation Demo

[validity]
# AWS IoT's own certificates end here; a fixed end keeps every device of a lot alike
not-after=2049-12-31T23:59:59Z
# the demo issuing CA ends sooner: allow the device certificate to outlive it
allow-outlive-ca=true

[signature]
digest=auto

[extensions]
# the smallest certificate AWS IoT accepts: no SKI/AKI (AWS matches the issuer by name and signature)
key-usage=digital-signature
ext-key-usage=client-auth
subject-key-id=false
authority-key-id=false

[burn]
format=der
append-ca=false
# the issuing CA is registered with AWS IoT, so the device need not present it
objects=device-cert;trust-roots

[trust]
endpoint=ats
include-reserved=false
include-starfield=false
