# AWS IoT device whose TLS stack does RSA only: see README.md in this folder
[profile]
name=aws-iot-rsa
description=AWS IoT Core device with an RSA-2048 key generated on the device, validating servers with Amazon Root CA 1 (all four Amazon roots where they fit)
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
# every Amazon root CA the device can store, as AWS advises; if they do not all
# fit, the family it cannot validate goes first, then the reserved CA 2/4, and
# the plan event of each device says which were left out and why
include-starfield=false
