# Root CA update for devices provisioned before: see README.md in this folder
[profile]
name=aws-iot-trust-update
description=Rewrites only the Amazon root CAs of provisioned devices, adding the reserved Root CA 2 and 4 where the device can validate them and they fit
models=devsim-*;mcu-*
job=trust-only

[trust]
endpoint=ats
include-reserved=true
include-starfield=false
