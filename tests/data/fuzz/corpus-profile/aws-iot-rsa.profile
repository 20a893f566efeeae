# AWS IoT device whose TLS stack does RSA only: see README.md in this folder
[profile]
name=aws-iot-rsa
description=AWS IoT Core device with an RSA-2048 key generated on the device, validating servers with Amazon Root CA 1
models=devsim-rsa;devsim-*
key-source=device-csr
key-types=rsa-2048
# a device that comes back with an active certificate is refused, its history shown
on-return=refuse

[subject]
cn={model}-{uid}
o=Fleetstation Demo

[validity]
days=3650

[burn]
append-ca=false

[trust]
endpoint=ats
include-reserved=false
include-starfield=false
