# Root CA update for devices provisioned before: see README.md in this folder
[profile]
name=aws-iot-trust-update
description=Rewrites only the Amazon root CAs of provisioned devices: every ATS root that fits, as for provisioning, so devices provisioned with fewer get the rest
models=devsim-*;mcu-*
job=trust-only

[trust]
endpoint=ats
# every Amazon root CA the device can store, as AWS advises; if they do not all
# fit, the family it cannot validate goes first, then the reserved CA 2/4, and
# the plan event of each device says which were left out and why
include-starfield=false
