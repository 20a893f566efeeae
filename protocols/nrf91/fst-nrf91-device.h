/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "fst-device.h"

G_BEGIN_DECLS

#define FST_TYPE_NRF91_DEVICE (fst_nrf91_device_get_type())
G_DECLARE_FINAL_TYPE(FstNrf91Device, fst_nrf91_device, FST, NRF91_DEVICE, FstDevice)

/* the dialect name in profiles, known-devices.conf and the database */
#define FST_NRF91_DIALECT "nrf91"
/* nRF Cloud's and the nRF Connect SDK's AWS samples' default sec_tag */
#define FST_NRF91_DEFAULT_SEC_TAG 16842753u
/* the largest credential one %CMNG write stores */
#define FST_NRF91_CREDENTIAL_MAX 4096u

FstDevice *fst_nrf91_device_new(FstTransport *transport);
void fst_nrf91_device_set_timeout(FstNrf91Device *self, guint base_timeout_ms);
guint32 fst_nrf91_device_get_sec_tag(FstNrf91Device *self);

G_END_DECLS
