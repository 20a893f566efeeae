/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* a real ~500-byte certificate whose serial and public key are rewritten
 * per device, so that every DER (and its SHA-256) and every key is unique
 * at the cost of a copy: the database refuses a serial twice, and one key
 * for two devices */
typedef struct {
	guint8 *der;
	gsize len;
	gsize serial_at; /* offset of the 20 serial bytes */
	gsize key_at;    /* offset of the public EC point's X coordinate */
} FstBenchCert;

void fst_bench_cert_init(FstBenchCert *self, const gchar *cn, const gchar *o);
void fst_bench_cert_clear(FstBenchCert *self);
GBytes *fst_bench_cert_for(const FstBenchCert *self, guint64 n);
gchar *fst_bench_cert_serial(guint64 n);

G_END_DECLS
