/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* the longest response the station accepts to one AT command: a %KEYGEN
 * answer is about 700 bytes, a %CMNG list a few hundred */
#define FST_NRF91_AT_RESPONSE_MAX (16u * 1024u)

/**
 * FstNrf91AtFinal:
 * @FST_NRF91_AT_INCOMPLETE: no final result code yet
 * @FST_NRF91_AT_OK: `OK`
 * @FST_NRF91_AT_ERROR: `ERROR`
 * @FST_NRF91_AT_CME_ERROR: `+CME ERROR: <n>`
 * @FST_NRF91_AT_OVERSIZE: the response passed %FST_NRF91_AT_RESPONSE_MAX
 *
 * How an AT response ended.
 */
typedef enum {
	FST_NRF91_AT_INCOMPLETE,
	FST_NRF91_AT_OK,
	FST_NRF91_AT_ERROR,
	FST_NRF91_AT_CME_ERROR,
	FST_NRF91_AT_OVERSIZE,
} FstNrf91AtFinal;

FstNrf91AtFinal fst_nrf91_at_scan(const gchar *buf, gsize len, GPtrArray **lines, gint *cme_error);
GBytes *fst_nrf91_base64url_decode(const gchar *text, gsize len, GError **error);
gchar *fst_nrf91_base64url_encode(const guint8 *data, gsize len);
gboolean fst_nrf91_at_parse_keygen(const gchar *line, GBytes **csr, GBytes **cose, GError **error);
gboolean fst_nrf91_at_parse_cmng_digest(
    const gchar *line, guint32 sec_tag, guint type, guint8 sha256[32], GError **error);
gboolean fst_nrf91_cose_sign1_parse(
    GBytes *cose, GBytes **protected_hdr, GBytes **payload, GBytes **signature, GError **error);
GBytes *fst_nrf91_cose_sig_structure(GBytes *protected_hdr, GBytes *payload);
const gchar *fst_nrf91_cme_error_to_string(gint code);

G_END_DECLS
