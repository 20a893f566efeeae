/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "fst-device.h"
#include "fst-fsp-wire.h"

G_BEGIN_DECLS

#define FST_TYPE_FSP_DEVICE (fst_fsp_device_get_type())
G_DECLARE_FINAL_TYPE(FstFspDevice, fst_fsp_device, FST, FSP_DEVICE, FstDevice)

/* the base answer time in ms, before wire time and command time are added */
#define FST_FSP_DEVICE_DEFAULT_TIMEOUT_MS 1000u
/* retransmissions of one request before giving up */
#define FST_FSP_DEVICE_DEFAULT_RETRIES 3u
/* the largest CSR the station accepts from a device */
#define FST_FSP_DEVICE_CSR_MAX 8192u
/* the largest proof-of-possession signature the station accepts */
#define FST_FSP_DEVICE_SIGNATURE_MAX 1024u
/* the largest object the station reads back */
#define FST_FSP_DEVICE_OBJECT_MAX (1024u * 1024u)

/**
 * FstFspObjectInfo:
 *
 * One entry of a LIST response.
 */
typedef struct {
	guint8 id;
	guint8 flags; /* FST_FSP_OBJ_FLAG_* */
	guint32 length;
	guint32 capacity;
	guint8 sha256[FST_FSP_SHA256_SIZE];
} FstFspObjectInfo;

FstDevice *fst_fsp_device_new(FstTransport *transport);
void fst_fsp_device_set_timeout(FstFspDevice *self, guint base_timeout_ms);
void fst_fsp_device_set_retries(FstFspDevice *self, guint retries);
guint fst_fsp_device_get_retransmissions(FstFspDevice *self);
guint fst_fsp_device_get_naks(FstFspDevice *self);
gboolean fst_fsp_device_get_nak(FstFspDevice *self);
GArray *fst_fsp_device_list(FstFspDevice *self, GCancellable *cancellable, GError **error);
gboolean fst_fsp_device_erase(FstFspDevice *self,
                              FstObjectKind kind,
                              GCancellable *cancellable,
                              GError **error);

/* response parsers, public for the fuzzers: @buf is the response payload after
 * the status byte, untrusted */
gboolean fst_fsp_parse_hello(const guint8 *buf, gsize len, FstDeviceInfo *info, GError **error);
GArray *fst_fsp_parse_list(const guint8 *buf, gsize len, GError **error);

G_END_DECLS
