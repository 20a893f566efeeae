# AWS IoT device with an ECC key (the demo profile): see README.md in this folder
[profile]
name=aws-iot-ecc
description=AWS IoT Core device with an ECDSA P-256 key generated on the device
models=devsim-ecc;devsim-*
key-source=device-csr
key-types=ec-p256
# a device that comes back with an active certificate is refused, its history shown
on-return=refuse

[subject]
cn={model}-{uid}
o=Fleetstation Demo

[validity]
not-after=2049-12-31T23:59:59Z
not-after=1999-01-01T00:00:00Z

[burn]
append-ca=false

[trust]
endpoint=ats
include-reserved=false
include-starfield=false
[validity]
days=1
[validity]
