/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>
#include <openssl/x509.h>

#include "fst-device.h"

G_BEGIN_DECLS

GBytes *fst_x509_bundle_encode(GPtrArray *ders, FstCredFormat format);
gchar *fst_x509_sha256_hex(GBytes *data);
GBytes *fst_x509_get_spki(X509 *cert);

G_END_DECLS
