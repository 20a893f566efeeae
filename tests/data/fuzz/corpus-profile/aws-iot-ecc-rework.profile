# Rework and rotation of AWS IoT ECC devices that come back to the line: see README.md in this folder
[profile]
name=aws-iot-ecc-rework
description=Rework / RMA: a new ECDSA P-256 certificate for a device provisioned before, written to its alternate credential slot and activated only once proven
models=devsim-ecc;devsim-*
key-source=device-csr
key-types=ec-p256
# a device with an active certificate gets a new one; the old one is superseded
# and queued for deactivation (AWS IoT UpdateCertificate INACTIVE)
on-return=reprovision
# the new key and certificate go to the slot the device is not using; the old
# slot stays intact until the new one is read back, proven and activated
credential-slots=ab

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
