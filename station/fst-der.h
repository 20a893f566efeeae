/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* a bounds-checked read cursor over DER: @p and @len are what is left */
typedef struct {
	const guint8 *p;
	gsize len;
} FstDer;

#define FST_DER_SEQUENCE 0x30
#define FST_DER_SET 0x31
#define FST_DER_INTEGER 0x02
#define FST_DER_BIT_STRING 0x03
#define FST_DER_OCTET_STRING 0x04
#define FST_DER_NULL 0x05
#define FST_DER_OID 0x06
#define FST_DER_UTF8_STRING 0x0c
#define FST_DER_UTC_TIME 0x17
#define FST_DER_GENERALIZED_TIME 0x18

gboolean fst_der_read(FstDer *cur, guint8 tag, FstDer *out, FstDer *whole);
gboolean fst_der_equal(const FstDer *der, const guint8 *data, gsize len);
gboolean fst_der_unsigned(const FstDer *in, FstDer *magnitude);
void fst_der_put(GByteArray *buf, guint8 tag, const guint8 *data, gsize len);
void fst_der_wrap(GByteArray *buf, gsize start, guint8 tag);

G_END_DECLS
